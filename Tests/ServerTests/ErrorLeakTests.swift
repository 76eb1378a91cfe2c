import Foundation
import TestSupport
import Testing

/// No answer names a server path: errors a client causes keep a useful message with paths made relative,
/// errors it cannot fix are a generic message with a reference, and the detail goes to the log.
@Suite("no server path in any answer", .serialized)
struct ErrorLeakTests {
    static func tiling(_ files: [String], catalog: String = "alice.images", create: Bool = true) -> [String: Any] {
        var target: [String: Any] = ["type": "tileFeatureLayerTaskDataStorage", "serviceName": catalog, "createNewService": create]
        if create { target["attributesConfiguration"] = ["attributes": [["attributeName": "name", "type": "String"]]] }
        return ["target": target, "files": files, "attributes": ["name": "scene"], "polygonize": true, "useCog": true]
    }

    @Test("bad requests, missing and corrupt files, unknown catalogs, server failures: no path in bodies or headers")
    func noPathLeaks() async throws {
        let server = try ServerProcess(users: ["alice", "bob"])
        defer { server.stop(); server.removeData() }
        let alice = try await APIClient.login(server, as: "alice")
        let bob = try await APIClient.login(server, as: "bob")
        let canonical = URL(fileURLWithPath: server.dataDirectory).resolvingSymlinksInPath().path
        let forbidden = [server.dataDirectory, canonical, "/tmp", "/home", "/work", "/root", "/var"]
        var replies: [(String, APIClient.Reply)] = []
        func record(_ label: String, _ reply: APIClient.Reply) { replies.append((label, reply)) }

        // Malformed requests.
        let json = ["Content-Type": "application/json"]
        record("login, not JSON", try await alice.send("POST", "/account/login", body: Data("{nope".utf8), headers: json))
        record("task, not JSON", try await alice.send("POST", "/scheduler/tasks?type=tiling", body: Data("[1,".utf8), headers: json))
        record("task, wrong types", try await alice.send("POST", "/scheduler/tasks?type=tiling", json: ["files": "x", "target": 3]))
        record("task, unknown type", try await alice.send("POST", "/scheduler/tasks?type=nope", json: ["a": 1]))
        record("task, no body", try await alice.send("POST", "/scheduler/tasks?type=tiling"))
        record("pipeline, bad inner", try await alice.send("POST", "/scheduler/tasks?type=pipeline", json: ["innerTasks": [["x": 1]]]))
        record("copy, unknown catalog", try await alice.send("POST", "/scheduler/tasks?type=copy",
                                                               json: ["source": ["serviceName": "alice.none"], "target": ["serviceName": "alice.other"]]))
        record("unknown task", try await alice.send("GET", "/scheduler/tasks/00000000-0000-0000-0000-000000000000/progress"))
        record("unknown route", try await alice.send("GET", "/no/such/route"))
        record("upload, bad name", try await alice.send("POST", "/upload?name=..%2F..%2Fx.tif", body: Data("x".utf8)))
        record("upload, truncated multipart", try await alice.send("POST", "/upload", body: Data("--b\r\nContent-Disposition: form-data; name=\"f\"; filename=\"t.tif\"\r\n\r\nabc".utf8),
                                                                   headers: ["Content-Type": "multipart/form-data; boundary=b"]))
        record("upload, no boundary", try await alice.send("POST", "/upload", body: Data("x".utf8), headers: ["Content-Type": "multipart/form-data"]))
        record("delete missing upload", try await alice.send("DELETE", "/upload/none.tif"))

        // A task on a file that was deleted, before and after the task was accepted.
        _ = try await alice.send("POST", "/upload?name=gone.tif", body: try Data(contentsOf: URL(fileURLWithPath: TestRasters.sample("rotated.tif"))))
        _ = try await alice.send("DELETE", "/upload/gone.tif")
        record("task on a deleted upload", try await alice.send("POST", "/scheduler/tasks?type=tiling", json: Self.tiling(["gone.tif"])))

        // Corrupt and unusable uploads: the task fails, its messages name files by their upload name.
        for sample in ["damaged.tif", "not_a_raster.tif", "no_georef.tif", "all_nodata.tif"] {
            #expect(try await alice.upload(TestRasters.sample(sample), as: sample).status == 200)
        }
        let corrupt = try await alice.send("POST", "/scheduler/tasks?type=tiling",
                                           json: Self.tiling(["damaged.tif", "not_a_raster.tif", "no_georef.tif", "all_nodata.tif"], catalog: "alice.broken"))
        let corruptID = try #require(corrupt.object["taskId"] as? String)
        let corruptEnd = try await alice.waitForTask(corruptID)
        #expect(corruptEnd["status"] as? String == "Failed")
        record("failed task progress", try await alice.send("GET", "/scheduler/tasks/\(corruptID)/progress"))
        record("failed task record", try await alice.send("GET", "/scheduler/\(corruptID)"))
        record("task list", try await alice.send("GET", "/scheduler/tasks"))
        record("cancel a finished task", try await alice.send("POST", "/scheduler/tasks/\(corruptID)/cancel"))

        // A good import, then its raster file disappears.
        #expect(try await alice.upload(TestRasters.sample("rotated.tif"), as: "rotated.tif").status == 200)
        let good = try await alice.send("POST", "/scheduler/tasks?type=tiling", json: Self.tiling(["rotated.tif"]))
        #expect(try await alice.waitForTask(try #require(good.object["taskId"] as? String))["status"] as? String == "Completed")
        let features = try await alice.send("GET", "/layers/alice.images/features")
        record("features", features)
        let feature = try #require((features.object["features"] as? [[String: Any]])?.first)
        let id = try #require(feature["id"] as? String)
        let storedPath = try #require((feature["properties"] as? [String: Any])?["path"] as? String)
        #expect(storedPath.hasPrefix("rasters/") && storedPath.hasSuffix(".tif"), "\(storedPath)")
        record("one feature", try await alice.send("GET", "/layers/alice.images/features/\(id)"))
        record("layers", try await alice.send("GET", "/layers"))
        record("one layer", try await alice.send("GET", "/layers/alice.images"))
        try FileManager.default.removeItem(atPath: server.dataDirectory + "/" + storedPath)
        record("raster of a missing file", try await alice.send("GET", "/layers/alice.images/features/\(id)/raster"))
        record("raster range of a missing file", try await alice.send("GET", "/layers/alice.images/features/\(id)/raster", headers: ["Range": "bytes=0-9"]))
        record("raster head of a missing file", try await alice.send("HEAD", "/layers/alice.images/features/\(id)/raster"))
        let retile = try await alice.send("POST", "/scheduler/tasks?type=copy",
                                          json: ["source": ["serviceName": "alice.images"],
                                                 "target": ["type": "tileFeatureLayerTaskDataStorage", "serviceName": "alice.copied", "createNewService": true]])
        record("copy of a missing raster", retile)
        if let copyID = retile.object["taskId"] as? String {
            _ = try await alice.waitForTask(copyID)
            record("copy of a missing raster, progress", try await alice.send("GET", "/scheduler/tasks/\(copyID)/progress"))
        }

        // Unknown catalogs and items, another user's catalog, bad queries.
        for path in ["/layers/alice.nope", "/layers/alice.nope/features", "/layers/bob.images", "/layers/alice.images/features/nope",
                     "/layers/alice.images/features/nope/raster", "/layers/alice.images/features?condition=nope%20%3D%3D",
                     "/layers/alice.images/features?bbox=1,2", "/layers/nodot"] {
            record("GET \(path)", try await alice.send("GET", path))
        }
        record("DELETE unknown catalog", try await alice.send("DELETE", "/layers/alice.nope"))
        record("DELETE unknown item", try await alice.send("DELETE", "/layers/alice.images/features/nope"))

        // Server failures: bob's upload folder is a file, so nothing can be stored in it.
        try? FileManager.default.removeItem(atPath: server.dataDirectory + "/uploads/bob")
        try Data("not a folder".utf8).write(to: URL(fileURLWithPath: server.dataDirectory + "/uploads/bob"))
        let failedUpload = try await bob.send("POST", "/upload?name=x.tif", body: Data("x".utf8))
        #expect(failedUpload.status == 500 && failedUpload.errorCode == "internal")
        #expect((failedUpload.object["message"] as? String)?.contains("reference") == true)
        record("upload into a broken folder", failedUpload)
        record("listing a broken folder", try await bob.send("GET", "/upload"))
        record("task with a broken folder", try await bob.send("POST", "/scheduler/tasks?type=tiling", json: Self.tiling(["x.tif"], catalog: "bob.images")))

        #expect(replies.count >= 35)
        for (label, reply) in replies {
            let body = String(decoding: reply.data, as: UTF8.self)
            let headers = reply.headers.map { "\($0): \($1)" }.joined(separator: "\n")
            for path in forbidden {
                #expect(!body.contains(path) && !headers.contains(path), "\(label) (\(reply.status)) names \(path): \(body)")
            }
            if reply.status >= 400, label != "raster head of a missing file" {
                #expect(reply.errorCode != nil, "\(label) (\(reply.status)) is not a JSON error: \(body)")
            }
        }
    }
}
