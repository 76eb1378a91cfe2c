import Catalog
import Foundation
import Raster
import TestSupport
import Testing

@Suite("catalog store: schema, indexes, counts, closing")
struct CatalogSchemaTests {
    static func item(_ id: String, west: Double, south: Double, size: Double = 1) -> NewCatalogItem {
        CatalogStoreTests.item(id, west: west, south: south, size: size, attributes: [:])
    }

    @Test("every item table has indexes for lookups by item id, checksum and source file")
    func lookupIndexes() throws {
        let directory = TemporaryDirectory()
        defer { directory.remove() }
        let store = try CatalogStore(location: directory.file("catalog.gpkg"))
        defer { store.close() }
        for (name, table) in [("alice.a", nil), ("alice.b", "custom_table"), ("bob.c", nil)] {
            let catalog = try CatalogName(name)
            try store.createCatalog(catalog, configuration: AttributesConfiguration(tableName: table))
            #expect(try store.indexedColumns(ofCatalog: catalog).isSuperset(of: ["item_id", "sha256", "source_file"]))
        }
        #expect(store.schemaVersion == CatalogSchema.current && !store.needsMigration)
    }

    @Test("count and extent include what another connection added since, without reopening")
    func freshCountAndExtent() throws {
        let directory = TemporaryDirectory()
        defer { directory.remove() }
        let path = directory.file("catalog.gpkg")
        let reader = try CatalogStore(location: path)
        defer { reader.close() }
        let name = try CatalogName("alice.grow")
        try reader.createCatalog(name, configuration: AttributesConfiguration())
        #expect(try reader.catalog(name)?.itemCount == 0 && reader.catalog(name)?.extent == nil)
        let writer = try CatalogStore(location: path)
        defer { writer.close() }
        try writer.insert(Self.item("1", west: 10, south: 50), into: name)
        #expect(try reader.catalog(name)?.itemCount == 1 && reader.catalog(name)?.extent == [10, 50, 11, 51])
        try writer.insert(Self.item("22", west: -20, south: -10, size: 2), into: name)
        try writer.insert(Self.item("333", west: 100, south: 60, size: 4), into: name)
        let info = try #require(try reader.catalog(name))
        #expect(info.itemCount == 3 && info.extent == [-20, -10, 104, 64])
        try reader.deleteItem(id: "333", in: name)
        #expect(try writer.catalog(name)?.itemCount == 2 && writer.catalog(name)?.extent == [-20, -10, 11, 51])
        #expect(try reader.catalogs().map(\.itemCount) == [2])
    }

    @Test("using a closed store throws instead of crashing")
    func useAfterClose() throws {
        let directory = TemporaryDirectory()
        defer { directory.remove() }
        let store = try CatalogStore(location: directory.file("catalog.gpkg"))
        let name = try CatalogName("alice.closed")
        try store.createCatalog(name, configuration: AttributesConfiguration())
        store.close()
        store.close()
        #expect(throws: CatalogError.closed) { try store.catalogs() }
        #expect(throws: CatalogError.closed) { try store.catalog(name) }
        #expect(throws: CatalogError.closed) { try store.items(in: name) }
        #expect(throws: CatalogError.closed) { try store.insert(Self.item("1", west: 0, south: 0), into: name) }
        #expect(throws: CatalogError.closed) { try store.deleteCatalog(name) }
        #expect(throws: CatalogError.closed) { try store.createCatalog(try CatalogName("alice.other"), configuration: AttributesConfiguration()) }
    }

    @Test("a store stamped by a newer release is refused, naming both versions")
    func newerSchema() throws {
        let directory = TemporaryDirectory()
        defer { directory.remove() }
        let path = directory.file("catalog.gpkg")
        try CatalogStore(location: path).close()
        for version in [String(CatalogSchema.current + 1), "99"] {
            try DataFolder.sqlite(path, "UPDATE tile_metadata SET value = '\(version)' WHERE key = 'schema_version'")
            #expect(throws: CatalogError.newerSchema(found: Int(version)!, known: CatalogSchema.current)) {
                try CatalogStore(location: path)
            }
        }
        try DataFolder.sqlite(path, "UPDATE tile_metadata SET value = '\(CatalogSchema.current)' WHERE key = 'schema_version'")
        try CatalogStore(location: path).close()
    }
}
