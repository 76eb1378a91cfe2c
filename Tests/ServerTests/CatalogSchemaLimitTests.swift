import Foundation
import TestSupport
import Testing

/// Attribute counts and reserved column names checked at creation, and store failures kept out of
/// what a task reports.
@Suite("attribute limits and store failures", .serialized)
struct CatalogSchemaLimitTests {
    static func tiling(_ files: [String], catalog: String, configuration: [String: Any]? = [:]) -> [String: Any] {
        var target: [String: Any] = ["type": "tileFeatureLayerTaskDataStorage", "serviceName": catalog,
                                     "createNewService": configuration != nil]
        if let configuration { target["attributesConfiguration"] = configuration }
        return ["target": target, "files": files, "polygonize": false, "useCog": false]
    }

    static func message(_ reply: APIClient.Reply) -> String { reply.object["message"] as? String ?? "" }

    static func taskCount(_ client: APIClient) async throws -> Int {
        (try await client.send("GET", "/scheduler/tasks").json as? [Any])?.count ?? -1
    }

    static func attributes(_ count: Int) -> [[String: Any]] {
        (0..<count).map { ["attributeName": "attribute_\($0)", "type": "Int32"] }
    }

    @Test("3,000 attributes are 400 naming the field at creation; 500 are accepted and the catalog is created")
    func attributeCount() async throws {
        let server = try ServerProcess(users: ["alice"])
        defer { server.stop(); server.removeData() }
        let alice = try await APIClient.login(server, as: "alice")
        #expect(try await alice.upload(TestRasters.sample("rotated.tif"), as: "r.tif").status == 200)

        for count in [3000, 501] {
            let reply = try await alice.send("POST", "/scheduler/tasks?type=tiling", json: Self.tiling(
                ["r.tif"], catalog: "alice.wide", configuration: ["attributes": Self.attributes(count)]))
            #expect(reply.status == 400, "\(count): \(reply.status)")
            #expect(Self.message(reply).hasPrefix("target.attributesConfiguration.attributes:"), "\(Self.message(reply))")
            #expect(Self.message(reply).contains("500"), "\(Self.message(reply))")
        }
        #expect(try await Self.taskCount(alice) == 0)

        let accepted = try await alice.send("POST", "/scheduler/tasks?type=tiling", json: Self.tiling(
            ["r.tif"], catalog: "alice.wide", configuration: ["attributes": Self.attributes(500)]))
        #expect(accepted.status == 200)
        let done = try await alice.waitForTask(try #require(accepted.object["taskId"] as? String))
        #expect(done["status"] as? String == "Completed", "\(done)")
        let layer = try await alice.send("GET", "/layers/alice.wide")
        #expect(layer.status == 200)
    }

    @Test("rowid, _rowid_ and oid (any case) are refused as column and geometry names with 400 naming the field")
    func rowidAliases() async throws {
        let server = try ServerProcess(users: ["alice"])
        defer { server.stop(); server.removeData() }
        let alice = try await APIClient.login(server, as: "alice")
        #expect(try await alice.upload(TestRasters.sample("rotated.tif"), as: "r.tif").status == 200)
        for name in ["rowid", "_rowid_", "oid", "ROWID", "_RowId_", "OID"] {
            let cases: [([String: Any], String)] = [
                (["attributes": [["attributeName": "x", "columnName": name]]], "attributes[0].columnName"),
                (["attributes": [["attributeName": name]]], "attributes[0].attributeName"),
                (["geometryAttribute": name], "geometryAttribute"),
            ]
            for (configuration, field) in cases {
                let reply = try await alice.send("POST", "/scheduler/tasks?type=tiling",
                                                 json: Self.tiling(["r.tif"], catalog: "alice.rows", configuration: configuration))
                #expect(reply.status == 400, "\(name) as \(field): \(reply.status)")
                #expect(Self.message(reply).hasPrefix("target.attributesConfiguration.\(field):"),
                        "\(name) as \(field): \(Self.message(reply))")
            }
        }
        #expect(try await Self.taskCount(alice) == 0)
        // A name that merely contains them is fine.
        let good = try await alice.send("POST", "/scheduler/tasks?type=tiling", json: Self.tiling(
            ["r.tif"], catalog: "alice.rows", configuration: ["attributes": [["attributeName": "x", "columnName": "rowid_2"]]]))
        #expect(good.status == 200)
        let done = try await alice.waitForTask(try #require(good.object["taskId"] as? String))
        #expect(done["status"] as? String == "Completed", "\(done)")
    }

    @Test("a store failure while creating a catalog or storing an item shows no SQL, store text or path in the task")
    func storeFailuresAreGeneric() async throws {
        let server = try ServerProcess(users: ["alice"])
        defer { server.stop(); server.removeData() }
        let alice = try await APIClient.login(server, as: "alice")
        for name in ["a.tif", "b.tif"] {
            #expect(try await alice.upload(TestRasters.sample(name == "a.tif" ? "rotated.tif" : "south_up.tif"), as: name).status == 200)
        }
        let first = try await alice.send("POST", "/scheduler/tasks?type=tiling", json: Self.tiling(["a.tif"], catalog: "alice.t"))
        #expect(try await alice.waitForTask(try #require(first.object["taskId"] as? String))["status"] as? String == "Completed")

        // The store refuses what comes next, with a message that carries a path and SQL-like text.
        let gpkg = (server.dataDirectory as NSString).appendingPathComponent("catalog.gpkg")
        let secret = "forced failure in \(server.dataDirectory)/catalog.gpkg: CREATE TABLE x"
        try DataFolder.sqlite(gpkg, """
            CREATE TRIGGER refuse_items BEFORE INSERT ON alice__t BEGIN SELECT RAISE(ABORT, '\(secret)'); END;
            CREATE TRIGGER refuse_catalogs BEFORE INSERT ON raster_catalogs BEGIN SELECT RAISE(ABORT, '\(secret)'); END;
            """)

        let item = try await alice.send("POST", "/scheduler/tasks?type=tiling",
                                        json: Self.tiling(["b.tif"], catalog: "alice.t", configuration: nil))
        #expect(item.status == 200)
        let itemID = try #require(item.object["taskId"] as? String)
        let catalog = try await alice.send("POST", "/scheduler/tasks?type=tiling", json: Self.tiling(["b.tif"], catalog: "alice.u"))
        #expect(catalog.status == 200)
        let catalogID = try #require(catalog.object["taskId"] as? String)

        for id in [itemID, catalogID] {
            let done = try await alice.waitForTask(id)
            #expect(done["status"] as? String == "Failed", "\(done)")
            let taskResult = done["taskResult"] as? [String: Any]
            let message = taskResult?["message"] as? String ?? ""
            #expect(message.contains("the catalog store failed (reference "), "\(message)")
            let text = String(decoding: try await alice.send("GET", "/scheduler/tasks/\(id)/progress").data, as: UTF8.self)
            for leak in ["forced failure", "CREATE", "INSERT", "sqlite", "catalog.gpkg", server.dataDirectory, "catalog storage:"] {
                #expect(!text.contains(leak), "\(leak) in \(text)")
            }
        }
        let itemProgress = try await alice.send("GET", "/scheduler/tasks/\(itemID)/progress").object
        let steps = (itemProgress["taskResult"] as? [String: Any])?["stepResults"] as? [[String: Any]]
        let batchErrors = steps?.first?["batchErrors"] as? [[String: Any]]
        #expect(batchErrors?.count == 1)
        #expect((batchErrors?.first?["message"] as? String)?.hasPrefix("the catalog store failed (reference ") == true,
                "\(String(describing: batchErrors))")
    }
}
