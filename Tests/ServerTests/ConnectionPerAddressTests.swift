import Foundation
import TestSupport
import Testing

/// One client address cannot take the whole connection cap: past `--max-connections-per-address` its
/// new connections are closed at once, while other addresses are still served.
@Suite("connections per address", .serialized)
struct ConnectionPerAddressTests {
    static let healthRequest = "GET /health HTTP/1.1\r\nHost: tile\r\n\r\n"

    @Test("half-open heads from one address fill only its share; /health stays served for other addresses")
    func oneAddressCannotTakeEverySlot() async throws {
        let perAddress = 5
        let server = try ServerProcess(users: [], arguments: [
            "--max-connections", "20", "--max-connections-per-address", "\(perAddress)", "--header-timeout", "300",
        ])
        defer { server.stop(); server.removeData() }
        let port = server.port

        // The attacker's first connections are answered and kept alive: they hold slots for sure.
        var held: [RawConnection] = []
        for _ in 0..<perAddress {
            let connection = try RawConnection(port: port, from: "127.0.0.2")
            connection.send(Self.healthRequest)
            #expect(try connection.readResponse().status == 200)
            held.append(connection)
        }
        // Then a flood of half-open heads, more than the whole cap: each is closed at once, unanswered.
        for index in 0..<30 {
            let connection = try RawConnection(port: port, from: "127.0.0.2")
            connection.send(index.isMultiple(of: 2) ? "GET /health HTTP/1.1\r\nHost: tile\r\nX-Pad: aaa" : "")
            let received = try connection.waitForClose()
            #expect(received.isEmpty, "connection \(index) past the per-address cap was answered")
        }
        // The held connections still work.
        held[0].send(Self.healthRequest)
        #expect(try held[0].readResponse().status == 200)

        // Everyone else is served: other loopback addresses, and 127.0.0.1.
        for source in ["127.0.0.3", "127.0.0.4", "127.0.0.1"] {
            let connection = try RawConnection(port: port, from: source)
            connection.send(Self.healthRequest)
            #expect(try connection.readResponse().status == 200, "\(source)")
        }
        let health = try await APIClient(baseURL: server.baseURL).send("GET", "/health")
        #expect(health.status == 200)

        // Another address may hold its own share at the same time.
        var others: [RawConnection] = []
        for _ in 0..<perAddress {
            let connection = try RawConnection(port: port, from: "127.0.0.5")
            connection.send(Self.healthRequest)
            #expect(try connection.readResponse().status == 200)
            others.append(connection)
        }
        let past = try RawConnection(port: port, from: "127.0.0.5")
        past.send(Self.healthRequest)
        #expect(try past.waitForClose().isEmpty)

        // A slot the attacker frees is its own again once the server has seen it close.
        held.removeLast().close()
        var answered = false
        for _ in 0..<100 where !answered {
            let connection = try RawConnection(port: port, from: "127.0.0.2")
            connection.send(Self.healthRequest)
            answered = (try? connection.readResponse(seconds: 5))?.status == 200
            if !answered { try await Task.sleep(for: .milliseconds(100)) }
        }
        #expect(answered)
    }
}
