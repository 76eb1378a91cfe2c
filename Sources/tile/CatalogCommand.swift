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
            guard let library = try data.existingLibraryIfStarted() else { return }
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
            let library = try data.existingLibrary()
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
            Limits: \(Condition.maximumLength) characters, \(Condition.maximumTerms) comparisons, \
            \(Condition.maximumListItems) values in one IN list, \(Condition.maximumDepth) levels of nested \
            parentheses and NOT.
            --bbox with west > east selects across the antimeridian (e.g. 170,-20,-170,-10).
            With --limit, the collection has numberMatched, numberReturned and, while more items follow,
            "next": pass it to --cursor for the next page.
            """)
        @OptionGroup var data: DataDirectoryOption
        @Argument(help: "The catalog, namespace.name.") var catalog: CatalogName
        // Taken unconditionally: a western or southern bound starts with '-' (--bbox -80,20,-70,30).
        @Option(parsing: .unconditional,
                help: "Only items whose footprint intersects west,south,east,north (EPSG:4326).") var bbox: String?
        @Option(name: .customLong("where"), help: "Only items matching this condition.") var condition: String?
        @Option(help: "At most this many items (default: all).") var limit: Int?
        @Option(help: "Start after this position: the \"next\" of the previous page.") var cursor: String?
        @Option(help: "Skip this many items first (slow on large catalogs: prefer --cursor).") var offset: Int = 0

        func validate() throws {
            if let limit, limit < 1 { throw ValidationError("--limit must be 1 or more") }
            if offset < 0 { throw ValidationError("--offset must be 0 or more") }
            if cursor != nil, offset > 0 { throw ValidationError("--cursor and --offset cannot be combined") }
        }

        func run() async throws {
            let library = try data.existingLibrary()
            defer { library.close() }
            _ = try existing(catalog, in: library)
            let envelope = try bbox.map(Self.parseBoundingBox)
            do {
                let query = ItemQuery(bbox: envelope, condition: condition, limit: limit,
                                      cursor: try cursor.map(PageCursor.init), offset: offset)
                let page = try library.store.page(of: catalog, query: query, countMatches: limit != nil)
                var extra: [String: JSONValue] = [:]
                if let matched = page.numberMatched {
                    extra["numberMatched"] = .int(Int64(matched))
                    extra["numberReturned"] = .int(Int64(page.items.count))
                }
                if let next = page.next { extra["next"] = .string(next.description) }
                try Output.printJSON(try geoJSONFeatureCollection(page.items, extra: extra))
            } catch let error as CatalogError {
                throw ValidationError(error.description)
            }
        }

        static func parseBoundingBox(_ text: String) throws -> Envelope {
            guard let envelope = Envelope.parse(text) else {
                throw ValidationError("--bbox takes west,south,east,north in degrees, e.g. 10,50,11,51 "
                    + "(west > east crosses the antimeridian: 170,-20,-170,-10)")
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
            let library = try data.existingLibrary()
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
