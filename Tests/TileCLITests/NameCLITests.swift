import Foundation
import TestSupport
import Testing

@Suite("tile command line: names")
struct NameCLITests {
    @Test("import --create --config refuses store and reserved table names, naming the field; the data folder still works")
    func hostileConfigurations() throws {
        let data = TemporaryDirectory("cli-names")
        defer { data.remove() }
        let sample = TestRasters.sample("rotated.tif")
        let configurations = [
            #"{"tableName": "raster_catalogs"}"#, #"{"tableName": "gpkg_contents"}"#, #"{"tableName": "SQLITE_master"}"#,
            #"{"tableName": "tile_journal"}"#, #"{"tableName": "x\"; DROP TABLE raster_catalogs; --"}"#,
            #"{"geometryAttribute": "fid"}"#, #"{"attributes": [{"attributeName": "a", "columnName": "item_id"}]}"#,
        ]
        for (index, json) in configurations.enumerated() {
            let config = data.file("config\(index).json")
            try json.write(toFile: config, atomically: true, encoding: .utf8)
            let result = try TileBinary.run(["import", "--data-dir", data.path, "--catalog", "alice.bad", "--create",
                                             "--config", config, sample])
            #expect(result.status != 0, "\(json)")
            #expect(result.stderr.contains("target.attributesConfiguration."), "\(json): \(result.stderr)")
        }
        let list = try TileBinary.run(["catalog", "list", "--data-dir", data.path])
        #expect(list.status == 0 && list.stdout.isEmpty, "\(list.stderr)")
        let good = try TileBinary.run(["import", "--data-dir", data.path, "--catalog", "alice.good", "--create", sample])
        #expect(good.status == 0, "\(good.stderr)")
        let items = try TileBinary.run(["catalog", "items", "alice.good", "--data-dir", data.path])
        #expect(((try items.json() as? [String: Any])?["features"] as? [Any])?.count == 1)
    }

    @Test("user names that would make table prefixes ambiguous or reserved are refused")
    func userNames() throws {
        let data = TemporaryDirectory("cli-users")
        defer { data.remove() }
        for name in ["Alice", "a__b", "bob_", "gpkg", "tile", "sqlite", "rtree_x", "temp_x", "1abc", "ä"] {
            let result = try TileBinary.run(["users", "add", "--data-dir", data.path, name, "--password-stdin"],
                                            stdin: "password-long\n")
            #expect(result.status != 0, "\(name)")
        }
        let good = try TileBinary.run(["users", "add", "--data-dir", data.path, "carol_2", "--password-stdin"],
                                      stdin: "password-long\n")
        #expect(good.status == 0, "\(good.stderr)")
    }
}
