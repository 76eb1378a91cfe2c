import ArgumentParser
import Catalog
import Foundation
import Raster
import Tiling

struct CatalogCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "catalog",
        abstract: "List, show, query and delete raster catalogs.",
        subcommands: [List.self, Show.self, Items.self, Delete.self])

    struct List: AsyncParsableCommand {
        static let configuration = CommandConfiguration(abstract: "List catalogs, optionally of one namespace.")
        @OptionGroup var data: DataDirectoryOption
        @Argument(help: "Only catalogs in this namespace.") var namespace: String?

        func run() async throws {
            let library = try RasterLibrary(directory: data.dataDir)
            defer { library.close() }
            for info in try library.store.catalogs(namespace: namespace) {
                print("\(info.name)\t\(info.itemCount) items")
            }
        }
    }

    struct Show: AsyncParsableCommand {
        static let configuration = CommandConfiguration(abstract: "A catalog's configuration, item count and extent (JSON).")
        @OptionGroup var data: DataDirectoryOption
        @Argument(help: "The catalog, namespace.name.") var catalog: CatalogName

        func run() async throws {
            let library = try RasterLibrary(directory: data.dataDir)
            defer { library.close() }
            try Output.printJSON(try existing(catalog, in: library))
        }
    }

    struct Items: AsyncParsableCommand {
        static let configuration = CommandConfiguration(
            abstract: "A catalog's items as a GeoJSON FeatureCollection.",
            discussion: """
            --where takes conditions on attribute names and system fields, e.g.
              --where "name = 'Landsat 8' AND (cloud < 20 OR cloud IS NULL) AND width >= 512"
            Operators: = != <> < <= > >=, LIKE, IN (...), BETWEEN a AND b, IS [NOT] NULL, AND, OR, NOT.
            """)
        @OptionGroup var data: DataDirectoryOption
        @Argument(help: "The catalog, namespace.name.") var catalog: CatalogName
        @Option(help: "Only items whose footprint intersects west,south,east,north (EPSG:4326).") var bbox: String?
        @Option(name: .customLong("where"), help: "Only items matching this condition.") var condition: String?
        @Option(help: "At most this many items.") var limit: Int?
        @Option(help: "Skip this many items first.") var offset: Int = 0

        func run() async throws {
            let library = try RasterLibrary(directory: data.dataDir)
            defer { library.close() }
            _ = try existing(catalog, in: library)
            let envelope = try bbox.map(Self.parseBoundingBox)
            do {
                let items = try library.store.items(in: catalog, bbox: envelope, condition: condition, limit: limit,
                                                    offset: offset)
                try Output.printJSON(try geoJSONFeatureCollection(items))
            } catch let error as CatalogError {
                throw ValidationError(error.description)
            }
        }

        static func parseBoundingBox(_ text: String) throws -> Envelope {
            guard let envelope = Envelope.parse(text) else {
                throw ValidationError("--bbox takes west,south,east,north in degrees, e.g. 10,50,11,51")
            }
            return envelope
        }
    }

    struct Delete: AsyncParsableCommand {
        static let configuration = CommandConfiguration(abstract: "Delete a catalog, or one item of it, with the stored rasters.")
        @OptionGroup var data: DataDirectoryOption
        @Argument(help: "The catalog, namespace.name.") var catalog: CatalogName
        @Option(help: "Delete only this item.") var item: String?

        func run() async throws {
            let library = try RasterLibrary(directory: data.dataDir)
            defer { library.close() }
            _ = try existing(catalog, in: library)
            if let item {
                guard try library.deleteItem(id: item, in: catalog) else {
                    throw ValidationError("catalog \(catalog) has no item \(item)")
                }
                print("deleted item \(item) of \(catalog)")
            } else {
                try library.deleteCatalog(catalog)
                print("deleted catalog \(catalog)")
            }
        }
    }
}

private func existing(_ name: CatalogName, in library: RasterLibrary) throws -> CatalogInfo {
    guard let info = try library.store.catalog(name) else {
        throw ValidationError("catalog \(name) does not exist (see: tile catalog list)")
    }
    return info
}
