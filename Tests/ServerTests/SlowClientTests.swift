import Foundation
import TestSupport
import Testing

/// Clients that hold connections without completing requests, and the cap on open connections.
@Suite("slow and idle clients", .serialized)
struct SlowClientTests {
    static let healthRequest = "GET /health HTTP/1.1\r\nHost: tile\r\n\r\n"

    @Test("silent sockets, half heads, a one-byte-at-a-time head, a stalled body and an idle keep-alive are closed")
    func slowClientsAreDropped() async throws {
        let server = try ServerProcess(users: ["alice"], arguments: ["--header-timeout", "1", "--body-idle-timeout", "1"])
        defer { server.stop(); server.removeData() }
        let silent = try (0..<3).map { _ in try RawConnection(port: server.port) }
        let halfHeads = try ["GET /health HTTP/1.1\r\nHost: tile\r\n", "POST /account/login HTTP/1.1\r\nContent-Le",
                             "G", "GET /health HTTP/1.1\r\nHost: tile\r\nX-Long: \(String(repeating: "a", count: 4000))"]
            .map { part in
                let connection = try RawConnection(port: server.port)
                connection.send(part)
                return connection
            }
        let login = try RawConnection.login(port: server.port, user: "alice", password: "password-alice")
        let token = try #require(login.json["token"] as? String)
        // Bodies that stop: the head promises more than arrives.
        let stalledBodies = try ["POST /account/login HTTP/1.1\r\nHost: tile\r\nContent-Type: application/json\r\nContent-Length: 1000\r\n\r\n{\"username",
                                 "POST /upload?name=x.tif HTTP/1.1\r\nHost: tile\r\nAuthorization: Bearer \(token)\r\nTransfer-Encoding: chunked\r\n\r\n5\r\nhello\r\n",
                                 "POST /upload?name=y.tif HTTP/1.1\r\nHost: tile\r\nAuthorization: Bearer \(token)\r\nContent-Length: 100000\r\n\r\n\(String(repeating: "y", count: 5000))"]
            .map { part in
                let connection = try RawConnection(port: server.port)
                connection.send(part)
                return connection
            }
        // A complete request answered, then silence on the kept-alive connection.
        let idle = try RawConnection(port: server.port)
        idle.send(Self.healthRequest)
        #expect(try idle.readResponse().status == 200)

        // A slowloris: one byte of an endless head every 100 ms, far less than the timeout between bytes.
        let slowloris = try RawConnection(port: server.port)
        let trickle = Task.detached {
            var sent = 0
            let head = "GET /health HTTP/1.1\r\nHost: tile\r\nX-Slow: " + String(repeating: "s", count: 10_000)
            for byte in head.utf8 {
                guard slowloris.send(Data([byte])) else { break }
                sent += 1
                try? await Task.sleep(for: .milliseconds(100))
            }
            return sent
        }
        for connection in silent + halfHeads + stalledBodies + [idle, slowloris] {
            try connection.waitForClose()
        }
        let trickled = await trickle.value
        // Closed after about the header timeout, long before the head would have been complete.
        #expect(trickled < 1000)

        // The server itself is fine, and the stalled uploads left nothing behind.
        let fresh = try RawConnection(port: server.port)
        fresh.send(Self.healthRequest)
        #expect(try fresh.readResponse().status == 200)
        let uploads = try await UploadFolder(server: server, user: "alice").waitUntilEmpty()
        #expect(uploads.isEmpty, "left in the upload folder: \(uploads)")
    }

    @Test("a client that stops reading a large raster is dropped after the idle timeout; one that reads gets it all")
    func slowReader() async throws {
        let server = try ServerProcess(users: ["alice"], arguments: ["--body-idle-timeout", "1"])
        defer { server.stop(); server.removeData() }
        let alice = try await APIClient.login(server, as: "alice")
        let source = try LargeRaster.make(in: server.dataDirectory)
        let size = try #require(try FileManager.default.attributesOfItem(atPath: source)[.size] as? Int)
        #expect(size > 32 << 20, "the answer must be far larger than the socket buffers")
        #expect(try await alice.send("POST", "/upload?name=large.tif", body: try Data(contentsOf: URL(fileURLWithPath: source))).status == 200)
        let task = try await alice.send("POST", "/scheduler/tasks?type=tiling", json: [
            "target": ["type": "tileFeatureLayerTaskDataStorage", "serviceName": "alice.large", "createNewService": true,
                       "attributesConfiguration": ["attributes": [] as [Any]]],
            "files": ["large.tif"], "useCog": false, "polygonize": false,
        ])
        #expect(try await alice.waitForTask(try #require(task.object["taskId"] as? String))["status"] as? String == "Completed")
        let features = try await alice.send("GET", "/layers/alice.large/features").object["features"] as? [[String: Any]]
        let id = try #require(features?.first?["id"] as? String)
        let route = "/layers/alice.large/features/\(id)/raster"

        let reader = try RawConnection(port: server.port)
        reader.send("GET \(route) HTTP/1.1\r\nHost: tile\r\nAuthorization: Bearer \(try #require(alice.token))\r\n\r\n")
        // Nothing is read from the socket; the server's end is watched in the kernel's table.
        #expect(!reader.serverHasClosed(serverPort: server.port))
        let deadline = Date().addingTimeInterval(60)
        while !reader.serverHasClosed(serverPort: server.port), Date() < deadline {
            try await Task.sleep(for: .milliseconds(100))
        }
        #expect(reader.serverHasClosed(serverPort: server.port))
        reader.close()
        let whole = try await alice.send("GET", route)
        #expect(whole.status == 200 && whole.data.count == size)
    }

    @Test("/health answers while 300 silent, half-head and stalled-body sockets are open")
    func healthWithManyOpenSockets() async throws {
        // All from one address: its own cap is raised past the sockets opened here.
        let server = try ServerProcess(users: [], arguments: ["--header-timeout", "300", "--body-idle-timeout", "300",
                                                              "--max-connections-per-address", "1024"])
        defer { server.stop(); server.removeData() }
        let starts = ["", "GET /health HTTP/1.1\r\nHost: tile\r\nX-Pad: aaaa",
                      "POST /account/login HTTP/1.1\r\nHost: tile\r\nContent-Length: 500\r\n\r\n{\"user"]
        let sockets = try (0..<300).map { index in
            let connection = try RawConnection(port: server.port)
            connection.send(starts[index % starts.count])
            return connection
        }
        let probe = try RawConnection(port: server.port)
        probe.send(Self.healthRequest)
        #expect(try probe.readResponse().status == 200)
        let health = try await APIClient(baseURL: server.baseURL).send("GET", "/health")
        #expect(health.status == 200)
        let stillOpen = sockets.filter(\.isOpen).count
        #expect(stillOpen == sockets.count)
    }

    @Test("started with an open-file soft limit of 64, the server raises it to the hard limit and serves 250 sockets")
    func fileDescriptorLimit() async throws {
        let directory = TemporaryDirectory("fd-limit")
        defer { directory.remove() }
        let process = Process()
        process.executableURL = URL(fileURLWithPath: "/bin/sh")
        process.arguments = ["-c", "ulimit -Sn 64 && exec \"$0\" serve --data-dir \"$1\" --port 0 --header-timeout 300 --max-connections-per-address 1024",
                             TileBinary.path, directory.path]
        let output = Pipe()
        process.standardOutput = output
        process.standardError = FileHandle(forWritingAtPath: "/dev/null")
        try process.run()
        defer { process.terminate(); process.waitUntilExit() }
        var line = Data()
        while !line.contains(UInt8(ascii: "\n")) {
            let chunk = output.fileHandleForReading.availableData
            try #require(!chunk.isEmpty, "the server exited before listening")
            line.append(chunk)
        }
        let port = try #require(Int(String(decoding: line, as: UTF8.self).trimmingCharacters(in: .whitespacesAndNewlines)
            .split(separator: ":").last ?? ""))

        let limits = try String(contentsOfFile: "/proc/\(process.processIdentifier)/limits", encoding: .utf8)
        let openFiles = try #require(limits.split(separator: "\n").first { $0.hasPrefix("Max open files") })
        let values = openFiles.split(separator: " ").compactMap { Int($0) }
        #expect(values.count == 2 && values[0] == values[1] && values[0] > 64, "\(openFiles)")

        let sockets = try (0..<250).map { _ in try RawConnection(port: port) }
        let probe = try RawConnection(port: port)
        probe.send(Self.healthRequest)
        #expect(try probe.readResponse().status == 200)
        let stillOpen = sockets.filter(\.isOpen).count
        #expect(stillOpen == sockets.count)
    }

    @Test("past --max-connections new connections are closed at once; a freed slot serves again")
    func connectionCap() async throws {
        let cap = 20
        let server = try ServerProcess(users: [], arguments: ["--max-connections", "\(cap)", "--header-timeout", "300"])
        defer { server.stop(); server.removeData() }
        // Each connection is known to hold a slot once it has been answered; kept alive, it keeps it.
        var held: [RawConnection] = []
        for _ in 0..<cap {
            let connection = try RawConnection(port: server.port)
            connection.send(Self.healthRequest)
            #expect(try connection.readResponse().status == 200)
            held.append(connection)
        }
        for _ in 0..<5 {
            let refused = try RawConnection(port: server.port)
            refused.send(Self.healthRequest)
            let received = try refused.waitForClose()
            #expect(received.isEmpty, "a connection past the cap was answered")
        }
        // The held connections still work.
        held[0].send(Self.healthRequest)
        #expect(try held[0].readResponse().status == 200)

        // Free one slot; once the server has seen it close, a new connection is served.
        held.removeLast().close()
        var answered = false
        for _ in 0..<100 where !answered {
            let connection = try RawConnection(port: server.port)
            connection.send(Self.healthRequest)
            answered = (try? connection.readResponse(seconds: 5))?.status == 200
            if !answered { try await Task.sleep(for: .milliseconds(100)) }
        }
        #expect(answered)
    }
}
