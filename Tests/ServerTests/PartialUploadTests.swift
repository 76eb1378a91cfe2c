import Foundation
import TestSupport
import Testing

/// Uploads that never finish leave nothing on disk: neither when the client goes away, nor when the
/// server is killed in the middle of one.
@Suite("partial uploads", .serialized)
struct PartialUploadTests {
    /// Request heads of uploads promising more than will be sent: raw, raw chunked, multipart.
    static func heads(token: String) -> [(name: String, head: String, firstBytes: Data)] {
        let boundary = "cut-off-boundary"
        let multipartStart = "--\(boundary)\r\nContent-Disposition: form-data; name=\"file\"; filename=\"multi.tif\"\r\n"
            + "Content-Type: image/tiff\r\n\r\n"
        let auth = "Authorization: Bearer \(token)\r\n"
        return [
            ("raw.tif", "POST /upload?name=raw.tif HTTP/1.1\r\nHost: tile\r\n\(auth)Content-Length: 10000000\r\n\r\n",
             Data(repeating: 7, count: 200_000)),
            ("chunked.tif", "POST /upload?name=chunked.tif HTTP/1.1\r\nHost: tile\r\n\(auth)Transfer-Encoding: chunked\r\n\r\n",
             Data("30000\r\n".utf8) + Data(repeating: 8, count: 0x30000) + Data("\r\n".utf8)),
            ("multi.tif", "POST /upload HTTP/1.1\r\nHost: tile\r\n\(auth)Content-Type: multipart/form-data; boundary=\(boundary)\r\n"
             + "Content-Length: 10000000\r\n\r\n", Data(multipartStart.utf8) + Data(repeating: 9, count: 200_000)),
        ]
    }

    @Test("a client that drops an upload half-way leaves no temporary file and no file (raw, chunked, multipart)")
    func droppedUploads() async throws {
        let server = try ServerProcess(users: ["alice"])
        defer { server.stop(); server.removeData() }
        let alice = try await APIClient.login(server, as: "alice")
        let folder = UploadFolder(server: server, user: "alice")
        for upload in Self.heads(token: try #require(alice.token)) {
            let connection = try RawConnection(port: server.port)
            connection.send(upload.head)
            connection.send(upload.firstBytes)
            // The server has started writing the file; now the client goes away.
            #expect(try await folder.waitForUnfinishedUpload().contains { $0.hasPrefix(".upload-") }, "\(upload.name)")
            connection.close()
            let left = try await folder.waitUntilEmpty()
            #expect(left.isEmpty, "\(upload.name) left \(left)")
        }
        // Complete uploads still work afterwards.
        let complete = try await alice.send("POST", "/upload?name=whole.tif", body: Data(repeating: 1, count: 1000))
        #expect(complete.status == 200 && folder.contents == ["whole.tif"])
    }

    @Test("after kill -9 in the middle of an upload, the next start removes every user's unfinished uploads and staging folders")
    func killedMidUpload() async throws {
        let server = try ServerProcess(users: ["alice", "bob"])
        defer { server.stop(); server.removeData() }
        let alice = try await APIClient.login(server, as: "alice")
        let bob = try await APIClient.login(server, as: "bob")
        #expect(try await bob.send("POST", "/upload?name=keep.tif", body: Data(repeating: 2, count: 100)).status == 200)
        let aliceFolder = UploadFolder(server: server, user: "alice"), bobFolder = UploadFolder(server: server, user: "bob")

        // Two uploads in progress for alice (raw and multipart), and one for bob.
        var connections: [RawConnection] = []
        for upload in Self.heads(token: try #require(alice.token)) where upload.name != "chunked.tif" {
            let connection = try RawConnection(port: server.port)
            connection.send(upload.head)
            connection.send(upload.firstBytes)
            connections.append(connection)
        }
        let bobUpload = try RawConnection(port: server.port)
        bobUpload.send(Self.heads(token: try #require(bob.token))[0].head)
        bobUpload.send(Data(repeating: 3, count: 100_000))
        let deadline = Date().addingTimeInterval(30)
        while (aliceFolder.unfinishedUploads.count < 2 || bobFolder.unfinishedUploads.isEmpty) && Date() < deadline {
            try await Task.sleep(for: .milliseconds(50))
        }
        #expect(aliceFolder.unfinishedUploads.count == 2 && bobFolder.unfinishedUploads.count == 1)

        server.stop(kill: true)
        for connection in connections + [bobUpload] { connection.close() }
        // Still there after the crash: nothing ran to remove them.
        #expect(aliceFolder.unfinishedUploads.count == 2 && bobFolder.unfinishedUploads.count == 1)
        // A leftover in a folder of a user who is not logged in at all.
        try FileManager.default.createDirectory(atPath: server.dataDirectory + "/uploads/carol", withIntermediateDirectories: true)
        try Data("x".utf8).write(to: URL(fileURLWithPath: server.dataDirectory + "/uploads/carol/.upload-1234"))
        // The folder of links an import reads through, left by a process killed mid-import.
        let staging = server.dataDirectory + "/uploads/bob/.check-5678"
        try FileManager.default.createDirectory(atPath: staging, withIntermediateDirectories: true)
        try Data("x".utf8).write(to: URL(fileURLWithPath: staging + "/keep.tif"))

        // The server removes them before it listens.
        try server.start()
        #expect(aliceFolder.contents.isEmpty)
        #expect(bobFolder.contents == ["keep.tif"])
        #expect(UploadFolder(server: server, user: "carol").contents.isEmpty)
        let files = try await APIClient.login(server, as: "alice").send("GET", "/upload").object["files"] as? [Any]
        #expect(files?.isEmpty == true)
    }
}
