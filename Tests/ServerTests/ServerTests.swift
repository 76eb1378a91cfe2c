import Foundation
import TestSupport
import Testing

/// The scheduler service over HTTP: a real `tile serve` on 127.0.0.1, driven as a client would.
@Suite("HTTP server", .serialized)
struct ServerTests {
    static var tilingConfiguration: [String: Any] { ["attributes": [["attributeName": "name", "type": "String"]]] }

    static func tilingTask(_ files: [String], catalog: String = "alice.images", create: Bool = true,
                           polygonize: Bool = true) -> [String: Any] {
        var target: [String: Any] = ["type": "tileFeatureLayerTaskDataStorage", "serviceName": catalog,
                                     "createNewService": create]
        if create { target["attributesConfiguration"] = tilingConfiguration }
        return ["target": target, "files": files, "attributes": ["name": "scene"], "maxZoomLevel": 0,
                "polygonize": polygonize, "useCog": true]
    }

    @Test("login, cookies, tokens and logout")
    func accounts() async throws {
        let server = try ServerProcess()
        defer { server.stop(); server.removeData() }
        let anonymous = APIClient(baseURL: server.baseURL)
        let wrong = try await anonymous.send("POST", "/account/login", json: ["username": "alice", "password": "nope"])
        let unknown = try await anonymous.send("POST", "/account/login/", json: ["username": "mallory", "password": "nope"])
        #expect(wrong.status == 401 && unknown.status == 401 && wrong.object["message"] as? String == unknown.object["message"] as? String)
        #expect(wrong.errorCode == "unauthorized")
        #expect(try await anonymous.send("GET", "/scheduler/tasks").status == 401)
        #expect(try await anonymous.send("GET", "/health").status == 200)

        let login = try await anonymous.send("POST", "/account/login/", json: ["username": "alice", "password": "password-alice"])
        #expect(login.status == 200 && login.object["username"] as? String == "alice")
        let cookie = try #require(login.headers["set-cookie"])
        #expect(cookie.hasPrefix("token=") && cookie.contains("HttpOnly") && cookie.contains("SameSite=Lax"))
        let token = try #require(login.object["token"] as? String)
        let viaCookie = try await anonymous.send("GET", "/upload", headers: ["Cookie": "token=\(token)"])
        #expect(viaCookie.status == 200)

        let alice = APIClient(baseURL: server.baseURL, token: token)
        // A temp catalog lives until logout.
        _ = try await alice.upload(TestRasters.sample("rotated.tif"), as: "r.tif")
        let task = try await alice.send("POST", "/scheduler/tasks?type=tiling", json: Self.tilingTask(["r.tif"], catalog: "temp.scratch"))
        let done = try await alice.waitForTask(try #require(task.object["taskId"] as? String))
        #expect(done["status"] as? String == "Completed")
        #expect(try await alice.send("GET", "/layers/temp.scratch").status == 200)
        #expect(try await alice.send("POST", "/account/logout").status == 200)
        #expect(try await alice.send("GET", "/upload").status == 401)
        let again = try await APIClient.login(server, as: "alice")
        #expect(try await again.send("GET", "/layers/temp.scratch").status == 404)
        #expect(try String(contentsOfFile: server.dataDirectory + "/jwt-secret", encoding: .utf8).count >= 32)
        let mode = try FileManager.default.attributesOfItem(atPath: server.dataDirectory + "/jwt-secret")[.posixPermissions] as? Int
        #expect(mode == 0o600)
    }

    @Test("uploads: multipart and raw, listing, deletion, safe names, size limit, per user")
    func uploads() async throws {
        let server = try ServerProcess(arguments: ["--max-upload-mb", "1"])
        defer { server.stop(); server.removeData() }
        let alice = try await APIClient.login(server, as: "alice")
        let bob = try await APIClient.login(server, as: "bob")
        let multipart = try await alice.upload(TestRasters.sample("rotated.tif"), as: "rotated.tif")
        #expect(multipart.status == 200 && multipart.object["files"] as? [String] == ["rotated.tif"])
        let raw = try await alice.send("POST", "/upload?name=byte.tif", body: try Data(contentsOf: URL(fileURLWithPath: TestRasters.real("byte.tif"))))
        #expect(raw.status == 200)
        let listed = try #require(try await alice.send("GET", "/upload").object["files"] as? [[String: Any]])
        #expect(listed.compactMap { $0["name"] as? String } == ["byte.tif", "rotated.tif"])
        #expect(listed.first { $0["name"] as? String == "byte.tif" }?["size"] as? Int == 736)
        #expect((try await bob.send("GET", "/upload").object["files"] as? [Any])?.isEmpty == true)

        for name in ["../escape.tif", "..", ".hidden", "a%2Fb.tif", "%00x.tif"] {
            let reply = try await alice.send("POST", "/upload?name=\(name)", body: Data("x".utf8))
            #expect(reply.status == 400, "\(name) gave \(reply.status)")
        }
        let tooLarge = try await alice.send("POST", "/upload?name=big.tif", body: Data(count: 2 << 20))
        #expect(tooLarge.status == 413 && tooLarge.errorCode == "too_large")
        let folder = server.dataDirectory + "/uploads/alice"
        #expect(try FileManager.default.contentsOfDirectory(atPath: folder).sorted() == ["byte.tif", "rotated.tif"])
        #expect(!FileManager.default.fileExists(atPath: server.dataDirectory + "/escape.tif"))

        #expect(try await bob.send("DELETE", "/upload/rotated.tif").status == 404)
        #expect(try await alice.send("DELETE", "/upload/rotated.tif").status == 200)
        #expect(try await alice.send("DELETE", "/upload/rotated.tif").status == 404)
    }

    @Test("a tiling task goes Scheduled to Completed; its record, progress and list read back; others see 404")
    func taskLifecycle() async throws {
        let server = try ServerProcess()
        defer { server.stop(); server.removeData() }
        let alice = try await APIClient.login(server, as: "alice")
        let bob = try await APIClient.login(server, as: "bob")
        for name in ["nodata_collar.tif", "damaged.tif"] { _ = try await alice.upload(TestRasters.sample(name), as: name) }
        let created = try await alice.send("POST", "/scheduler/tasks?type=tiling",
                                           json: Self.tilingTask(["nodata_collar.tif", "damaged.tif"]))
        #expect(created.status == 200 && created.object["status"] as? String == "Scheduled")
        #expect(created.object.keys.sorted() == ["owner", "status", "taskId", "taskResult", "type"])
        let id = try #require(created.object["taskId"] as? String)
        let progress = try await alice.waitForTask(id)
        #expect(progress["status"] as? String == "Completed")
        let result = try #require(progress["taskResult"] as? [String: Any])
        #expect(result["inputObjectCount"] as? Int == 2 && result["outputObjectCount"] as? Int == 1 && result["errorCount"] as? Int == 1)
        let step = try #require((result["stepResults"] as? [[String: Any]])?.first)
        #expect(step["outSource"] as? String == "alice.images" && step["stepName"] as? String == "tiling")
        #expect((step["batchErrors"] as? [[String: Any]])?.first?["file"] as? String == "damaged.tif")
        #expect((step["resultDetails"] as? [String: Any])?["Tiles created"] as? Int == 5)

        for path in ["/scheduler/\(id)", "/scheduler/tasks/\(id)"] {
            let record = try await alice.send("GET", path).object
            #expect(record["owner"] as? String == "alice" && record["status"] as? String == "Completed")
            #expect((record["parameters"] as? [String: Any])?["type"] as? String == "tiling")
            #expect(record["createdDate"] is String && record["startedDate"] is String && record["completedDate"] is String)
        }
        #expect(try await alice.send("GET", "/scheduler/\(id)/progress").object["status"] as? String == "Completed")
        #expect(try await alice.send("POST", "/scheduler/tasks/\(id)/cancel").status == 409)

        let second = try await alice.send("POST", "/scheduler/tasks", json: Self.tilingTask(["nodata_collar.tif"], create: false)
            .merging(["type": "tiling"]) { $1 })
        let secondID = try #require(second.object["taskId"] as? String)
        _ = try await alice.waitForTask(secondID)
        let list = try #require(try await alice.send("GET", "/scheduler/tasks").json as? [[String: Any]])
        #expect(list.compactMap { $0["id"] as? String } == [secondID, id])
        let limited = try #require(try await alice.send("GET", "/scheduler/tasks?status=Completed&limit=1&offset=1").json as? [[String: Any]])
        #expect(limited.compactMap { $0["id"] as? String } == [id])

        // Another user's task is exactly as absent as a task that does not exist.
        for path in ["/scheduler/\(id)", "/scheduler/tasks/\(id)/progress", "/scheduler/\(UUID().uuidString)"] {
            let reply = try await bob.send("GET", path)
            #expect(reply.status == 404 && reply.errorCode == "not_found")
        }
        #expect(try await bob.send("POST", "/scheduler/tasks/\(id)/cancel").status == 404)
        #expect((try await bob.send("GET", "/scheduler/tasks").json as? [Any])?.isEmpty == true)
        #expect(try await bob.send("GET", "/layers/alice.images").status == 404)
        #expect(try await bob.send("GET", "/layers/alice.images/features").status == 404)
    }

    @Test("bad task requests are 4xx naming the field, and nothing is queued")
    func validation() async throws {
        let server = try ServerProcess()
        defer { server.stop(); server.removeData() }
        let alice = try await APIClient.login(server, as: "alice")
        _ = try await alice.upload(TestRasters.sample("rotated.tif"), as: "rotated.tif")
        func post(_ query: String, _ body: Any) async throws -> APIClient.Reply {
            try await alice.send("POST", "/scheduler/tasks\(query)", json: body)
        }
        var missingFiles = Self.tilingTask(["rotated.tif"])
        missingFiles["files"] = nil
        var wrongType = Self.tilingTask(["rotated.tif"])
        wrongType["polygonize"] = "yes"
        var badAttribute = Self.tilingTask(["rotated.tif"])
        badAttribute["attributes"] = ["colour": "red"]
        let cases: [(String, Any, Int, String)] = [
            ("?type=frobnicate", Self.tilingTask(["rotated.tif"]), 400, "frobnicate"),
            ("?type=buffer", Self.tilingTask(["rotated.tif"]), 400, "not run"),
            ("", Self.tilingTask(["rotated.tif"]), 400, "type"),
            ("?type=tiling", missingFiles, 400, "files"),
            ("?type=tiling", wrongType, 400, "polygonize"),
            ("?type=tiling", badAttribute, 400, "attributes.colour"),
            ("?type=tiling", Self.tilingTask(["missing.tif"]), 400, "files[0]"),
            ("?type=tiling", Self.tilingTask(["../../tasks.sqlite"]), 400, "files[0]"),
            ("?type=tiling", Self.tilingTask(["rotated.tif"], catalog: "bob.images"), 403, "bob.images"),
            ("?type=tiling", Self.tilingTask(["rotated.tif"], catalog: "alice.x; DROP TABLE task"), 400, "serviceName"),
            ("?type=tiling", Self.tilingTask(["rotated.tif"], create: false), 404, "does not exist"),
            ("?type=tiling", [1, 2, 3], 400, "object"),
            ("?type=pipeline", ["innerTasks": [["type": "tiling"].merging(Self.tilingTask(["rotated.tif"])) { $1 },
                                               ["type": "filterCopy"]]], 400, "innerTasks[1].type"),
        ]
        for (query, body, status, mention) in cases {
            let reply = try await post(query, body)
            #expect(reply.status == status, "\(query) \(mention): \(reply.status)")
            #expect((reply.object["message"] as? String)?.contains(mention) == true, "\(reply.object)")
        }
        let malformed = try await alice.send("POST", "/scheduler/tasks?type=tiling", body: Data("{\"target\": ".utf8),
                                             headers: ["Content-Type": "application/json"])
        #expect(malformed.status == 400 && malformed.errorCode == "bad_request")
        let huge = try await alice.send("POST", "/scheduler/tasks?type=tiling", body: Data(repeating: 32, count: 3 << 20),
                                        headers: ["Content-Type": "application/json"])
        #expect(huge.status == 413)
        #expect((try await alice.send("GET", "/scheduler/tasks").json as? [Any])?.isEmpty == true)

        // A catalog that exists with another configuration is a conflict.
        let first = try await post("?type=tiling", Self.tilingTask(["rotated.tif"]))
        _ = try await alice.waitForTask(try #require(first.object["taskId"] as? String))
        var other = Self.tilingTask(["rotated.tif"])
        other["target"] = ["serviceName": "alice.images", "createNewService": true, "attributesConfiguration": ["attributes": []]]
        #expect(try await post("?type=tiling", other).status == 409)
        #expect(try await alice.send("GET", "/no/such/route").errorCode == "not_found")
        #expect(try await alice.send("GET", "/health").status == 200)
    }

    @Test("cancel stops a running file within about a second and leaves nothing half-written")
    func cancelRunning() async throws {
        let server = try ServerProcess()
        defer { server.stop(); server.removeData() }
        let alice = try await APIClient.login(server, as: "alice")
        let large = try LargeRaster.make(in: server.dataDirectory)
        _ = try await alice.upload(large, as: "large.tif")
        let created = try await alice.send("POST", "/scheduler/tasks?type=tiling", json: Self.tilingTask(["large.tif"]))
        let id = try #require(created.object["taskId"] as? String)
        try await waitUntilExecuting(alice, id)
        try await Task.sleep(for: .milliseconds(300))
        // GDAL works off the HTTP threads: the server answers at once while the file is converted.
        let ping = Date()
        #expect(try await alice.send("GET", "/scheduler/tasks/\(id)/progress").object["status"] as? String == "Executing")
        #expect(Date().timeIntervalSince(ping) < 0.5)
        let started = Date()
        let cancelled = try await alice.send("POST", "/scheduler/tasks/\(id)/cancel")
        #expect(Date().timeIntervalSince(started) < 3)
        #expect(cancelled.status == 200 && cancelled.object["status"] as? String == "Canceled")
        #expect((cancelled.object["taskResult"] as? [String: Any])?["message"] as? String == "Cancelled by external request.")
        #expect(try await alice.send("GET", "/scheduler/\(id)").object["status"] as? String == "Canceled")
        #expect(try await alice.send("POST", "/scheduler/tasks/\(id)/cancel").status == 409)
        #expect(rasterFiles(server).isEmpty)
        let features = try await alice.send("GET", "/layers/alice.images/features").object["features"] as? [Any]
        #expect(features?.isEmpty == true)
    }

    @Test("a task running past the time limit ends as Timeout")
    func timeout() async throws {
        let server = try ServerProcess(arguments: ["--task-timeout", "0.5"])
        defer { server.stop(); server.removeData() }
        let alice = try await APIClient.login(server, as: "alice")
        _ = try await alice.upload(try LargeRaster.make(in: server.dataDirectory), as: "large.tif")
        let created = try await alice.send("POST", "/scheduler/tasks?type=tiling", json: Self.tilingTask(["large.tif"]))
        let progress = try await alice.waitForTask(try #require(created.object["taskId"] as? String))
        #expect(progress["status"] as? String == "Timeout")
        #expect(((progress["taskResult"] as? [String: Any])?["message"] as? String)?.contains("time limit") == true)
        #expect(rasterFiles(server).isEmpty)
    }

    @Test("pipelines run in order through temp catalogs; a failing step stops the rest")
    func pipelines() async throws {
        let server = try ServerProcess()
        defer { server.stop(); server.removeData() }
        let alice = try await APIClient.login(server, as: "alice")
        for name in ["rotated.tif", "nodata_collar.tif", "all_nodata.tif"] {
            _ = try await alice.upload(TestRasters.sample(name), as: name)
        }
        var stage = Self.tilingTask(["rotated.tif", "nodata_collar.tif"], catalog: "temp.stage")
        stage["type"] = "tiling"
        let copy: [String: Any] = ["type": "copy", "source": ["serviceName": "temp.stage"],
                                   "target": ["serviceName": "alice.final", "createNewService": true],
                                   "condition": "sourceFile = 'nodata_collar.tif'"]
        let created = try await alice.send("POST", "/scheduler/tasks?type=pipeline", json: ["innerTasks": [stage, copy]])
        #expect(created.status == 200, "\(created.object)")
        let progress = try await alice.waitForTask(try #require(created.object["taskId"] as? String))
        #expect(progress["status"] as? String == "Completed" && progress["stepCount"] as? Int == 2 && progress["currentStepId"] as? Int == 1)
        let steps = try #require((progress["taskResult"] as? [String: Any])?["stepResults"] as? [[String: Any]])
        #expect(steps.compactMap { $0["stepName"] as? String } == ["tiling", "copy"])
        #expect(steps[1]["inputSource"] as? String == "temp.stage" && steps[1]["outSource"] as? String == "alice.final")
        let final = try #require(try await alice.send("GET", "/layers/alice.final/features").object["features"] as? [[String: Any]])
        #expect(final.compactMap { ($0["properties"] as? [String: Any])?["sourceFile"] as? String } == ["nodata_collar.tif"])
        let names = try #require(try await alice.send("GET", "/layers").json as? [[String: Any]]).compactMap { $0["name"] as? String }
        #expect(Set(names) == ["alice.final", "temp.stage"])

        var failing = Self.tilingTask(["all_nodata.tif"], catalog: "temp.bad")
        failing["type"] = "tiling"
        var after = Self.tilingTask(["rotated.tif"], catalog: "alice.never")
        after["type"] = "tiling"
        let failed = try await alice.send("POST", "/scheduler/tasks?type=pipeline", json: ["innerTasks": [failing, after]])
        let failedProgress = try await alice.waitForTask(try #require(failed.object["taskId"] as? String))
        #expect(failedProgress["status"] as? String == "Failed" && failedProgress["currentStepId"] as? Int == 0)
        #expect(((failedProgress["taskResult"] as? [String: Any])?["stepResults"] as? [Any])?.count == 1)
        #expect(try await alice.send("GET", "/layers/alice.never").status == 404)
    }

    @Test("after kill -9 the interrupted task runs again and the catalog stays consistent")
    func restartAfterKill() async throws {
        let server = try ServerProcess()
        defer { server.stop(); server.removeData() }
        var alice = try await APIClient.login(server, as: "alice")
        _ = try await alice.upload(try LargeRaster.make(in: server.dataDirectory), as: "large.tif")
        _ = try await alice.upload(TestRasters.sample("rotated.tif"), as: "rotated.tif")
        let done = try await alice.send("POST", "/scheduler/tasks?type=tiling", json: Self.tilingTask(["rotated.tif"]))
        let doneID = try #require(done.object["taskId"] as? String)
        _ = try await alice.waitForTask(doneID)
        let created = try await alice.send("POST", "/scheduler/tasks?type=tiling",
                                           json: Self.tilingTask(["large.tif"], create: false))
        let id = try #require(created.object["taskId"] as? String)
        try await waitUntilExecuting(alice, id)
        try await Task.sleep(for: .milliseconds(400))
        server.stop(kill: true)

        try server.start()
        alice = try await APIClient.login(server, as: "alice")
        #expect(try await alice.send("GET", "/scheduler/\(doneID)").object["status"] as? String == "Completed")
        let progress = try await alice.waitForTask(id)
        #expect(progress["status"] as? String == "Completed", "\(progress)")
        let features = try #require(try await alice.send("GET", "/layers/alice.images/features").object["features"] as? [[String: Any]])
        #expect(features.compactMap { ($0["properties"] as? [String: Any])?["sourceFile"] as? String }.sorted() == ["large.tif", "rotated.tif"])
        let paths = features.compactMap { ($0["properties"] as? [String: Any])?["path"] as? String }
        #expect(Set(rasterFiles(server)) == Set(paths.map { ($0 as NSString).lastPathComponent }))
    }

    @Test("SIGTERM interrupts a running task cleanly; it runs again at the next start")
    func gracefulShutdown() async throws {
        let server = try ServerProcess()
        defer { server.stop(); server.removeData() }
        var alice = try await APIClient.login(server, as: "alice")
        _ = try await alice.upload(try LargeRaster.make(in: server.dataDirectory), as: "large.tif")
        let created = try await alice.send("POST", "/scheduler/tasks?type=tiling", json: Self.tilingTask(["large.tif"]))
        let id = try #require(created.object["taskId"] as? String)
        try await waitUntilExecuting(alice, id)
        server.stop()
        #expect(rasterFiles(server).isEmpty, "a partial raster survived the shutdown")
        try server.start()
        alice = try await APIClient.login(server, as: "alice")
        let progress = try await alice.waitForTask(id)
        #expect(progress["status"] as? String == "Completed")
        #expect(rasterFiles(server).count == 1)
    }

    @Test("items imported by the command line beside a running server are counted by it, and by ogrinfo")
    func commandLineBesideServer() async throws {
        let server = try ServerProcess()
        defer { server.stop(); server.removeData() }
        let alice = try await APIClient.login(server, as: "alice")
        for (index, sample) in ["rotated.tif", "south_up.tif"].enumerated() {
            let result = try TileBinary.run(["import", "--data-dir", server.dataDirectory, "--catalog", "alice.cli", "--create",
                                             TestRasters.sample(sample)])
            #expect(result.status == 0, "\(result.stderr)")
            let layer = try await alice.send("GET", "/layers/alice.cli").object
            #expect(layer["itemCount"] as? Int == index + 1)
        }
        let ogrinfo = Process()
        ogrinfo.executableURL = URL(fileURLWithPath: "/usr/bin/ogrinfo")
        ogrinfo.arguments = ["-ro", "-so", server.dataDirectory + "/catalog.gpkg", "alice__cli"]
        let pipe = Pipe()
        ogrinfo.standardOutput = pipe
        try ogrinfo.run()
        let summary = String(decoding: pipe.fileHandleForReading.readDataToEndOfFile(), as: UTF8.self)
        ogrinfo.waitUntilExit()
        #expect(summary.contains("Feature Count: 2"), "\(summary)")
    }

    @Test("catalog routes: features by bbox and condition, one feature, its raster with Range, deletion; metrics")
    func layers() async throws {
        let server = try ServerProcess()
        defer { server.stop(); server.removeData() }
        let alice = try await APIClient.login(server, as: "alice")
        for name in ["nan_nodata.tif", "nodata_collar.tif"] { _ = try await alice.upload(TestRasters.sample(name), as: name) }
        let created = try await alice.send("POST", "/scheduler/tasks?type=tiling", json: Self.tilingTask(["nan_nodata.tif", "nodata_collar.tif"]))
        _ = try await alice.waitForTask(try #require(created.object["taskId"] as? String))

        let layer = try await alice.send("GET", "/layers/alice.images").object
        #expect(layer["itemCount"] as? Int == 2 && (layer["extent"] as? [Double])?.count == 4)
        let inBox = try #require(try await alice.send("GET", "/layers/alice.images/features?bbox=9,44,11,46").object["features"] as? [[String: Any]])
        #expect(inBox.count == 1)
        let condition = "sourceFile%20%3D%20%27nodata_collar.tif%27"
        let matching = try #require(try await alice.send("GET", "/layers/alice.images/features?condition=\(condition)").object["features"] as? [[String: Any]])
        #expect(matching.count == 1)
        #expect(try await alice.send("GET", "/layers/alice.images/features?condition=1%3D1%3B%20DROP").status == 400)
        #expect(try await alice.send("GET", "/layers/alice.images/features?bbox=1,2").status == 400)

        let id = try #require(matching.first?["id"] as? String)
        let feature = try await alice.send("GET", "/layers/alice.images/features/\(id)").object
        #expect((feature["properties"] as? [String: Any])?["name"] as? String == "scene")
        let storedPath = try #require((feature["properties"] as? [String: Any])?["path"] as? String)
        #expect(storedPath.hasPrefix("rasters/alice.images/"), "the answer shows no server path: \(storedPath)")
        let path = (server.dataDirectory as NSString).appendingPathComponent(storedPath)
        let whole = try await alice.send("GET", "/layers/alice.images/features/\(id)/raster")
        let stored = try Data(contentsOf: URL(fileURLWithPath: path))
        #expect(whole.status == 200 && whole.data == stored)
        let part = try await alice.send("GET", "/layers/alice.images/features/\(id)/raster", headers: ["Range": "bytes=10-19"])
        #expect(part.status == 206 && part.data == whole.data.subdata(in: 10..<20))
        #expect(part.headers["content-range"] == "bytes 10-19/\(whole.data.count)")
        #expect(try await alice.send("GET", "/layers/alice.images/features/\(id)/raster", headers: ["Range": "bytes=999999999-"]).status == 416)

        // GDAL reads the COG remotely with the token in a header.
        let gdalinfo = Process()
        gdalinfo.executableURL = URL(fileURLWithPath: "/usr/bin/gdalinfo")
        gdalinfo.arguments = ["/vsicurl/\(server.baseURL)/layers/alice.images/features/\(id)/raster"]
        gdalinfo.environment = ["GDAL_HTTP_HEADERS": "Authorization: Bearer \(alice.token!)",
                                "CPL_VSIL_CURL_ALLOWED_EXTENSIONS": "raster", "GDAL_DISABLE_READDIR_ON_OPEN": "EMPTY_DIR"]
        let pipe = Pipe()
        gdalinfo.standardOutput = pipe
        try gdalinfo.run()
        let info = String(decoding: pipe.fileHandleForReading.readDataToEndOfFile(), as: UTF8.self)
        gdalinfo.waitUntilExit()
        #expect(gdalinfo.terminationStatus == 0 && info.contains("Size is 600, 520") && info.contains("LAYOUT=COG"))

        let metrics = String(decoding: try await alice.send("GET", "/metrics").data, as: UTF8.self)
        #expect(metrics.contains("tile_tasks{status=\"Completed\"} 1"))
        #expect(metrics.contains("tile_task_duration_seconds_count 1") && !metrics.contains("tile_bytes_written_total 0\n"))

        #expect(try await alice.send("DELETE", "/layers/alice.images/features/\(id)").status == 200)
        #expect(try await alice.send("GET", "/layers/alice.images/features/\(id)").status == 404)
        #expect(!FileManager.default.fileExists(atPath: path))
        #expect(try await alice.send("DELETE", "/layers/alice.images").status == 200)
        #expect(try await alice.send("GET", "/layers/alice.images").status == 404)
        #expect(rasterFiles(server).isEmpty)
    }

    private func waitUntilExecuting(_ client: APIClient, _ id: String) async throws {
        for _ in 0..<300 {
            if try await client.send("GET", "/scheduler/\(id)").object["status"] as? String == "Executing" { return }
            try await Task.sleep(for: .milliseconds(20))
        }
        Issue.record("task \(id) never started")
    }

    /// Raster files (final or partial) under the server's data directory.
    private func rasterFiles(_ server: ServerProcess) -> [String] {
        let root = server.dataDirectory + "/rasters"
        let enumerator = FileManager.default.enumerator(atPath: root)
        var files: [String] = []
        while let path = enumerator?.nextObject() as? String {
            if path.hasSuffix(".tif") { files.append((path as NSString).lastPathComponent) }
        }
        return files
    }
}

@Suite("the documentation's Python client")
struct SeedClientTests {
    @Test("the seed's tiling client runs unchanged against the server (base path /sp) and completes")
    func seedClient() async throws {
        let server = try ServerProcess(users: ["alice"], arguments: ["--base-path", "/sp"])
        defer { server.stop(); server.removeData() }
        let process = Process()
        process.executableURL = URL(fileURLWithPath: "/usr/bin/python3")
        process.arguments = [TestRasters.projectRoot.appendingPathComponent("Tests/python/seed_tiling_client.py").path]
        process.environment = ["TILE_HOST": server.baseURL + "/sp", "TILE_USER": "alice", "TILE_PASSWORD": "password-alice",
                               "TILE_RASTER": TestRasters.real("RGB.byte.tif"),
                               "TILE_FIRST_RASTER": TestRasters.sample("rotated.tif"), "PYTHONIOENCODING": "utf-8"]
        let pipe = Pipe()
        process.standardOutput = pipe
        process.standardError = pipe
        try process.run()
        let output = String(decoding: pipe.fileHandleForReading.readDataToEndOfFile(), as: UTF8.self)
        process.waitUntilExit()
        #expect(process.terminationStatus == 0, "\(output)")
        #expect(output.contains("\"status\": \"Completed\"") && output.contains("\"Tiles created\": 5"))
        // Without the base path the routes are not there.
        #expect(try await APIClient(baseURL: server.baseURL).send("GET", "/health").status == 404)
        #expect(try await APIClient(baseURL: server.baseURL).send("GET", "/sp/health").status == 200)
    }
}
