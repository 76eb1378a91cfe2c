import CGDAL
import Catalog
import Foundation
import Raster

/// A catalog's low-resolution mosaic, drawn instead of its items at low zooms.
struct Overview: Sendable {
    var path: String
    var bands: [BandSummary]
    var statistics: [Int: ClosedRange<Double>]?
    /// The deepest zoom drawn from it.
    var maxZoom: Int
}

/// Low-resolution mosaics of catalogs, so that a low-zoom tile over thousands of items reads one
/// file. Each is built for one catalog revision (`DIR/tile-overviews/NS.NAME/REVISION.tif`) and used
/// only while the catalog is at that revision: after any change tiles are drawn from the items
/// until the mosaic is rebuilt, so none is ever stale.
///
/// The mosaic is an EPSG:3857 GeoTIFF of the catalog's extent with internal overviews, at the
/// resolution of the deepest zoom it serves: one zoom coarser than the finest item, at most
/// `maxSide` pixels across. Catalogs whose items differ in band count or data type, or have fewer
/// than `minimumItems` items, get none.
public final class CatalogOverviews: Sendable {
    public let folder: String
    public let minimumItems: Int
    public let maxSide: Int
    private let cache = DescriptionCache()
    private let settling = SettlingRevisions()

    public init(folder: String, minimumItems: Int = 32, maxSide: Int = 8192) {
        self.folder = folder
        self.minimumItems = minimumItems
        self.maxSide = maxSide
    }

    /// The overview of exactly this revision, when `zoom` is drawn from one.
    func current(for catalog: CatalogName, revision: String, zoom: Int) -> Overview? {
        guard let overview = cache.overview(at: paths(catalog, revision: revision)), zoom <= overview.maxZoom else { return nil }
        return overview
    }

    /// Whether the catalog's overview is missing or older than the catalog (a build would change it).
    public func isStale(_ catalog: CatalogName, store: CatalogStore) throws -> Bool {
        let revision = try store.revision(of: catalog)
        let (image, description) = paths(catalog, revision: revision)
        if FileManager.default.fileExists(atPath: image) { return false }
        // A catalog that needs no overview records that in the description alone.
        return !FileManager.default.fileExists(atPath: description)
    }

    /// Builds the overview of the catalog as it is now, and removes those of earlier revisions.
    /// Returns the number of items drawn into it (0 when the catalog gets none).
    @discardableResult
    public func build(_ catalog: CatalogName, store: CatalogStore, absolutePath: (String) -> String) throws -> Int {
        GDALRuntime.ensureInitialized()
        let revision = try store.revision(of: catalog)
        let items = try store.items(in: catalog)
        let folder = (self.folder as NSString).appendingPathComponent(catalog.description)
        try FileManager.default.createDirectory(atPath: folder, withIntermediateDirectories: true,
                                                attributes: [.posixPermissions: 0o700])
        let (image, description) = paths(catalog, revision: revision)
        var record = OverviewRecord(revision: revision, items: items.count)
        if let plan = OverviewPlan(items: items, minimumItems: minimumItems, maxSide: maxSide) {
            // Named per build: a server and a `tile import` may build the same revision at once.
            let partial = image + ".\(UUID().uuidString).partial"
            defer { try? FileManager.default.removeItem(atPath: partial) }
            try plan.write(to: partial, sources: items.map { absolutePath($0.system.path) })
            record.maxZoom = plan.zoom
            record.bands = plan.bands
            record.statistics = plan.statistics
            try write(record, to: description)
            try FileManager.default.moveItem(atPath: partial, toPath: image)
        } else {
            try write(record, to: description)
        }
        // Earlier revisions and their unfinished builds; one of this revision may be another process's, under way.
        let current = [image, description].map { ($0 as NSString).lastPathComponent }
        for name in (try? FileManager.default.contentsOfDirectory(atPath: folder)) ?? [] where !current.contains(name)
            && !(name.hasPrefix(Self.fileStem(revision)) && name.hasSuffix(".partial")) {
            try? FileManager.default.removeItem(atPath: (folder as NSString).appendingPathComponent(name))
        }
        return record.maxZoom == nil ? 0 : items.count
    }

    /// One pass of upkeep: builds the overview of every catalog whose items have not changed for
    /// `settle` seconds since its overview went stale (a task still adding items is waited for), and
    /// removes those of deleted catalogs. Returns the catalogs built.
    @discardableResult
    public func refresh(store: CatalogStore, absolutePath: (String) -> String, settle: TimeInterval = 2) throws -> [CatalogName] {
        let catalogs = try store.catalogs()
        var built: [CatalogName] = []
        for info in catalogs where try isStale(info.name, store: store) {
            let revision = try store.revision(of: info.name)
            guard settling.settled(info.name.description, revision: revision, after: settle) else { continue }
            try build(info.name, store: store, absolutePath: absolutePath)
            built.append(info.name)
        }
        let names = Set(catalogs.map(\.name.description))
        for name in (try? FileManager.default.contentsOfDirectory(atPath: folder)) ?? [] where !names.contains(name) {
            try? FileManager.default.removeItem(atPath: (folder as NSString).appendingPathComponent(name))
        }
        return built
    }

    private func paths(_ catalog: CatalogName, revision: String) -> (image: String, description: String) {
        let stem = (folder as NSString).appendingPathComponent("\(catalog.description)/\(Self.fileStem(revision))")
        return (stem + ".tif", stem + ".json")
    }

    /// Revisions are UUIDs, or "created DATE" for catalogs from before revisions were kept.
    private static func fileStem(_ revision: String) -> String {
        String(revision.map { $0.isLetter || $0.isNumber || $0 == "-" ? $0 : "_" })
    }

    private func write(_ record: OverviewRecord, to path: String) throws {
        let partial = path + ".\(UUID().uuidString).partial"
        try JSONEncoder().encode(record).write(to: URL(fileURLWithPath: partial))
        if FileManager.default.fileExists(atPath: path) { try FileManager.default.removeItem(atPath: path) }
        try FileManager.default.moveItem(atPath: partial, toPath: path)
    }
}

/// What is known of an overview beside its image.
struct OverviewRecord: Codable {
    var revision: String
    var items: Int
    var maxZoom: Int?
    var bands: [BandSummary]?
    /// Stretch ranges by band number (the items' lowest 2nd and highest 98th percentiles).
    var statistics: [Int: [Double]]?
}

/// The extent, zoom and band layout of a catalog's overview, decided from its items.
struct OverviewPlan {
    let bounds: [Double]
    let zoom: Int
    let width: Int
    let height: Int
    let bands: [BandSummary]
    let statistics: [Int: [Double]]

    init?(items: [CatalogItem], minimumItems: Int, maxSide: Int) {
        guard items.count >= max(1, minimumItems), let first = items.first?.system.bands?.filter({ !$0.isAlpha }),
              !first.isEmpty else { return nil }
        // One band layout for all: GDAL mosaics bands by position.
        let layout = first.map(\.dataType)
        guard items.allSatisfy({ $0.system.bands?.filter { !$0.isAlpha }.map(\.dataType) == layout }) else { return nil }
        let boxes = items.map(\.system.bbox).filter { $0.count == 4 }
        guard !boxes.isEmpty, let finest = items.compactMap({ TileService.mercatorResolution($0.system) }).min() else { return nil }
        let southWest = WebMercatorQuad.metres(longitude: boxes.map { $0[0] }.min()!, latitude: boxes.map { $0[1] }.min()!)
        let northEast = WebMercatorQuad.metres(longitude: boxes.map { $0[2] }.max()!, latitude: boxes.map { $0[3] }.max()!)
        let spanX = max(1, northEast.x - southWest.x), spanY = max(1, northEast.y - southWest.y)
        // One zoom coarser than the items, and no larger than maxSide pixels across.
        var zoom = max(0, WebMercatorQuad.zoom(forResolution: finest) - 1)
        while zoom > 0, max(spanX, spanY) / WebMercatorQuad.resolution(zoom: zoom) > Double(maxSide) { zoom -= 1 }
        let resolution = WebMercatorQuad.resolution(zoom: zoom)
        // Snapped to the zoom's pixel grid, so the overview's pixels are the tiles' pixels.
        let origin = WebMercatorQuad.halfWorld
        let minX = ((southWest.x + origin) / resolution).rounded(.down) * resolution - origin
        let maxX = ((northEast.x + origin) / resolution).rounded(.up) * resolution - origin
        let maxY = origin - ((origin - northEast.y) / resolution).rounded(.down) * resolution
        let minY = origin - ((origin - southWest.y) / resolution).rounded(.up) * resolution
        bounds = [minX, minY, maxX, maxY]
        self.zoom = zoom
        width = max(1, Int(((maxX - minX) / resolution).rounded()))
        height = max(1, Int(((maxY - minY) / resolution).rounded()))
        bands = first.map { BandSummary(dataType: $0.dataType, colorInterpretation: $0.colorInterpretation,
                                        nodata: nil, palette: $0.palette) }
        statistics = TileService.catalogStretch(of: items).mapValues { [$0.lowerBound, $0.upperBound] }
    }

    var isPaletted: Bool { bands.first?.palette != nil }

    /// Warps every source (oldest first, so the newest ends on top) into a new tiled GeoTIFF, then
    /// adds its internal overviews.
    func write(to path: String, sources: [String]) throws {
        guard let driver = GDALGetDriverByName("GTiff") else { throw TileRenderError.renderFailed(reason: "no GTiff driver") }
        let creation = StringList(["TILED=YES", "COMPRESS=DEFLATE", "BIGTIFF=IF_SAFER", "SPARSE_OK=TRUE"])
        guard let dataset = GDALCreate(driver, path, Int32(width), Int32(height), Int32(bands.count + 1),
                                       GDALGetDataTypeByName(bands[0].dataType), creation.pointer) else {
            throw TileRenderError.renderFailed(reason: "cannot create the catalog overview: \(lastGDALErrorMessage() ?? "")")
        }
        defer { GDALClose(dataset) }
        var transform = [bounds[0], (bounds[2] - bounds[0]) / Double(width), 0, bounds[3], 0, -(bounds[3] - bounds[1]) / Double(height)]
        GDALSetGeoTransform(dataset, &transform)
        let mercator = OSRNewSpatialReference(nil)
        defer { OSRDestroySpatialReference(mercator) }
        OSRImportFromEPSG(mercator, 3857)
        GDALSetSpatialRef(dataset, mercator)
        GDALSetRasterColorInterpretation(GDALGetRasterBand(dataset, Int32(bands.count + 1)), GCI_AlphaBand)
        if let palette = bands.first?.palette, let table = GDALCreateColorTable(GPI_RGB) {
            defer { GDALDestroyColorTable(table) }
            for (index, entry) in palette.enumerated() where entry.count == 4 {
                var color = GDALColorEntry(c1: Int16(entry[0]), c2: Int16(entry[1]), c3: Int16(entry[2]), c4: Int16(entry[3]))
                GDALSetColorEntry(table, Int32(index), &color)
            }
            GDALSetRasterColorTable(GDALGetRasterBand(dataset, 1), table)
        }

        let resampling = isPaletted ? "near" : "average"
        let options = StringList(["-r", resampling])
        guard let warpOptions = GDALWarpAppOptionsNew(options.pointer, nil) else {
            throw TileRenderError.renderFailed(reason: "warp options refused: \(lastGDALErrorMessage() ?? "")")
        }
        defer { GDALWarpAppOptionsFree(warpOptions) }
        // In batches: every source of a GDALWarp call is open at once.
        for batch in stride(from: 0, to: sources.count, by: 128).map({ Array(sources[$0..<min($0 + 128, sources.count)]) }) {
            let drivers = StringList(OpenPolicy.geoTIFFOnly)
            var handles: [GDALDatasetH?] = withExtendedLifetime(drivers) {
                batch.compactMap { GDALOpenEx($0, UInt32(GDAL_OF_RASTER | GDAL_OF_READONLY), drivers.constPointer, nil, nil) }
            }
            defer { handles.forEach { GDALClose($0) } }
            guard handles.count == batch.count else { throw TileRenderError.unreadable(reason: "a stored raster cannot be opened") }
            var usageError: Int32 = 0
            CPLErrorReset()
            let result = handles.withUnsafeMutableBufferPointer { buffer in
                GDALWarp(nil, dataset, Int32(buffer.count), buffer.baseAddress, warpOptions, &usageError)
            }
            guard result != nil else {
                throw TileRenderError.renderFailed(reason: "drawing the catalog overview failed: \(lastGDALErrorMessage() ?? "")")
            }
        }
        var levels: [Int32] = []
        var factor: Int32 = 2
        while max(width, height) / Int(factor) >= WebMercatorQuad.tileSize / 2 {
            levels.append(factor)
            factor *= 2
        }
        if !levels.isEmpty {
            let status = GDALBuildOverviews(dataset, isPaletted ? "NEAREST" : "AVERAGE", Int32(levels.count), &levels, 0, nil, nil, nil)
            guard status == CE_None else {
                throw TileRenderError.renderFailed(reason: "building the overview's levels failed: \(lastGDALErrorMessage() ?? "")")
            }
        }
    }
}

/// Overview descriptions read from disk once per revision.
private final class DescriptionCache: @unchecked Sendable {
    private let lock = NSLock()
    private var entries: [String: Overview?] = [:]

    func overview(at paths: (image: String, description: String)) -> Overview? {
        if let entry = lock.withLock({ entries[paths.description] }) { return entry }
        guard FileManager.default.fileExists(atPath: paths.image),
              let data = FileManager.default.contents(atPath: paths.description),
              let record = try? JSONDecoder().decode(OverviewRecord.self, from: data),
              let maxZoom = record.maxZoom, let bands = record.bands else { return nil }
        let statistics = record.statistics?.compactMapValues { $0.count == 2 && $0[0] < $0[1] ? $0[0]...$0[1] : nil }
        let overview = Overview(path: paths.image, bands: bands, statistics: statistics, maxZoom: maxZoom)
        lock.withLock {
            if entries.count > 1024 { entries.removeAll() }
            entries[paths.description] = overview
        }
        return overview
    }
}

/// When each catalog's current revision was first seen, to wait until a catalog stops changing.
private final class SettlingRevisions: @unchecked Sendable {
    private let lock = NSLock()
    private var firstSeen: [String: (revision: String, date: Date)] = [:]

    func settled(_ key: String, revision: String, after seconds: TimeInterval) -> Bool {
        lock.withLock {
            guard let seen = firstSeen[key], seen.revision == revision else {
                firstSeen[key] = (revision, Date())
                return seconds <= 0
            }
            return Date().timeIntervalSince(seen.date) >= seconds
        }
    }
}
