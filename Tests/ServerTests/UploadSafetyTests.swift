import Foundation
import TestSupport
import Testing

/// Uploaded files are GeoTIFFs read by GDAL's GTiff driver alone, with verified sidecars only; nothing
/// outside the user's upload folder is read and no network request is made.
@Suite("HTTP server: uploads are GeoTIFFs and nothing else", .serialized)
struct UploadSafetyTests {
    /// Runs a tiling task over `files` and returns (status, errors by file, items stored).
    static func tile(_ client: APIClient, _ files: [String], catalog: String,
                     extra: [String: Any] = [:]) async throws -> (String, [String: String], Int) {
        var body = ServerTests.tilingTask(files, catalog: catalog, polygonize: false)
        body.merge(extra) { _, new in new }
        let reply = try await client.send("POST", "/scheduler/tasks?type=tiling", json: body)
        let id = try #require(reply.object["taskId"] as? String, "\(reply.object)")
        let done = try await client.waitForTask(id)
        let result = done["taskResult"] as? [String: Any] ?? [:]
        let step = (result["stepResults"] as? [[String: Any]])?.first ?? [:]
        var errors: [String: String] = [:]
        for failure in step["batchErrors"] as? [[String: Any]] ?? [] {
            errors[failure["file"] as? String ?? ""] = failure["message"] as? String ?? ""
        }
        return (done["status"] as? String ?? "", errors, step["outputObjectCount"] as? Int ?? -1)
    }

    @Test("hostile uploads fail in batchErrors; nothing outside the upload folder is read; no network request")
    func hostileUploads() async throws {
        let server = try ServerProcess()
        defer { server.stop(); server.removeData() }
        let root = TemporaryDirectory("hostile-server")
        defer { root.remove() }
        let listener = try LoopbackListener()
        defer { listener.stop() }
        let inputs = try HostileRasters(folder: root.file("in"), outside: root.file("outside"), port: listener.port)
        let watch = try FolderAccessWatch(inputs.outside)
        let alice = try await APIClient.login(server, as: "alice")
        let uploads = server.dataDirectory + "/uploads/alice"
        for name in try FileManager.default.contentsOfDirectory(atPath: inputs.folder) {
            let path = inputs.folder + "/" + name
            if let target = try? FileManager.default.destinationOfSymbolicLink(atPath: path) {
                // An upload cannot make a link; someone with access to the folder can.
                try FileManager.default.createSymbolicLink(atPath: uploads + "/" + name, withDestinationPath: target)
            } else {
                #expect(try await alice.upload(path, as: name).status == 200)
            }
        }
        try FileManager.default.createSymbolicLink(atPath: uploads + "/link.tif", withDestinationPath: inputs.outsideRaster)
        #expect(watch.drain() == [])

        // A task body cannot widen the drivers: unknown fields change nothing.
        let files = inputs.cases.map(\.file) + ["link.tif"]
        let (status, errors, stored) = try await Self.tile(alice, files, catalog: "alice.hostile",
                                                           extra: ["allowedDrivers": ["VRT"], "allowDriver": "VRT"])
        #expect(status == "Completed")
        for item in inputs.cases {
            switch item.expectation {
            case .imported:
                #expect(errors[item.file] == nil, "\(item.file): \(errors[item.file] ?? "")")
            case let .fails(fragments):
                let message = errors[item.file] ?? "imported"
                for fragment in fragments { #expect(message.contains(fragment), "\(item.file): \(message)") }
            }
        }
        #expect(errors["link.tif"] == "link.tif cannot be opened: it is a symbolic link")
        #expect(stored == inputs.cases.filter { $0.expectation == .imported }.count)
        for message in errors.values {
            #expect(!message.contains(server.dataDirectory) && !message.contains(root.path), "\(message)")
        }
        #expect(watch.drain() == [])
        #expect(listener.connections == 0)
    }

    @Test("limits: default ones refuse hostile headers; serve's options change them")
    func limits() async throws {
        let root = TemporaryDirectory("limits-server")
        defer { root.remove() }
        try RasterLimitInputs.make(in: root.path)
        let server = try ServerProcess(users: ["alice"])
        defer { server.stop(); server.removeData() }
        let alice = try await APIClient.login(server, as: "alice")
        for (file, _) in RasterLimitInputs.expected {
            #expect(try await alice.upload(root.file(file), as: file).status == 200)
        }
        let (status, errors, stored) = try await Self.tile(alice, RasterLimitInputs.expected.map(\.0), catalog: "alice.big")
        #expect(status == "Failed" && stored == 0)
        for (file, fragment) in RasterLimitInputs.expected {
            #expect(errors[file]?.contains(fragment) == true, "\(file): \(errors[file] ?? "imported")")
        }

        let strict = try ServerProcess(users: ["alice"], arguments: ["--max-pixels", "399", "--max-bands", "2",
                                                                     "--max-samples", "100000", "--max-block-mb", "1"])
        defer { strict.stop(); strict.removeData() }
        let client = try await APIClient.login(strict, as: "alice")
        _ = try await client.upload(TestRasters.real("byte.tif"), as: "byte.tif")
        _ = try await client.upload(TestRasters.real("RGB.byte.tif"), as: "rgb.tif")
        let refused = try await Self.tile(client, ["byte.tif", "rgb.tif"], catalog: "alice.small")
        #expect(refused.1["byte.tif"]?.contains("20 x 20 pixels per band is more than the limit of 399 (max-pixels)") == true)
        #expect(refused.1["rgb.tif"]?.contains("(max-pixels)") == true)
    }
}
