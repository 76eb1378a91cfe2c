import Catalog
import Foundation
import Raster
import TestSupport
import Testing

@Suite("catalog store")
struct CatalogStoreTests {
    static let configuration = AttributesConfiguration(
        idAttribute: "id", titleAttribute: "name", tableName: "landsat",
        attributes: [
            AttributeDefinition(attributeName: "name", type: .string),
            AttributeDefinition(attributeName: "dateofimage", type: .dateTime),
            AttributeDefinition(attributeName: "cloud", columnName: "cloud_cover", type: .double),
            AttributeDefinition(attributeName: "path_row", type: .int32),
            AttributeDefinition(attributeName: "checked", type: .boolean),
            AttributeDefinition(attributeName: "extra", type: .json),
        ])

    static func item(_ id: String, west: Double, south: Double, size: Double = 1,
                     attributes: [String: JSONValue]) -> NewCatalogItem {
        let east = west + size, north = south + size
        let system = SystemFields(
            id: id, sourceFile: "\(id).tif", path: "/data/\(id).tif", sizeBytes: 1234, sha256: String(repeating: "a", count: 63) + id.prefix(1),
            width: 100, height: 100, bandCount: 3, dataType: "Byte", crs: "EPSG:4326", resolutionX: 0.01,
            resolutionY: 0.01, nodata: "0", overviewLevels: 0, tiles: 1, cog: true, bbox: [west, south, east, north],
            nativeCrs: "EPSG:4326", nativeBbox: [west, south, east, north], nativeFootprint: "POLYGON EMPTY",
            footprintVertices: 5, createdAt: "2024-05-01T10:00:00.000Z")
        let wkt = "POLYGON ((\(west) \(south),\(east) \(south),\(east) \(north),\(west) \(north),\(west) \(south)))"
        return NewCatalogItem(system: system, attributes: attributes, footprintWKT: wkt)
    }

    func withStore(_ body: (CatalogStore, String) throws -> Void) throws {
        let directory = TemporaryDirectory()
        defer { directory.remove() }
        let path = directory.file("catalog.gpkg")
        try body(try CatalogStore(location: path), path)
    }

    @Test("a catalog is created once, kept across reopening, and refused with another configuration")
    func createAndReopen() throws {
        try withStore { store, path in
            let name = try CatalogName("alice.landsat")
            var configuration = Self.configuration
            configuration.attributes[0].stringFormat = .object(["format": .string("{0}")])
            try store.createCatalog(name, configuration: configuration)
            #expect(try store.createCatalog(name, configuration: configuration).name == name)
            #expect(throws: CatalogError.self) { try store.createCatalog(name, configuration: Self.configuration) }
            let reopened = try CatalogStore(location: path)
            let info = try #require(try reopened.catalog(name))
            #expect(info.configuration == configuration)
            #expect(info.tableName == "alice__landsat" && info.itemCount == 0 && info.extent == nil)
            #expect(try reopened.catalogs(namespace: "alice").map(\.name) == [name])
            #expect(try reopened.catalogs(namespace: "bob").isEmpty)
        }
    }

    @Test("configurations with unsafe or clashing names are refused, naming the field")
    func invalidConfigurations() throws {
        try withStore { store, _ in
            let name = try CatalogName("alice.bad")
            let cases: [(AttributesConfiguration, String)] = [
                (AttributesConfiguration(attributes: [AttributeDefinition(attributeName: "x", columnName: "a; DROP TABLE raster_catalogs")]),
                 "attributes[0].columnName"),
                (AttributesConfiguration(attributes: [AttributeDefinition(attributeName: "width")]), "attributes[0]"),
                (AttributesConfiguration(attributes: [AttributeDefinition(attributeName: "a"), AttributeDefinition(attributeName: "A")]),
                 "attributes[1]"),
                (AttributesConfiguration(tableName: "t\"x"), "tableName"),
                (AttributesConfiguration(titleAttribute: "missing"), "titleAttribute"),
            ]
            for (configuration, field) in cases {
                #expect {
                    try store.createCatalog(name, configuration: configuration)
                } throws: { error in
                    guard case let .invalidConfiguration(reported, _) = error as? CatalogError else { return false }
                    return reported.hasSuffix(field)
                }
            }
            #expect(try store.catalogs().isEmpty)
            #expect(throws: CatalogError.self) { try CatalogName("alice") }
            #expect(throws: CatalogError.self) { try CatalogName("../etc.passwd") }
        }
    }

    @Test("attribute values are checked against their types")
    func valueTypes() throws {
        let configuration = Self.configuration
        let normalised = try configuration.validateValues([
            "name": .string("Landsat-8"), "dateofimage": .string("2023-12-08T12:00:00+03:00"),
            "cloud": .int(3), "path_row": .int(42), "checked": .bool(true), "extra": .object(["a": .int(1)]),
        ])
        #expect(normalised["dateofimage"] == .string("2023-12-08T09:00:00.000Z"))
        #expect(normalised["cloud"] == .double(3))
        let refused: [[String: JSONValue]] = [
            ["unknown": .string("x")], ["name": .int(3)], ["path_row": .int(Int64(Int32.max) + 1)],
            ["path_row": .double(1.5)], ["checked": .string("yes")], ["dateofimage": .string("yesterday")],
        ]
        for values in refused {
            #expect(throws: CatalogError.self, "\(values)") { try configuration.validateValues(values) }
        }
    }

    @Test("items are queried by footprint and by condition, and exported as GeoJSON")
    func queries() throws {
        try withStore { store, _ in
            let name = try CatalogName("alice.landsat")
            try store.createCatalog(name, configuration: Self.configuration)
            try store.insert(Self.item("1", west: 10, south: 50, attributes: [
                "name": .string("O'Hare"), "cloud": .double(5), "dateofimage": .string("2023-12-08T12:00:00Z"),
                "checked": .bool(true), "extra": .array([.int(1)]),
            ]), into: name)
            try store.insert(Self.item("2", west: 20, south: 50, attributes: ["name": .string("b"), "cloud": .double(40)]), into: name)
            try store.insert(Self.item("3", west: 30, south: 50, attributes: ["name": .string("c")]), into: name)

            #expect(try store.items(in: name).count == 3)
            #expect(try store.items(in: name, bbox: Envelope(minX: 10.5, minY: 50.5, maxX: 20.5, maxY: 51)).map(\.system.id) == ["1", "2"])
            #expect(try store.items(in: name, condition: "cloud < 10 OR cloud IS NULL").map(\.system.id) == ["1", "3"])
            #expect(try store.items(in: name, condition: "name = 'O''Hare' AND checked = true").map(\.system.id) == ["1"])
            #expect(try store.items(in: name, condition: "name IN ('b', 'c') AND NOT name LIKE 'c%'").map(\.system.id) == ["2"])
            #expect(try store.items(in: name, condition: "width >= 100 AND sourceFile = '3.tif'").map(\.system.id) == ["3"])
            #expect(try store.items(in: name, condition: "dateofimage > '2023-01-01'").map(\.system.id) == ["1"])
            #expect(try store.items(in: name, limit: 1, offset: 1).map(\.system.id) == ["2"])

            let first = try #require(try store.item(id: "1", in: name))
            #expect(first.attributes["extra"] == .array([.int(1)]))
            #expect(first.attributes["dateofimage"] == .string("2023-12-08T12:00:00.000Z"))
            #expect(first.system.bbox == [10, 50, 11, 51] && first.system.cog)
            let feature = try first.geoJSONFeature()
            guard case let .object(object) = feature, case let .object(properties)? = object["properties"] else {
                Issue.record("not a feature: \(feature)")
                return
            }
            #expect(properties["sourceFile"] == .string("1.tif") && properties["path"] == .string("/data/1.tif"))
            #expect(properties["name"] == .string("O'Hare"))
            guard case let .object(geometry)? = object["geometry"] else { Issue.record("no geometry"); return }
            #expect(geometry["type"] == .string("MultiPolygon"))

            let info = try store.requireCatalog(name)
            #expect(info.itemCount == 3 && info.extent == [10, 50, 31, 51])
        }
    }

    @Test("pages of a bbox query come in insertion order even when the R-tree reads them in another")
    func spatialPagesInKeyOrder() throws {
        try withStore { store, _ in
            let name = try CatalogName("alice.scattered")
            try store.createCatalog(name, configuration: AttributesConfiguration())
            // Inserted in an order unrelated to place, so the R-tree's order is not the insertion order.
            for index in 0..<600 {
                let cell = (index * 7919) % 600
                try store.insert(Self.item("item\(index)", west: Double(cell % 30), south: Double(cell / 30), size: 0.5,
                                           attributes: [:]), into: name)
            }
            let box = try #require(Envelope.parse("2,3,25,17"))
            let all = try store.items(in: name, bbox: box).map(\.system.id)
            var paged: [String] = []
            var query = ItemQuery(bbox: box, limit: 37)
            while true {
                let page = try store.page(of: name, query: query, countMatches: false)
                paged += page.items.map(\.system.id)
                guard let next = page.next else { break }
                query.cursor = next
            }
            let inserted = (0..<600).map { "item\($0)" }.filter(Set(all).contains)
            #expect(all.count == 24 * 15)
            #expect(paged == inserted, "every page in insertion order, nothing lost or repeated")
            let elsewhere = try #require(Envelope.parse("100,60,101,61"))
            #expect(try store.tileLookup(in: name, query: ItemQuery(bbox: box)) { _ in true }.anyItem)
            #expect(try !store.tileLookup(in: name, query: ItemQuery(bbox: elsewhere)) { _ in true }.anyItem)
            let lookup = try store.tileLookup(in: name, query: ItemQuery(bbox: box, limit: 5)) { _ in false }
            let revision = try store.revision(of: name)
            #expect(lookup.items?.map(\.system.id) == Array(inserted.prefix(5)) && lookup.revision == revision)
        }
    }

    @Test("a new store appears whole: creators at once share one, and half-made ones of killed processes are swept")
    func atomicCreation() throws {
        let directory = TemporaryDirectory()
        defer { directory.remove() }
        let path = directory.file("catalog.gpkg")
        // What a process killed while GDAL wrote the tables leaves: never the store's own name.
        try Data("SQLite format 3\0".utf8).write(to: URL(fileURLWithPath: path + ".creating-killed"))
        let failures = Failures()
        DispatchQueue.concurrentPerform(iterations: 4) { index in
            do {
                let store = try CatalogStore(location: path)
                try store.createCatalog(try CatalogName("alice.c\(index)"), configuration: AttributesConfiguration())
                store.close()
            } catch {
                failures.add("\(error)")
            }
        }
        #expect(failures.all.isEmpty, "\(failures.all)")
        let store = try CatalogStore(location: path)
        defer { store.close() }
        #expect(try store.catalogs().count == 4)
        #expect(try FileManager.default.contentsOfDirectory(atPath: directory.path).filter { $0.contains(".creating-") }.isEmpty)
    }

    @Test("conditions that try to escape the filter are refused")
    func hostileConditions() throws {
        try withStore { store, _ in
            let name = try CatalogName("alice.landsat")
            try store.createCatalog(name, configuration: Self.configuration)
            try store.insert(Self.item("1", west: 10, south: 50, attributes: ["name": .string("a")]), into: name)
            for condition in ["name = 'a'; DROP TABLE landsat", "1 = 1", "name = 'a' OR fid > 0", "name = ", "(name = 'a'",
                              "name = 'a' UNION SELECT * FROM raster_catalogs", "name = 'unterminated"] {
                #expect(throws: CatalogError.self, "\(condition)") { try store.items(in: name, condition: condition) }
            }
            // A quote inside a value stays inside the value.
            #expect(try store.items(in: name, condition: "name = 'a'' OR ''1''=''1'").isEmpty)
            #expect(try store.items(in: name).count == 1)
        }
    }

    @Test("items and catalogs are deleted; deleting returns the stored raster paths")
    func deletion() throws {
        try withStore { store, _ in
            let name = try CatalogName("alice.landsat")
            try store.createCatalog(name, configuration: Self.configuration)
            try store.insert(Self.item("1", west: 10, south: 50, attributes: [:]), into: name)
            try store.insert(Self.item("2", west: 12, south: 50, attributes: [:]), into: name)
            #expect(try store.deleteItem(id: "1", in: name)?.system.path == "/data/1.tif")
            #expect(try store.deleteItem(id: "1", in: name) == nil)
            #expect(try store.deleteCatalog(name) == ["/data/2.tif"])
            #expect(try store.catalog(name) == nil)
            #expect(throws: CatalogError.notFound("catalog alice.landsat")) { try store.items(in: name) }
            try store.createCatalog(name, configuration: Self.configuration)
        }
    }

    @Test("the store is a GeoPackage that ogrinfo reads")
    func ogrinfoReadsIt() throws {
        try withStore { store, path in
            let name = try CatalogName("alice.landsat")
            try store.createCatalog(name, configuration: Self.configuration)
            try store.insert(Self.item("1", west: 10, south: 50, attributes: ["name": .string("a")]), into: name)
            let process = Process()
            process.executableURL = URL(fileURLWithPath: "/usr/bin/ogrinfo")
            process.arguments = ["-ro", "-al", "-so", path, "alice__landsat"]
            let pipe = Pipe()
            process.standardOutput = pipe
            try process.run()
            let output = String(decoding: pipe.fileHandleForReading.readDataToEndOfFile(), as: UTF8.self)
            process.waitUntilExit()
            #expect(process.terminationStatus == 0)
            #expect(output.contains("Feature Count: 1") && output.contains("Multi Polygon"))
            #expect(output.contains("cloud_cover: Real") && output.contains("dateofimage: DateTime"))
        }
    }
}

private final class Failures: @unchecked Sendable {
    private let lock = NSLock()
    private var messages: [String] = []
    func add(_ message: String) { lock.withLock { messages.append(message) } }
    var all: [String] { lock.withLock { messages } }
}
