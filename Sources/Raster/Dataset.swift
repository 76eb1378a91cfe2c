import CGDAL
import Foundation

/// An open GDAL raster dataset. Owns its handle and closes it in `deinit`.
/// Not thread-safe: one `Dataset` belongs to one thread at a time, as GDAL requires.
public final class Dataset {
    package let handle: GDALDatasetH
    public let path: String
    /// What errors call the raster: the name a user knows it by, never a server path.
    public let name: String
    /// Whatever must outlive the handle (the folder a checked upload is read from).
    private let retained: AnyObject?

    private init(handle: GDALDatasetH, path: String, name: String? = nil, retaining retained: AnyObject? = nil) {
        self.handle = handle
        self.path = path
        self.name = name ?? path
        self.retained = retained
    }

    deinit { GDALClose(handle) }

    /// Opens a raster read-only with the GTiff driver alone (or `drivers`). Sidecars next to the file
    /// (`.msk`, `.aux.xml`, world files) are honoured because GDAL looks for them itself: use it for
    /// rasters this service wrote. A user's file goes through `GeoTIFFFile`, which verifies them first.
    public static func open(_ path: String, drivers: [String] = OpenPolicy.geoTIFFOnly) throws -> Dataset {
        try open(path, drivers: drivers, siblings: nil, name: path)
    }

    /// Opens `path` with only `drivers`. With `siblings`, GDAL sees exactly those files beside it (it
    /// looks for sidecars in that list instead of the folder); `name` is what errors call it.
    static func open(_ path: String, drivers: [String], siblings: [String]?, name: String,
                     retaining retained: AnyObject? = nil) throws -> Dataset {
        GDALRuntime.ensureInitialized()
        guard FileManager.default.fileExists(atPath: path) else {
            throw RasterError.cannotOpen(path: name, reason: "no such file")
        }
        CPLErrorReset()
        let flags = UInt32(GDAL_OF_RASTER | GDAL_OF_READONLY | GDAL_OF_VERBOSE_ERROR)
        let allowed = StringList(drivers)
        let siblingList = siblings.map(StringList.init)
        let opened = withExtendedLifetime((allowed, siblingList)) {
            GDALOpenEx(path, flags, allowed.constPointer, nil, siblingList?.constPointer)
        }
        guard let handle = opened else {
            throw RasterError.cannotOpen(path: name, reason: lastGDALErrorMessage().map { scrub($0, path: path, name: name) }
                ?? "unrecognised format")
        }
        return Dataset(handle: handle, path: path, name: name, retaining: retained)
    }

    /// Makes GDAL read now what it reads lazily from sidecars (georeferencing, PAM, masks), so it
    /// happens while the caller's settings hold.
    func loadSidecars() {
        var values = [Double](repeating: 0, count: 6)
        _ = GDALGetGeoTransform(handle, &values)
        _ = GDALGetSpatialRef(handle)
        _ = GDALGetGCPCount(handle)
        _ = GDALGetMetadata(handle, nil)
        for index in 0..<GDALGetRasterCount(handle) {
            _ = GDALGetMaskFlags(GDALGetRasterBand(handle, index + 1))
        }
    }

    /// GDAL's messages name the file by the path it was given; users know it by `name`.
    static func scrub(_ message: String, path: String, name: String) -> String {
        message.replacingOccurrences(of: path, with: name)
    }

    /// Wraps a handle this object now owns (a dataset GDAL just created).
    static func adopt(_ handle: GDALDatasetH, path: String) -> Dataset {
        Dataset(handle: handle, path: path)
    }

    public var width: Int { Int(GDALGetRasterXSize(handle)) }
    public var height: Int { Int(GDALGetRasterYSize(handle)) }
    public var bandCount: Int { Int(GDALGetRasterCount(handle)) }

    public var driverName: String {
        guard let driver = GDALGetDatasetDriver(handle) else { return "" }
        return String(cString: GDALGetDriverShortName(driver))
    }

    /// Band `index`, 1-based as in GDAL.
    public func band(_ index: Int) -> Band {
        precondition(index >= 1 && index <= bandCount, "band index out of range")
        return Band(handle: GDALGetRasterBand(handle, Int32(index)), owner: self)
    }

    public var bands: [Band] { (0..<bandCount).map { band($0 + 1) } }

    /// The bands that carry data: all but an alpha band, which only says which pixels are valid.
    public var dataBands: [Band] { bands.filter { !$0.isAlpha } }

    /// The affine geotransform, or nil when the raster has none (GDAL then reports the identity).
    public var geoTransform: GeoTransform? {
        var values = [Double](repeating: 0, count: 6)
        guard GDALGetGeoTransform(handle, &values) == CE_None else { return nil }
        return GeoTransform(values)
    }

    public func setGeoTransform(_ transform: GeoTransform) throws {
        var values = transform.coefficients
        guard GDALSetGeoTransform(handle, &values) == CE_None else { throw RasterError.gdal("setting the geotransform") }
    }

    /// The raster's CRS, or nil when it has none.
    public var spatialReference: SpatialReference? {
        guard let srs = GDALGetSpatialRef(handle) else { return nil }
        return SpatialReference(cloning: srs)
    }

    public var gcpCount: Int { Int(GDALGetGCPCount(handle)) }

    public var gcpSpatialReference: SpatialReference? {
        guard let srs = GDALGetGCPSpatialRef(handle) else { return nil }
        return SpatialReference(cloning: srs)
    }

    /// All files that make up the dataset: the raster and any sidecars GDAL uses.
    public var fileList: [String] {
        let list = GDALGetFileList(handle)
        defer { CSLDestroy(list) }
        return readStringList(list)
    }

    public func metadata(domain: String? = nil) -> [String: String] {
        parseNameValues(readStringList(GDALGetMetadata(handle, domain)))
    }

    public func metadataItem(_ name: String, domain: String? = nil) -> String? {
        GDALGetMetadataItem(handle, name, domain).map { String(cString: $0) }
    }
}

/// One band of a `Dataset`. Keeps its dataset alive; never outlives it.
public final class Band {
    let handle: GDALRasterBandH
    private let owner: AnyObject

    init(handle: GDALRasterBandH, owner: AnyObject) {
        self.handle = handle
        self.owner = owner
    }

    public var dataType: String { String(cString: GDALGetDataTypeName(GDALGetRasterDataType(handle))) }
    var gdalDataType: GDALDataType { GDALGetRasterDataType(handle) }

    public var noDataValue: Double? {
        var hasNoData: Int32 = 0
        let value = GDALGetRasterNoDataValue(handle, &hasNoData)
        return hasNoData != 0 ? value : nil
    }

    public var maskFlags: MaskFlags { MaskFlags(rawValue: Int(GDALGetMaskFlags(handle))) }

    /// The band that says which pixels are valid (255) and which are not (0).
    public var maskBand: Band { Band(handle: GDALGetMaskBand(handle), owner: owner) }

    public var colorInterpretation: String {
        String(cString: GDALGetColorInterpretationName(GDALGetRasterColorInterpretation(handle)))
    }

    public var isAlpha: Bool { GDALGetRasterColorInterpretation(handle) == GCI_AlphaBand }

    public var hasColorTable: Bool { GDALGetRasterColorTable(handle) != nil }
    public var colorTableEntryCount: Int {
        GDALGetRasterColorTable(handle).map { Int(GDALGetColorEntryCount($0)) } ?? 0
    }

    public var description: String { String(cString: GDALGetDescription(handle)) }
    public var overviewCount: Int { Int(GDALGetOverviewCount(handle)) }

    public var blockSize: (width: Int, height: Int) {
        var x: Int32 = 0, y: Int32 = 0
        GDALGetBlockSize(handle, &x, &y)
        return (Int(x), Int(y))
    }

    /// GDAL's checksum of the whole band: equal checksums mean (all but certainly) equal pixels.
    public func checksum() throws -> Int {
        CPLErrorReset()
        let value = GDALChecksumImage(handle, 0, 0, GDALGetRasterBandXSize(handle), GDALGetRasterBandYSize(handle))
        if CPLGetLastErrorType() == CE_Failure { throw RasterError.gdal("checksumming a band") }
        return Int(value)
    }

    /// Reads the window `(x, y, width, height)` into a byte buffer of `bufferWidth` x `bufferHeight`,
    /// nearest-neighbour sampled when the buffer is smaller than the window.
    func readBytes(x: Int, y: Int, width: Int, height: Int,
                   bufferWidth: Int, bufferHeight: Int, into buffer: inout [UInt8]) -> Bool {
        buffer.withUnsafeMutableBytes { raw in
            GDALRasterIO(handle, GF_Read, Int32(x), Int32(y), Int32(width), Int32(height),
                         raw.baseAddress, Int32(bufferWidth), Int32(bufferHeight), GDT_Byte, 0, 0) == CE_None
        }
    }
}

/// GDAL's mask flags (`GMF_*`).
public struct MaskFlags: OptionSet, Sendable, Codable {
    public let rawValue: Int
    public init(rawValue: Int) { self.rawValue = rawValue }
    public static let allValid = MaskFlags(rawValue: Int(GMF_ALL_VALID))
    public static let perDataset = MaskFlags(rawValue: Int(GMF_PER_DATASET))
    public static let alpha = MaskFlags(rawValue: Int(GMF_ALPHA))
    public static let noData = MaskFlags(rawValue: Int(GMF_NODATA))

    public var names: [String] {
        var result: [String] = []
        if contains(.allValid) { result.append("ALL_VALID") }
        if contains(.perDataset) { result.append("PER_DATASET") }
        if contains(.alpha) { result.append("ALPHA") }
        if contains(.noData) { result.append("NODATA") }
        return result
    }
}

func parseNameValues(_ entries: [String]) -> [String: String] {
    var result: [String: String] = [:]
    for entry in entries {
        guard let separator = entry.firstIndex(of: "=") else { continue }
        result[String(entry[..<separator])] = String(entry[entry.index(after: separator)...])
    }
    return result
}
