import Foundation
import TestSupport
import Testing

/// The data folder across releases, crashes and shutdowns: real `tile` processes on real folders.
@Suite("data folder: migration, crashes, permissions, shutdown", .serialized)
struct DataFolderTests {
    static func tilingTask(_ files: [String], catalog: String, create: Bool = true, useCog: Bool = true) -> [String: Any] {
        var target: [String: Any] = ["type": "tileFeatureLayerTaskDataStorage", "serviceName": catalog,
                                     "createNewService": create]
        if create { target["attributesConfiguration"] = ["attributes": [["attributeName": "name", "type": "String"]]] }
        return ["target": target, "files": files, "attributes": ["name": "scene"], "useCog": useCog]
    }

    // MARK: Migration

    @Test("a folder written by the first release, moved elsewhere, is migrated on first open and works")
    func firstReleaseFolder() async throws {
        let fixture = try DataFolder.firstReleaseCopy()
        defer { fixture.remove() }
        let data = fixture.file("data")

        let server = try ServeRun(dataDirectory: data)
        let alice = try await server.login("alice")
        let layers = try #require(try await alice.send("GET", "/layers").json as? [[String: Any]])
        #expect(Set(layers.compactMap { $0["name"] as? String }) == ["alice.samples", "temp.scratch"])
        for (catalog, count) in [("alice.samples", 3), ("temp.scratch", 1)] {
            let features = try #require(try await alice.send("GET", "/layers/\(catalog)/features").object["features"]
                as? [[String: Any]])
            #expect(features.count == count)
            for feature in features {
                let id = try #require(feature["id"] as? String)
                let path = try #require((feature["properties"] as? [String: Any])?["path"] as? String)
                #expect(path == "rasters/\(catalog.replacingOccurrences(of: "temp.", with: "temp_alice."))/\(id).tif")
                let raster = try await alice.send("GET", "/layers/\(catalog)/features/\(id)/raster")
                let stored = try Data(contentsOf: URL(fileURLWithPath: fixture.file("data/\(path)")))
                #expect(raster.status == 200 && raster.data == stored)
            }
        }
        let tasks = try #require(try await alice.send("GET", "/scheduler/tasks").json as? [[String: Any]])
        #expect(tasks.count == 2 && tasks.allSatisfy { $0["status"] as? String == "Completed" })
        let stopped = server.stop()
        #expect(stopped.status == 0 && !stopped.uncaughtSignal, "\(stopped.stderr)")

        // Opening it again changes nothing: same files, same items.
        let before = DataFolder.files(data)
        let items = try TileBinary.run(["catalog", "items", "--data-dir", data, "alice.samples"])
        let again = try TileBinary.run(["catalog", "items", "--data-dir", data, "alice.samples"])
        #expect(items.status == 0 && items.stdout == again.stdout && !items.stdout.contains(fixture.path))
        #expect(DataFolder.files(data) == before)
        #expect(before.filter { $0.hasPrefix("journal/") || $0.contains(".partial.") }.isEmpty)
        let indexes = try DataFolder.sqliteQuery(fixture.file("data/catalog.gpkg"),
                                                 "SELECT name FROM sqlite_master WHERE type = 'index' AND tbl_name = 'alice__samples'")
        #expect(Set(indexes) == ["alice__samples_item_id_idx", "alice__samples_sha256_idx", "alice__samples_source_file_idx"])
        #expect(try DataFolder.sqliteQuery(fixture.file("data/catalog.gpkg"),
                                           "SELECT value FROM tile_metadata WHERE key = 'schema_version'") == ["3"])
        #expect(try DataFolder.sqliteQuery(fixture.file("data/catalog.gpkg"),
                                           "SELECT name FROM pragma_table_info('alice__samples') WHERE name = 'band_summaries'")
                    == ["band_summaries"])
    }

    @Test("a folder from a newer release is refused with a clear message, and left as it is")
    func newerSchemaRefused() throws {
        let fixture = try DataFolder.firstReleaseCopy()
        defer { fixture.remove() }
        let data = fixture.file("data")
        #expect(try TileBinary.run(["catalog", "list", "--data-dir", data]).status == 0)

        try DataFolder.sqlite(fixture.file("data/catalog.gpkg"),
                              "UPDATE tile_metadata SET value = '99' WHERE key = 'schema_version'")
        let catalog = try TileBinary.run(["catalog", "list", "--data-dir", data])
        #expect(catalog.status == 1 && catalog.stderr.contains("schema version 99, newer than this release knows (3)"))
        #expect(try DataFolder.sqliteQuery(fixture.file("data/catalog.gpkg"), "SELECT value FROM tile_metadata") == ["99"])
        try DataFolder.sqlite(fixture.file("data/catalog.gpkg"),
                              "UPDATE tile_metadata SET value = '3' WHERE key = 'schema_version'")

        try DataFolder.sqlite(fixture.file("data/tasks.sqlite"),
                              "INSERT INTO grdb_migrations (identifier) VALUES ('v99-from-the-future')")
        let users = try TileBinary.run(["users", "list", "--data-dir", data])
        #expect(users.status == 1 && users.stderr.contains("written by a newer release"))
        #expect(!users.stderr.contains(fixture.path) && !catalog.stderr.contains(fixture.path))
    }

    // MARK: Crashes

    @Test("kill -9 of tile import at any moment: the next open leaves exactly the catalog's files")
    func killedImport() throws {
        let data = TemporaryDirectory("killed-import")
        let inputs = TemporaryDirectory("killed-import-inputs")
        defer { data.remove(); inputs.remove() }
        let large = try LargeRaster.make(in: inputs.path)
        try FileManager.default.copyItem(atPath: TestRasters.sample("sidecar_mask.tif"), toPath: inputs.file("masked.tif"))
        try FileManager.default.copyItem(atPath: TestRasters.sample("sidecar_mask.tif.msk"), toPath: inputs.file("masked.tif.msk"))
        // From hashing the first file to renaming the last; the last run is not killed.
        let moments: [Double?] = [0.05, 0.3, 0.8, 1.5, 2.5, 4, 6, nil]
        for (run, moment) in moments.enumerated() {
            let catalog = "alice.run\(run)"
            let process = Process()
            process.executableURL = URL(fileURLWithPath: TileBinary.path)
            process.arguments = ["import", "--data-dir", data.path, "--catalog", catalog, "--create", "--jobs", "2",
                                 "--polygonize", inputs.file("masked.tif"), large, TestRasters.sample("rotated.tif")]
            process.standardOutput = FileHandle(forWritingAtPath: "/dev/null")
            process.standardError = FileHandle(forWritingAtPath: "/dev/null")
            try process.run()
            if let moment {
                Thread.sleep(forTimeInterval: moment)
                kill(process.processIdentifier, SIGKILL)
            }
            process.waitUntilExit()
            // The next command to open the folder settles what the killed one left.
            let list = try TileBinary.run(["catalog", "list", "--data-dir", data.path])
            #expect(list.status == 0, "killed at \(moment.map { "\($0) s" } ?? "no moment"): \(list.stderr)")
            try assertClean(data.path)
        }
        let last = try TileBinary.run(["catalog", "show", "--data-dir", data.path, "alice.run\(moments.count - 1)"])
        #expect((try last.json() as? [String: Any])?["itemCount"] as? Int == 3)
    }

    @Test("kill -9 of the server mid-task: the task runs again, the folder ends clean")
    func killedServer() async throws {
        let server = try ServerProcess(users: ["alice"])
        defer { server.stop(); server.removeData() }
        let inputs = TemporaryDirectory("killed-server-inputs")
        defer { inputs.remove() }
        var alice = try await APIClient.login(server, as: "alice")
        _ = try await alice.upload(try LargeRaster.make(in: inputs.path), as: "large.tif")
        _ = try await alice.upload(TestRasters.sample("rotated.tif"), as: "rotated.tif")
        let created = try await alice.send("POST", "/scheduler/tasks?type=tiling",
                                           json: Self.tilingTask(["rotated.tif", "large.tif"], catalog: "alice.big"))
        let id = try #require(created.object["taskId"] as? String)
        for delay in [700, 1500] {
            while try await alice.send("GET", "/scheduler/tasks/\(id)/progress").object["status"] as? String != "Executing" {
                try await Task.sleep(for: .milliseconds(50))
            }
            try await Task.sleep(for: .milliseconds(delay))
            server.stop(kill: true)
            try server.start()
            alice = try await APIClient.login(server, as: "alice")
        }
        #expect(try await alice.waitForTask(id)["status"] as? String == "Completed")
        server.stop()
        try assertClean(server.dataDirectory)
        let items = try TileBinary.run(["catalog", "items", "--data-dir", server.dataDirectory, "alice.big"])
        let features = try #require((try items.json() as? [String: Any])?["features"] as? [[String: Any]])
        #expect(features.count == 2)
    }

    /// Exactly the expected files: the stores, the uploads, one raster per item (COGs have no
    /// sidecars); no journal entry, no partial or temporary file. Map overviews are a cache the next
    /// build of a catalog's overview replaces (a build killed half-way leaves its part until then).
    private func assertClean(_ data: String) throws {
        let files = DataFolder.files(data)
        #expect(files.filter { $0.hasPrefix("journal/") }.isEmpty, "journal entries left: \(files.sorted())")
        let kept = files.filter { !$0.hasPrefix("tile-overviews/") }
        #expect(kept.filter { $0.contains(".partial") || $0.hasSuffix(".tmp") || $0.hasSuffix("-journal") }.isEmpty,
                "temporary files left: \(files.sorted())")
        let list = try TileBinary.run(["catalog", "list", "--data-dir", data])
        var stored = Set<String>()
        for line in list.stdout.split(separator: "\n") {
            let catalog = String(line.split(separator: "\t")[0])
            let items = try TileBinary.run(["catalog", "items", "--data-dir", data, catalog])
            let features = (try items.json() as? [String: Any])?["features"] as? [[String: Any]] ?? []
            stored.formUnion(features.compactMap { ($0["properties"] as? [String: Any])?["path"] as? String })
        }
        let rasters = kept.filter { $0.hasPrefix("rasters/") }
        #expect(rasters == stored, "rasters without items: \(rasters.subtracting(stored)); items without rasters: \(stored.subtracting(rasters))")
        let others = kept.filter { !$0.hasPrefix("rasters/") && !$0.hasPrefix("uploads/") }
        #expect(others.isSubset(of: ["catalog.gpkg", "tasks.sqlite", "jwt-secret"]), "unexpected files: \(others.sorted())")
    }

    // MARK: Permissions

    @Test("every file written under the data folder is 0600 and every folder 0700")
    func permissions() async throws {
        let parent = TemporaryDirectory("permissions")
        defer { parent.remove() }
        let data = parent.file("data")
        let server = try ServerProcess(users: ["alice"], dataDirectory: data)
        let alice = try await APIClient.login(server, as: "alice")
        // A raster stored as uploaded with its sidecars (a copy), and one rewritten as a COG.
        for file in ["world_file.tif", "world_file.tfw", "world_file.tif.aux.xml", "rotated.tif"] {
            #expect(try await alice.upload(TestRasters.sample(file), as: file).status == 200)
        }
        let asUploaded = try await alice.send("POST", "/scheduler/tasks?type=tiling",
                                              json: Self.tilingTask(["world_file.tif"], catalog: "alice.plain", useCog: false))
        let cog = try await alice.send("POST", "/scheduler/tasks?type=tiling",
                                       json: Self.tilingTask(["rotated.tif"], catalog: "temp.cog"))
        for reply in [asUploaded, cog] {
            #expect(try await alice.waitForTask(try #require(reply.object["taskId"] as? String))["status"] as? String == "Completed")
        }
        server.stop()
        let imported = try TileBinary.run(["import", "--data-dir", data, "--catalog", "alice.cli", "--create",
                                           TestRasters.sample("sidecar_mask.tif")])
        #expect(imported.status == 0, "\(imported.stderr)")
        let copied = try TileBinary.run(["import", "--data-dir", data, "--catalog", "alice.cli2", "--create", "--no-cog",
                                         TestRasters.sample("sidecar_mask.tif")])
        #expect(copied.status == 0, "\(copied.stderr)")

        let entries = DataFolder.walk(data)
        let files = DataFolder.files(data)
        #expect(files.contains { $0.hasSuffix(".tfw") } && files.contains { $0.hasSuffix(".tif.msk") }
                && files.contains("tasks.sqlite") && files.contains("catalog.gpkg"))
        for (path, mode) in entries {
            #expect(mode == (files.contains(path) ? 0o600 : 0o700), "\(path) is \(String(mode, radix: 8))")
        }
        let root = try FileManager.default.attributesOfItem(atPath: data)[.posixPermissions] as? Int
        #expect(root == 0o700)
    }

    // MARK: Shutdown

    @Test("SIGTERM as sessions expire, and while tasks run, exits 0 without a crash, every time")
    func shutdownAtSessionExpiry() async throws {
        let data = TemporaryDirectory("shutdown")
        let inputs = TemporaryDirectory("shutdown-inputs")
        defer { data.remove(); inputs.remove() }
        let added = try TileBinary.run(["users", "add", "--data-dir", data.path, "alice", "--password-stdin"],
                                       stdin: "password-alice\n")
        #expect(added.status == 0)
        let large = try LargeRaster.make(in: inputs.path)
        // A session lasts 1.8 s; the sweeper looks every 0.45 s and deletes the expired user's temp catalogs.
        let arguments = ["--session-hours", "0.0005", "--workers", "2"]
        for (run, offset) in [1.5, 1.8, 1.9, 2.1, 2.4].enumerated() {
            let server = try ServeRun(dataDirectory: data.path, arguments: arguments)
            let started = Date()
            let alice = try await server.login("alice")
            if run == 0 { _ = try await alice.upload(large, as: "large.tif") }
            _ = try await alice.upload(TestRasters.sample("rotated.tif"), as: "r\(run).tif")
            _ = try await alice.send("POST", "/scheduler/tasks?type=tiling",
                                     json: Self.tilingTask(["r\(run).tif"], catalog: "temp.scratch\(run)"))
            // A long task into a temp catalog, running when its owner's session expires.
            _ = try await alice.send("POST", "/scheduler/tasks?type=tiling",
                                     json: Self.tilingTask(["large.tif"], catalog: "temp.long\(run)"))
            let wait = offset - Date().timeIntervalSince(started)
            if wait > 0 { try await Task.sleep(for: .milliseconds(Int(wait * 1000))) }
            let stopped = server.stop()
            #expect(stopped.status == 0 && !stopped.uncaughtSignal, "run \(run): \(stopped.stderr.suffix(2000))")
            #expect(!stopped.stderr.contains("Fatal error"))
        }
        try assertClean(data.path)
    }
}
