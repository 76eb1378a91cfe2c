import Raster

/// What the catalog records about every stored raster, besides the user's attributes.
public struct SystemFields: Codable, Sendable, Equatable {
    public var id: String
    public var sourceFile: String
    public var path: String
    public var sizeBytes: Int64
    public var sha256: String
    public var width: Int
    public var height: Int
    public var bandCount: Int
    public var dataType: String
    public var crs: String
    public var resolutionX: Double?
    public var resolutionY: Double?
    public var nodata: String?
    public var overviewLevels: Int
    public var tiles: Int
    public var cog: Bool
    /// [west, south, east, north] in EPSG:4326.
    public var bbox: [Double]
    public var nativeCrs: String
    public var nativeBbox: [Double]
    public var nativeFootprint: String
    public var footprintVertices: Int
    public var createdAt: String
    /// Per band: type, nodata, statistics and palette (nil for items stored before they were kept).
    public var bands: [BandSummary]?

    public init(id: String, sourceFile: String, path: String, sizeBytes: Int64, sha256: String, width: Int,
                height: Int, bandCount: Int, dataType: String, crs: String, resolutionX: Double?,
                resolutionY: Double?, nodata: String?, overviewLevels: Int, tiles: Int, cog: Bool, bbox: [Double],
                nativeCrs: String, nativeBbox: [Double], nativeFootprint: String, footprintVertices: Int,
                createdAt: String, bands: [BandSummary]? = nil) {
        self.id = id; self.sourceFile = sourceFile; self.path = path; self.sizeBytes = sizeBytes
        self.sha256 = sha256; self.width = width; self.height = height; self.bandCount = bandCount
        self.dataType = dataType; self.crs = crs; self.resolutionX = resolutionX; self.resolutionY = resolutionY
        self.nodata = nodata; self.overviewLevels = overviewLevels; self.tiles = tiles; self.cog = cog
        self.bbox = bbox; self.nativeCrs = nativeCrs; self.nativeBbox = nativeBbox
        self.nativeFootprint = nativeFootprint; self.footprintVertices = footprintVertices
        self.createdAt = createdAt
        self.bands = bands
    }
}

/// How each system field is stored: its JSON key (as in `SystemFields`), column and column type.
struct SystemField: Sendable {
    enum Kind: Sendable { case string, integer, integer64, real, boolean, dateTime, json }

    let key: String
    let column: String
    let kind: Kind

    static let all: [SystemField] = [
        .init(key: "id", column: "item_id", kind: .string),
        .init(key: "sourceFile", column: "source_file", kind: .string),
        .init(key: "path", column: "path", kind: .string),
        .init(key: "sizeBytes", column: "size_bytes", kind: .integer64),
        .init(key: "sha256", column: "sha256", kind: .string),
        .init(key: "width", column: "width", kind: .integer),
        .init(key: "height", column: "height", kind: .integer),
        .init(key: "bandCount", column: "band_count", kind: .integer),
        .init(key: "dataType", column: "data_type", kind: .string),
        .init(key: "crs", column: "crs", kind: .string),
        .init(key: "resolutionX", column: "resolution_x", kind: .real),
        .init(key: "resolutionY", column: "resolution_y", kind: .real),
        .init(key: "nodata", column: "nodata", kind: .string),
        .init(key: "overviewLevels", column: "overview_levels", kind: .integer),
        .init(key: "tiles", column: "tiles", kind: .integer),
        .init(key: "cog", column: "cog", kind: .boolean),
        .init(key: "bbox", column: "bbox", kind: .json),
        .init(key: "nativeCrs", column: "native_crs", kind: .string),
        .init(key: "nativeBbox", column: "native_bbox", kind: .json),
        .init(key: "nativeFootprint", column: "native_footprint", kind: .string),
        .init(key: "footprintVertices", column: "footprint_vertices", kind: .integer),
        .init(key: "createdAt", column: "created_at", kind: .dateTime),
        .init(key: "bands", column: "band_summaries", kind: .json),
    ]

    static let byKey: [String: SystemField] = Dictionary(uniqueKeysWithValues: all.map { ($0.key, $0) })
}

extension AttributeType {
    var storageKind: SystemField.Kind {
        switch self {
        case .string: return .string
        case .int32: return .integer
        case .int64: return .integer64
        case .double: return .real
        case .boolean: return .boolean
        case .dateTime: return .dateTime
        case .json: return .json
        }
    }
}
