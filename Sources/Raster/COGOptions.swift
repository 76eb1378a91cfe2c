/// How a Cloud Optimized GeoTIFF is written. Every knob maps to one COG driver creation option;
/// the allowed values are kept here as data and checked before GDAL sees them.
public struct COGOptions: Sendable, Equatable, Codable {
    /// Compressions GDAL 3.6's COG driver offers, and whether each is lossless.
    public static let compressions: [String: Bool] = [
        "NONE": true, "LZW": true, "DEFLATE": true, "ZSTD": true, "LZMA": true,
        "LERC": true, "LERC_DEFLATE": true, "LERC_ZSTD": true, "JPEG": false, "WEBP": false,
    ]
    public static let resamplings: Set<String> = [
        "NEAREST", "AVERAGE", "BILINEAR", "CUBIC", "CUBICSPLINE", "LANCZOS", "MODE", "RMS",
    ]
    static let predictorCompressions: Set<String> = ["LZW", "DEFLATE", "ZSTD"]

    public var compression: String
    public var level: Int?
    public var quality: Int?
    public var blockSize: Int
    /// nil: NEAREST for paletted or categorical bands, AVERAGE otherwise (both skip nodata).
    public var resampling: String?
    /// Overview levels wanted; nil or 0: as many as needed for the smallest level to fit one tile.
    public var overviewLevels: Int?
    /// GDAL's NUM_THREADS: a number or "ALL_CPUS".
    public var threads: String

    public init(compression: String = "DEFLATE", level: Int? = nil, quality: Int? = nil, blockSize: Int = 512,
                resampling: String? = nil, overviewLevels: Int? = nil, threads: String = "ALL_CPUS") {
        self.compression = compression.uppercased()
        self.level = level
        self.quality = quality
        self.blockSize = blockSize
        self.resampling = resampling?.uppercased()
        self.overviewLevels = overviewLevels
        self.threads = threads.uppercased()
    }

    public func validate() throws {
        guard Self.compressions[compression] != nil else {
            throw RasterError.invalidOption("unknown compression \(compression); use one of "
                + Self.compressions.keys.sorted().joined(separator: ", "))
        }
        guard blockSize >= 16, blockSize <= 4096, blockSize % 16 == 0 else {
            throw RasterError.invalidOption("block size \(blockSize) must be a multiple of 16 between 16 and 4096")
        }
        if let resampling, !Self.resamplings.contains(resampling) {
            throw RasterError.invalidOption("unknown overview resampling \(resampling); use one of "
                + Self.resamplings.sorted().joined(separator: ", "))
        }
        if let overviewLevels, overviewLevels < 0 {
            throw RasterError.invalidOption("the number of overview levels cannot be negative (got \(overviewLevels))")
        }
        if let level, !(1...22).contains(level) {
            throw RasterError.invalidOption("compression level \(level) is out of range 1-22")
        }
        if let quality, !(1...100).contains(quality) {
            throw RasterError.invalidOption("quality \(quality) is out of range 1-100")
        }
        guard threads == "ALL_CPUS" || (Int(threads).map { $0 >= 1 } ?? false) else {
            throw RasterError.invalidOption("threads must be a positive number or ALL_CPUS (got \(threads))")
        }
    }

    public var isLossless: Bool { Self.compressions[compression] ?? false }

    /// What of a raster decides whether a compression can encode it.
    public struct RasterShape: Sendable, Equatable {
        /// GDAL's data type names, one per band ("Byte", "Int16", "CFloat32", ...).
        public var bandTypes: [String]
        public var isPaletted: Bool
        public init(bandTypes: [String], isPaletted: Bool = false) {
            self.bandTypes = bandTypes
            self.isPaletted = isPaletted
        }
    }

    /// Refuses a compression GDAL 3.6's COG driver cannot encode `raster` with (checked with
    /// gdal_translate -of COG on this GDAL: it reports the error and writes tiles of nodata):
    /// WEBP takes Byte data with 3 or 4 bands; JPEG takes Byte data with 1 to 4 bands and no colour
    /// table (12-bit JPEG is not built in); LERC takes any non-complex type. The message blames the
    /// option and says what the file has; `file` is the name the user knows the raster by.
    public func validate(for raster: RasterShape, file: String) throws {
        let types = raster.bandTypes
        let allByte = !types.isEmpty && types.allSatisfy { $0 == "Byte" }
        let problem: String?
        switch compression {
        case "WEBP":
            problem = allByte && (3...4).contains(types.count) ? nil : "needs Byte data with 3 or 4 bands"
        case "JPEG":
            if !(allByte && (1...4).contains(types.count)) {
                problem = "needs Byte data with 1 to 4 bands"
            } else if raster.isPaletted {
                problem = "cannot encode a paletted raster (its colour table would be lost)"
            } else {
                problem = nil
            }
        case "LERC", "LERC_DEFLATE", "LERC_ZSTD":
            problem = types.contains(where: Self.isComplex) ? "needs real (not complex) numbers" : nil
        default:
            problem = nil
        }
        guard let problem else { return }
        throw RasterError.invalidOption("--compression \(compression) \(problem); \(file) has "
            + Self.describe(raster) + "; choose another --compression for it")
    }

    static func isComplex(_ type: String) -> Bool { type.hasPrefix("C") }

    /// "1 Float32 band", "3 Byte bands", "2 bands (Byte, UInt16)", "1 paletted Byte band".
    static func describe(_ raster: RasterShape) -> String {
        let types = raster.bandTypes
        let count = types.count
        let noun = count == 1 ? "band" : "bands"
        let palette = raster.isPaletted ? "paletted " : ""
        if let first = types.first, types.allSatisfy({ $0 == first }) {
            return "\(count) \(palette)\(first) \(noun)"
        }
        return count == 0 ? "no bands" : "\(count) \(palette)\(noun) (\(types.joined(separator: ", ")))"
    }

    /// The number of overview levels that takes a `width` x `height` raster down to one tile.
    public static func automaticOverviewLevels(width: Int, height: Int, blockSize: Int) -> Int {
        var side = max(width, height)
        var levels = 0
        while side > blockSize {
            side = (side + 1) / 2
            levels += 1
        }
        return levels
    }
}
