import Foundation
import TestSupport
import Testing

/// Failed logins are throttled per user name (5 in 15 minutes) and per client address (20 in 15 minutes).
/// Clients come from different loopback addresses (127.0.0.X) to tell the two apart.
@Suite("login throttling", .serialized)
struct LoginThrottleTests {
    static func isThrottled(_ reply: RawConnection.Response) -> Bool {
        guard reply.status == 429, reply.json["error"] as? String == "too_many_requests",
              let seconds = reply.headers["retry-after"].flatMap(Int.init) else { return false }
        return (1...15 * 60).contains(seconds)
    }

    @Test("per user name: after 5 failures even the right password is 429 with Retry-After; unknown names alike")
    func perUser() async throws {
        let server = try ServerProcess(users: ["alice", "bob"])
        defer { server.stop(); server.removeData() }
        // Each failure from another address, so that only the per-name count can be what refuses.
        for attempt in 1...5 {
            let wrong = try RawConnection.login(port: server.port, user: "alice", password: "wrong-\(attempt)", from: "127.0.0.\(10 + attempt)")
            #expect(wrong.status == 401)
            let unknown = try RawConnection.login(port: server.port, user: "mallory", password: "wrong-\(attempt)", from: "127.0.0.\(20 + attempt)")
            #expect(unknown.status == 401)
        }
        let right = try RawConnection.login(port: server.port, user: "alice", password: "password-alice", from: "127.0.0.30")
        #expect(Self.isThrottled(right), "\(right.status) \(right.headers)")
        #expect(right.json["token"] == nil)
        let unknown = try RawConnection.login(port: server.port, user: "mallory", password: "password-alice", from: "127.0.0.31")
        #expect(Self.isThrottled(unknown))
        // The same answer whether or not the user exists (the seconds left may differ by one).
        #expect(unknown.json["error"] as? String == right.json["error"] as? String)
        #expect(Set([right, unknown].map { ($0.json["message"] as? String ?? "").filter { !$0.isNumber } }).count == 1)
        // Other names are not affected, from any address.
        #expect(try RawConnection.login(port: server.port, user: "bob", password: "password-bob", from: "127.0.0.11").status == 200)
        #expect(try RawConnection.login(port: server.port, user: "bob", password: "password-bob").status == 200)
    }

    @Test("per address: 20 failures over many names refuse everyone from that address, and only from it")
    func perAddress() async throws {
        let server = try ServerProcess(users: ["alice", "bob"])
        defer { server.stop(); server.removeData() }
        let attacker = "127.0.0.2"
        for attempt in 1...20 {
            let reply = try RawConnection.login(port: server.port, user: "guess\(attempt)", password: "wrong", from: attacker)
            #expect(reply.status == 401, "attempt \(attempt)")
        }
        let fromAttacker = try RawConnection.login(port: server.port, user: "bob", password: "password-bob", from: attacker)
        #expect(Self.isThrottled(fromAttacker), "\(fromAttacker.status)")
        // X-Forwarded-For is not believed: neither to escape the limit nor to impose it on someone else.
        let forged = try RawConnection.login(port: server.port, user: "bob", password: "password-bob", from: attacker,
                                             headers: ["X-Forwarded-For": "10.1.2.3", "X-Real-IP": "10.1.2.3"])
        #expect(Self.isThrottled(forged))
        let framed = try RawConnection.login(port: server.port, user: "bob", password: "password-bob", from: "127.0.0.3",
                                             headers: ["X-Forwarded-For": attacker])
        #expect(framed.status == 200)
    }

    @Test("a successful login does not reset the address's count for other names")
    func successKeepsAddressCount() async throws {
        let server = try ServerProcess(users: ["alice", "bob"])
        defer { server.stop(); server.removeData() }
        let address = "127.0.0.4"
        for attempt in 1...19 {
            #expect(try RawConnection.login(port: server.port, user: "name\(attempt)", password: "wrong", from: address).status == 401)
        }
        // Logging in with a valid account in the middle...
        for _ in 0..<3 {
            #expect(try RawConnection.login(port: server.port, user: "bob", password: "password-bob", from: address).status == 200)
        }
        // ...leaves one failure before the address is refused.
        #expect(try RawConnection.login(port: server.port, user: "name20", password: "wrong", from: address).status == 401)
        let next = try RawConnection.login(port: server.port, user: "alice", password: "password-alice", from: address)
        #expect(Self.isThrottled(next))
    }
}

/// bcrypt compares at most 72 bytes and stops at NUL: such passwords are refused, never truncated.
@Suite("passwords", .serialized)
struct PasswordTests {
    static let seventyTwo = String(repeating: "é", count: 30) + String(repeating: "p", count: 12)  // 60 + 12 bytes

    static func addUser(_ directory: String, _ name: String, _ password: String, update: Bool = false) throws -> TileBinary.Result {
        try TileBinary.run(["users", "add", "--data-dir", directory, name, "--password-stdin"] + (update ? ["--update"] : []),
                           stdin: password + "\n")
    }

    @Test("users add and --update refuse a NUL, more than 72 bytes (UTF-8) and fewer than 8 characters")
    func commandLine() throws {
        let directory = TemporaryDirectory("passwords")
        defer { directory.remove() }
        #expect(Self.seventyTwo.utf8.count == 72)
        let refused: [(String, String)] = [
            ("pass\u{0}word-long", "NUL"),
            (Self.seventyTwo + "x", "72"),
            (String(repeating: "é", count: 37), "72"),  // 37 characters, 74 bytes
            (String(repeating: "a", count: 200), "72"),
            ("short", "8"),
        ]
        for (password, mention) in refused {
            let result = try Self.addUser(directory.path, "dora", password)
            #expect(result.status != 0 && result.stderr.contains(mention), "\(password.utf8.count) bytes: \(result.stderr)")
        }
        #expect(try TileBinary.run(["users", "list", "--data-dir", directory.path]).stdout.isEmpty)
        #expect(try Self.addUser(directory.path, "dora", Self.seventyTwo).status == 0)
        for (password, mention) in refused {
            let result = try Self.addUser(directory.path, "dora", password, update: true)
            #expect(result.status != 0 && result.stderr.contains(mention), "--update, \(password.utf8.count) bytes: \(result.stderr)")
        }
        #expect(try Self.addUser(directory.path, "dora", String(repeating: "q", count: 72), update: true).status == 0)
    }

    @Test("a 72-byte password logs in; it extended, cut short, or with a NUL inside does not")
    func login() async throws {
        let directory = TemporaryDirectory("passwords-http")
        #expect(try Self.addUser(directory.path, "dora", Self.seventyTwo).status == 0)
        let server = try ServerProcess(users: [], dataDirectory: directory.path)
        defer { server.stop(); server.removeData() }
        let anonymous = APIClient(baseURL: server.baseURL)
        func login(_ password: String) async throws -> Int {
            try await anonymous.send("POST", "/account/login", json: ["username": "dora", "password": password]).status
        }
        #expect(try await login(Self.seventyTwo) == 200)
        // Bytes past the 72nd would be ignored by bcrypt: any of these would log in if they reached it.
        // Four failures at most, so the per-name limit (5) does not get in the way.
        #expect(try await login(Self.seventyTwo + "x") == 401)
        #expect(try await login(Self.seventyTwo + "\u{0}") == 401)
        #expect(try await login(Self.seventyTwo + String(repeating: "z", count: 100)) == 401)
        #expect(try await login(String(Self.seventyTwo.dropLast())) == 401)
        #expect(try await login(Self.seventyTwo) == 200)

        // bcrypt stops at NUL: "abcdefgh\0anything" would match a password "abcdefgh" if it got through.
        #expect(try Self.addUser(directory.path, "erin", "abcdefgh").status == 0)
        #expect(try await anonymous.send("POST", "/account/login", json: ["username": "erin", "password": "abcdefgh\u{0}x"]).status == 401)
        #expect(try await anonymous.send("POST", "/account/login", json: ["username": "erin", "password": "abcdefgh"]).status == 200)
    }
}
