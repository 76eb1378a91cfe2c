import Catalog
import Foundation
import Raster
import TestSupport
import Testing

@Suite("catalog table names")
struct TableNameTests {
    static let hostileTableNames = [
        "raster_catalogs", "RASTER_CATALOGS", "gpkg_contents", "GPKG_Contents", "gpkg_spatial_ref_sys",
        "gpkg_geometry_columns", "gpkg_ogr_contents", "gpkg_extensions", "gpkgext_relations", "sqlite_master",
        "sqlite_sequence", "rtree_alice__images_footprint", "tile_journal", "tile_metadata", "ogr_empty_table",
        "a; DROP TABLE raster_catalogs", "x\"y", "", "1abc", "t-x", "ümlaut", String(repeating: "t", count: 64),
    ]

    @Test("store and reserved table names are refused, naming the field, and the store still opens")
    func reservedTableNames() throws {
        let directory = TemporaryDirectory()
        defer { directory.remove() }
        let path = directory.file("catalog.gpkg")
        let store = try CatalogStore(location: path)
        let name = try CatalogName("alice.images")
        for tableName in Self.hostileTableNames {
            #expect(throws: CatalogError.self, "\(tableName)") {
                do {
                    try store.createCatalog(name, configuration: AttributesConfiguration(tableName: tableName))
                } catch let CatalogError.invalidConfiguration(field, _) {
                    #expect(field == "target.attributesConfiguration.tableName", "\(tableName)")
                    throw CatalogError.invalidConfiguration(field: field, message: "")
                }
            }
        }
        #expect(try store.catalogs().isEmpty)
        store.close()
        // The data folder still works: it reopens, takes a catalog and finds its items.
        let reopened = try CatalogStore(location: path)
        defer { reopened.close() }
        try reopened.createCatalog(name, configuration: AttributesConfiguration(attributes: [
            AttributeDefinition(attributeName: "name"),
        ]))
        try reopened.insert(CatalogStoreTests.item("1", west: 0, south: 0, attributes: ["name": .string("a")]), into: name)
        #expect(try reopened.items(in: name).map(\.system.id) == ["1"])
        #expect(try reopened.catalogs().map(\.tableName) == ["alice__images"])
    }

    @Test("columns may not shadow fid, the geometry column or the system fields")
    func reservedColumns() throws {
        let directory = TemporaryDirectory()
        defer { directory.remove() }
        let store = try CatalogStore(location: directory.file("catalog.gpkg"))
        defer { store.close() }
        let name = try CatalogName("alice.images")
        let cases: [(AttributesConfiguration, String)] = [
            (AttributesConfiguration(attributes: [AttributeDefinition(attributeName: "fid")]), "attributes[0].attributeName"),
            (AttributesConfiguration(attributes: [AttributeDefinition(attributeName: "x", columnName: "FID")]),
             "attributes[0].columnName"),
            (AttributesConfiguration(attributes: [AttributeDefinition(attributeName: "x", columnName: "footprint")]),
             "attributes[0].columnName"),
            (AttributesConfiguration(geometryAttribute: "shape", attributes: [AttributeDefinition(attributeName: "Shape")]),
             "attributes[0].attributeName"),
            (AttributesConfiguration(attributes: [AttributeDefinition(attributeName: "x", columnName: "item_id")]),
             "attributes[0].columnName"),
            (AttributesConfiguration(attributes: [AttributeDefinition(attributeName: "x", columnName: "sha256")]),
             "attributes[0].columnName"),
            (AttributesConfiguration(geometryAttribute: "fid"), "geometryAttribute"),
            (AttributesConfiguration(geometryAttribute: "source_file"), "geometryAttribute"),
            (AttributesConfiguration(geometryAttribute: "geom; --"), "geometryAttribute"),
            (AttributesConfiguration(attributes: [AttributeDefinition(attributeName: String(repeating: "a", count: 64))]),
             "attributes[0].attributeName"),
        ]
        for (configuration, field) in cases {
            #expect {
                try store.createCatalog(name, configuration: configuration)
            } throws: { error in
                guard case let .invalidConfiguration(reported, _) = error as? CatalogError else { return false }
                return reported == "target.attributesConfiguration.\(field)"
            }
        }
        #expect(try store.catalogs().isEmpty)
    }

    @Test("tables carry their namespace, so one namespace never takes another's table")
    func namespacedTables() throws {
        let directory = TemporaryDirectory()
        defer { directory.remove() }
        let store = try CatalogStore(location: directory.file("catalog.gpkg"))
        defer { store.close() }
        // bob tries to squat the tables alice's catalogs would get.
        try store.createCatalog(try CatalogName("bob.squat"), configuration: AttributesConfiguration(tableName: "alice__future"))
        try store.createCatalog(try CatalogName("bob.squat2"), configuration: AttributesConfiguration(tableName: "future"))
        try store.createCatalog(try CatalogName("bob.ALICE"), configuration: AttributesConfiguration())
        try store.createCatalog(try CatalogName("alice.future"), configuration: AttributesConfiguration())
        try store.createCatalog(try CatalogName("alice.other"), configuration: AttributesConfiguration(tableName: "Landsat"))
        try store.createCatalog(try CatalogName("alice.prefixed"), configuration: AttributesConfiguration(tableName: "alice__mine"))
        try store.createCatalog(try CatalogName("temp_alice.stage"), configuration: AttributesConfiguration())
        let tables = Dictionary(uniqueKeysWithValues: try store.catalogs().map { ($0.name.description, $0.tableName) })
        #expect(tables == [
            "bob.squat": "bob__alice__future", "bob.squat2": "bob__future", "bob.ALICE": "bob__alice",
            "alice.future": "alice__future", "alice.other": "alice__landsat", "alice.prefixed": "alice__mine",
            "temp_alice.stage": "temp_alice__stage",
        ])
        // Within one namespace, a table already taken (in any letter case) is a conflict.
        for (catalog, tableName) in [("alice.again", "LANDSAT"), ("alice.twice", "future"), ("alice.mine", nil as String?)] {
            #expect(throws: CatalogError.alreadyExists("table \(tableName.map { "alice__\($0.lowercased())" } ?? "alice__mine") "
                + "is already used by another catalog")) {
                try store.createCatalog(try CatalogName(catalog), configuration: AttributesConfiguration(tableName: tableName))
            }
        }
        // Namespaces that would make the prefix ambiguous or reserved are not names.
        for text in ["a__b.x", "alice_.x", "gpkg.x", "sqlite.x", "tile.x", "rtree_a.x", "Tile_x.y"] {
            #expect(throws: CatalogError.self, "\(text)") { try CatalogName(text) }
        }
    }
}
