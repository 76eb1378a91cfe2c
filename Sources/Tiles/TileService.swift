import Catalog
import Crypto
import Foundation
import Raster

/// Map tiles of catalogs: finds the items under a tile in the catalog's R-tree, decides the ETag
/// before any pixel is read, and renders on the render threads.
public final class TileService: Sendable {
    /// What a tile request gets back.
    public enum Reply: Sendable {
        case image(Data, etag: String)
        /// Nothing under the tile: a transparent tile shared by every such request.
        case empty(Data, etag: String)
        /// The client's copy (`If-None-Match`) is current.
        case notModified(etag: String)
    }

    /// A mosaic tile draws at most this many items; more is refused (see `tooManyItems`).
    public static let maxItemsPerTile = 1000
    /// Changes whenever tiles would look different for the same catalog and request.
    static let rendererVersion = "1"

    let store: CatalogStore
    let workers: RenderWorkers
    let absolutePath: @Sendable (String) -> String
    let overviews: CatalogOverviews?
    private let statistics = StatisticsCache()
    private let emptyTiles = EmptyTiles()

    /// - Parameters:
    ///   - absolutePath: where an item's stored path is on disk.
    ///   - overviews: the low-resolution mosaics low zooms are drawn from, if kept.
    public init(store: CatalogStore, workers: RenderWorkers, overviews: CatalogOverviews? = nil,
                absolutePath: @escaping @Sendable (String) -> String) {
        self.store = store
        self.workers = workers
        self.overviews = overviews
        self.absolutePath = absolutePath
    }

    /// A tile of the catalog's mosaic: the items matching `condition`, the first in `order` on top
    /// (default: the newest).
    public func mosaicTile(_ catalog: CatalogName, tile: TileCoordinate, name: TileName, options: RenderOptions,
                           condition: String?, order: ItemOrder?, ifNoneMatch: String?) async throws -> Reply {
        try await workers.run(for: catalog.namespace) { [self] cache in
            let extra = ["mosaic", condition ?? "", order?.description ?? ""]
            let query = ItemQuery(bbox: tile.searchEnvelope, condition: condition, limit: Self.maxItemsPerTile + 1)
            var overview: Overview?
            // The revision read before the items: a change in between cannot pair new content with an old tag.
            let lookup = try store.tileLookup(in: catalog, query: query) { revision in
                guard condition == nil, order == nil else { return false }
                overview = overviews?.current(for: catalog, revision: revision, zoom: tile.z)
                return overview != nil
            }
            let tag = etag(lookup.revision, tile, name, options, extra: extra)
            if matches(ifNoneMatch, tag) { return .notModified(etag: tag) }
            guard lookup.anyItem else { return .empty(emptyTiles.tile(name), etag: tag) }
            if let overview {
                let renderer = TileRenderer(tile: tile, scale: name.scale, format: name.format, options: options,
                                            statistics: overview.statistics)
                let source = TileSource(path: overview.path, bands: overview.bands)
                guard let data = try renderer.render([source], cache: cache) else { return .empty(emptyTiles.tile(name), etag: tag) }
                return .image(data, etag: tag)
            }
            let found = lookup.items ?? []
            guard found.count <= Self.maxItemsPerTile else { throw TileServiceError.tooManyItems(Self.maxItemsPerTile) }
            let items = order.map { $0.sorted(found) } ?? found.reversed()
            let needsStatistics = options.rescale == nil && items.contains { item in
                item.system.bands?.contains { $0.dataType != "Byte" && $0.palette == nil } ?? true
            }
            let ranges = needsStatistics ? try statistics.ranges(catalog, revision: lookup.revision, store: store) : nil
            let renderer = TileRenderer(tile: tile, scale: name.scale, format: name.format, options: options, statistics: ranges)
            guard let data = try renderer.render(items.map(source), cache: cache) else {
                return .empty(emptyTiles.tile(name), etag: tag)
            }
            return .image(data, etag: tag)
        }
    }

    /// A tile of one item, stretched by its own statistics.
    public func itemTile(_ catalog: CatalogName, id: String, tile: TileCoordinate, name: TileName,
                         options: RenderOptions, ifNoneMatch: String?) async throws -> Reply {
        try await workers.run(for: catalog.namespace) { [self] cache in
            let (revision, found) = try store.revisionAndItem(id: id, in: catalog)
            guard let item = found else { throw CatalogError.notFound("item \(id)") }
            let tag = etag(revision, tile, name, options, extra: ["item", id])
            if matches(ifNoneMatch, tag) { return .notModified(etag: tag) }
            let renderer = TileRenderer(tile: tile, scale: name.scale, format: name.format, options: options)
            guard tile.searchEnvelope.intersects(item.system.bbox),
                  let data = try renderer.render([source(item)], cache: cache) else {
                return .empty(emptyTiles.tile(name), etag: tag)
            }
            return .image(data, etag: tag)
        }
    }

    /// Builds the overviews of catalogs that changed and settled (see `CatalogOverviews.refresh`).
    public func refreshOverviews() throws -> [CatalogName] {
        try overviews?.refresh(store: store, absolutePath: absolutePath) ?? []
    }

    /// Stretch ranges by band number over `items`: the lowest 2nd and highest 98th percentile (or
    /// minimum and maximum) of each data band; a range of one value is widened by one.
    static func catalogStretch(of items: [CatalogItem]) -> [Int: ClosedRange<Double>] {
        var ranges: [Int: ClosedRange<Double>] = [:]
        for item in items {
            for (index, band) in (item.system.bands ?? []).filter({ !$0.isAlpha }).enumerated() {
                guard let low = band.percentile2 ?? band.minimum, let high = band.percentile98 ?? band.maximum else { continue }
                let current = ranges[index + 1]
                ranges[index + 1] = min(low, current?.lowerBound ?? low)...max(high, current?.upperBound ?? high)
            }
        }
        return ranges.mapValues { $0.lowerBound < $0.upperBound ? $0 : $0.lowerBound...($0.lowerBound + 1) }
    }

    /// Waits for tiles being drawn and stops the render threads.
    public func stop() async {
        await workers.stop()
    }

    private func source(_ item: CatalogItem) -> TileSource {
        TileSource(path: absolutePath(item.system.path), bands: item.system.bands,
                   wrapsAntimeridian: Self.antimeridianSide(item.system))
    }

    /// +1 or -1 for a raster in geographic coordinates stored past 180° east or west (drawn again a
    /// world-width away); 0 for the rest, which GDAL maps onto both edges by itself.
    static func antimeridianSide(_ system: SystemFields) -> Int {
        let native = system.nativeBbox
        guard native.count == 4, system.nativeCrs.hasPrefix("GEOG") else { return 0 }
        if native[2] > 180 { return 1 }
        if native[0] < -180 { return -1 }
        return 0
    }

    private func etag(_ revision: String, _ tile: TileCoordinate, _ name: TileName, _ options: RenderOptions,
                      extra: [String]) -> String {
        let key = ([Self.rendererVersion, revision, tile.description, String(name.scale), name.format.rawValue,
                    options.canonicalText] + extra).joined(separator: "\n")
        let hex = Array("0123456789abcdef")
        let digest = String(SHA256.hash(data: Data(key.utf8)).prefix(16).flatMap { [hex[Int($0 >> 4)], hex[Int($0 & 15)]] })
        return "\"\(digest)\""
    }

    private func matches(_ ifNoneMatch: String?, _ tag: String) -> Bool {
        guard let ifNoneMatch else { return false }
        return ifNoneMatch.split(separator: ",").contains { candidate in
            let value = candidate.trimmingCharacters(in: .whitespaces)
            return value == "*" || value == tag || value == "W/" + tag
        }
    }
}

public enum TileServiceError: Error, CustomStringConvertible {
    case tooManyItems(Int)

    public var description: String {
        switch self {
        case let .tooManyItems(limit):
            return "more than \(limit) items lie under this tile: zoom in or narrow the condition"
        }
    }
}

/// Which item is drawn on top where items overlap: `ATTRIBUTE asc|desc`, the first on top.
public struct ItemOrder: Sendable, CustomStringConvertible {
    public var attribute: String
    public var descending: Bool

    /// System fields an order may name (those with one value per item).
    static let systemKeys = ["id", "sourceFile", "sizeBytes", "width", "height", "bandCount", "dataType",
                             "resolutionX", "resolutionY", "overviewLevels", "createdAt"]

    public init(_ text: String, configuration: AttributesConfiguration) throws {
        let parts = text.split(separator: " ").map(String.init)
        guard (1...2).contains(parts.count), parts.count == 1 || ["asc", "desc"].contains(parts[1].lowercased()) else {
            throw TileRequestError.invalid(parameter: "order", message: "give an attribute and asc or desc, e.g. order=cloud_cover asc")
        }
        let known = configuration.attributes.map(\.attributeName) + Self.systemKeys
        guard known.contains(parts[0]) else {
            throw TileRequestError.invalid(parameter: "order", message: "the catalog has no attribute \(parts[0].prefix(64))")
        }
        attribute = parts[0]
        descending = parts.count == 2 && parts[1].lowercased() == "desc"
    }

    public var description: String { "\(attribute) \(descending ? "desc" : "asc")" }

    /// The items in this order; those without a value come last, ties keep the newest first.
    func sorted(_ items: [CatalogItem]) -> [CatalogItem] {
        let keyed = items.reversed().enumerated().map { position, item in
            (position, item, item.attributes[attribute] ?? (try? JSONValue.from(item.system))?.field(attribute) ?? .null)
        }
        return keyed.sorted { first, second in
            switch (first.2, second.2) {
            case (.null, .null): return first.0 < second.0
            case (.null, _): return false
            case (_, .null): return true
            case let (a, b):
                if a == b { return first.0 < second.0 }
                return descending ? Self.ascending(b, a) : Self.ascending(a, b)
            }
        }.map(\.1)
    }

    /// Numbers by value, text by code points, false before true; across kinds, by kind.
    private static func ascending(_ a: JSONValue, _ b: JSONValue) -> Bool {
        switch (a, b) {
        case let (.string(x), .string(y)): return x < y
        case let (.bool(x), .bool(y)): return !x && y
        default:
            if let x = a.number, let y = b.number { return x < y }
            return a.kindRank < b.kindRank
        }
    }
}

private extension JSONValue {
    var number: Double? {
        switch self {
        case let .int(value): return Double(value)
        case let .double(value): return value
        default: return nil
        }
    }

    var kindRank: Int {
        switch self {
        case .null: return 0
        case .bool: return 1
        case .int, .double: return 2
        case .string: return 3
        case .array: return 4
        case .object: return 5
        }
    }

    func field(_ key: String) -> JSONValue? {
        guard case let .object(fields) = self else { return nil }
        return fields[key]
    }
}

extension TileCoordinate {
    /// The tile's box in degrees for the catalog's R-tree.
    var searchEnvelope: Envelope {
        let b = geographicBounds
        return Envelope(minX: b[0], minY: b[1], maxX: b[2], maxY: b[3])
    }
}

extension Envelope {
    func intersects(_ box: [Double]) -> Bool {
        guard box.count == 4 else { return true }
        return box[0] <= maxX && box[2] >= minX && box[1] <= maxY && box[3] >= minY
    }
}

/// Catalog-wide stretch ranges by band number, computed once per catalog revision: the lowest 2nd
/// and highest 98th percentile of the items' bands.
private final class StatisticsCache: @unchecked Sendable {
    private let lock = NSLock()
    private var entries: [String: (revision: String, ranges: [Int: ClosedRange<Double>])] = [:]

    func ranges(_ catalog: CatalogName, revision: String, store: CatalogStore) throws -> [Int: ClosedRange<Double>] {
        let key = catalog.description
        if let entry = lock.withLock({ entries[key] }), entry.revision == revision { return entry.ranges }
        let ranges = TileService.catalogStretch(of: try store.items(in: catalog))
        lock.withLock { entries[key] = (revision, ranges) }
        return ranges
    }
}

/// Fully transparent tiles, encoded once per size and format.
private final class EmptyTiles: @unchecked Sendable {
    private let lock = NSLock()
    private var tiles: [String: Data] = [:]

    func tile(_ name: TileName) -> Data {
        let key = "\(name.scale)-\(name.format.rawValue)"
        if let tile = lock.withLock({ tiles[key] }) { return tile }
        let size = WebMercatorQuad.tileSize * name.scale
        let renderer = TileRenderer(tile: .world, scale: name.scale, format: name.format)
        let planes = [[UInt8]](repeating: [UInt8](repeating: 0, count: size * size), count: 4)
        let data = (try? renderer.encode(planes)) ?? Data()
        lock.withLock { tiles[key] = data }
        return data
    }
}
