import Foundation

/// GDAL's command-line programs (Debian's gdal-bin), run as a user would run them.
public enum GDALTool {
    public struct Result: Sendable {
        public var status: Int32
        public var stdout: String
        public var stderr: String
    }

    public enum Failure: Error, CustomStringConvertible {
        case failed(program: String, arguments: [String], status: Int32, stderr: String)

        public var description: String {
            switch self {
            case let .failed(program, arguments, status, stderr):
                return "\(program) \(arguments.joined(separator: " ")) exited with \(status): \(stderr)"
            }
        }
    }

    /// Runs `/usr/bin/PROGRAM`; standard output and error go through files, so neither can fill up. It
    /// runs in a temporary folder, so anything GDAL writes beside itself (the WMS/WMTS drivers' tile
    /// cache, `./gdalwmscache`) goes away with it; paths given must be absolute.
    public static func run(_ program: String, _ arguments: [String], environment: [String: String]? = nil) throws -> Result {
        let folder = TemporaryDirectory("gdal-tool")
        defer { folder.remove() }
        let outPath = folder.file("stdout"), errPath = folder.file("stderr")
        _ = FileManager.default.createFile(atPath: outPath, contents: nil)
        _ = FileManager.default.createFile(atPath: errPath, contents: nil)
        let out = try FileHandle(forWritingTo: URL(fileURLWithPath: outPath))
        let err = try FileHandle(forWritingTo: URL(fileURLWithPath: errPath))
        let process = Process()
        process.executableURL = URL(fileURLWithPath: "/usr/bin/" + program)
        process.arguments = arguments
        process.currentDirectoryURL = URL(fileURLWithPath: folder.path)
        // Remote tiles are read afresh every time, never from a cache of an earlier run.
        let quiet = ["GDAL_ENABLE_WMS_CACHE": "NO", "GDAL_DEFAULT_WMS_CACHE_PATH": folder.file("wms-cache")]
        process.environment = ProcessInfo.processInfo.environment.merging(quiet) { $1 }.merging(environment ?? [:]) { $1 }
        process.standardOutput = out
        process.standardError = err
        process.standardInput = FileHandle.nullDevice
        try process.run()
        process.waitUntilExit()
        try out.close()
        try err.close()
        return Result(status: process.terminationStatus,
                      stdout: (try? String(contentsOfFile: outPath, encoding: .utf8)) ?? "",
                      stderr: (try? String(contentsOfFile: errPath, encoding: .utf8)) ?? "")
    }

    /// Runs the program and returns its standard output; a non-zero exit throws.
    @discardableResult
    public static func check(_ program: String, _ arguments: [String], environment: [String: String]? = nil) throws -> String {
        let result = try run(program, arguments, environment: environment)
        guard result.status == 0 else {
            throw Failure.failed(program: program, arguments: arguments, status: result.status, stderr: result.stderr)
        }
        return result.stdout
    }

    /// `gdalinfo -json` of a dataset name, parsed.
    public static func info(_ dataset: String, extra: [String] = []) throws -> [String: Any] {
        let text = try check("gdalinfo", ["-json"] + extra + [dataset])
        return try JSONSerialization.jsonObject(with: Data(text.utf8)) as? [String: Any] ?? [:]
    }
}

/// The pixels of a raster or an encoded image (PNG, WEBP, JPEG, GeoTIFF), every band read by GDAL
/// as 32-bit floats (exact for 8 and 16-bit data) through `gdal_translate -of ENVI`.
public struct RasterImage: Sendable {
    public let width: Int
    public let height: Int
    /// Band-sequential values: `bands[b][row * width + column]`.
    public let bands: [[Float]]

    public var pixelCount: Int { width * height }

    /// Reads the dataset at `path` (any name GDAL opens).
    public init(path: String) throws {
        let folder = TemporaryDirectory("raster-image")
        defer { folder.remove() }
        let raw = folder.file("pixels.raw")
        try GDALTool.check("gdal_translate", ["-q", "-of", "ENVI", "-co", "INTERLEAVE=BSQ", "-ot", "Float32", path, raw])
        let header = try String(contentsOfFile: folder.file("pixels.hdr"), encoding: .utf8)
        func field(_ name: String) -> Int? {
            for line in header.split(separator: "\n") {
                let parts = line.split(separator: "=", maxSplits: 1).map { $0.trimmingCharacters(in: .whitespaces) }
                if parts.count == 2, parts[0].lowercased() == name { return Int(parts[1]) }
            }
            return nil
        }
        guard let width = field("samples"), let height = field("lines"), let count = field("bands"),
              header.lowercased().contains("interleave = bsq") else {
            throw GDALTool.Failure.failed(program: "gdal_translate", arguments: [path], status: 0, stderr: "no ENVI header")
        }
        let bigEndian = field("byte order") == 1
        let data = try Data(contentsOf: URL(fileURLWithPath: raw))
        let plane = width * height
        guard data.count == plane * count * 4 else {
            throw GDALTool.Failure.failed(program: "gdal_translate", arguments: [path], status: 0,
                                          stderr: "expected \(plane * count * 4) bytes, got \(data.count)")
        }
        var values = [Float](repeating: 0, count: plane * count)
        data.withUnsafeBytes { bytes in
            for index in 0..<(plane * count) {
                let bits = bytes.loadUnaligned(fromByteOffset: index * 4, as: UInt32.self)
                values[index] = Float(bitPattern: bigEndian ? UInt32(bigEndian: bits) : UInt32(littleEndian: bits))
            }
        }
        self.width = width
        self.height = height
        bands = (0..<count).map { band in Array(values[(band * plane)..<((band + 1) * plane)]) }
    }

    /// Decodes an image received over HTTP (the extension tells GDAL nothing it needs; it is kept for
    /// error messages).
    public init(encoded data: Data, fileExtension: String = "img") throws {
        let folder = TemporaryDirectory("encoded-image")
        defer { folder.remove() }
        let file = folder.file("image.\(fileExtension)")
        try data.write(to: URL(fileURLWithPath: file))
        try self.init(path: file)
    }

    public init(width: Int, height: Int, bands: [[Float]]) {
        self.width = width
        self.height = height
        self.bands = bands
    }

    /// The image as red, green, blue and alpha, however few bands it was encoded with: grey is
    /// repeated, and a missing alpha is 255 (opaque).
    public var rgba: RasterImage {
        let opaque = [Float](repeating: 255, count: pixelCount)
        switch bands.count {
        case 1: return RasterImage(width: width, height: height, bands: [bands[0], bands[0], bands[0], opaque])
        case 2: return RasterImage(width: width, height: height, bands: [bands[0], bands[0], bands[0], bands[1]])
        case 3: return RasterImage(width: width, height: height, bands: bands + [opaque])
        default: return self
        }
    }

    /// The image as red, green and blue (grey repeated; any alpha dropped).
    public var rgb: RasterImage {
        RasterImage(width: width, height: height, bands: Array(rgba.bands.prefix(3)))
    }

    /// Pixels whose value in `band` is not 0 (for an alpha band: the visible pixels).
    public func count(band: Int, where predicate: (Float) -> Bool) -> Int {
        bands[band].reduce(0) { $0 + (predicate($1) ? 1 : 0) }
    }
}

/// How two planes of pixels differ: a count, and the first difference in words for a failure message.
public struct PlaneDifference: Sendable, CustomStringConvertible {
    public var count: Int
    public var compared: Int
    public var first: String?

    public var description: String {
        count == 0 ? "identical (\(compared) pixels)" : "\(count) of \(compared) pixels differ; first: \(first ?? "?")"
    }

    /// Compares `actual` with `expected` where `mask` (if given) is true, allowing `tolerance`.
    public init(_ actual: [Float], _ expected: [Float], width: Int, mask: [Bool]? = nil, tolerance: Float = 0) {
        count = 0
        compared = 0
        first = nil
        for index in 0..<min(actual.count, expected.count) where mask?[index] ?? true {
            compared += 1
            if abs(actual[index] - expected[index]) > tolerance {
                if first == nil {
                    first = "column \(index % width), row \(index / width): \(actual[index]) instead of \(expected[index])"
                }
                count += 1
            }
        }
        if actual.count != expected.count {
            count += abs(actual.count - expected.count)
            first = first ?? "sizes \(actual.count) and \(expected.count)"
        }
    }
}

/// WebMercatorQuad computed here from its definition (OGC 17-083r2 Annex D), independently of the
/// server's own code: tile bounds and the tile under a point.
public enum MercatorGrid {
    public static let halfWorld = 20037508.342789244

    /// [minX, minY, maxX, maxY] in EPSG:3857 metres.
    public static func bounds(z: Int, x: Int, y: Int) -> [Double] {
        let span = 2 * halfWorld / Double(1 << z)
        let minX = -halfWorld + Double(x) * span
        let maxY = halfWorld - Double(y) * span
        return [minX, maxY - span, minX + span, maxY]
    }

    /// The tile holding a point given in degrees.
    public static func tile(longitude: Double, latitude: Double, zoom: Int) -> (x: Int, y: Int) {
        let count = Double(1 << zoom)
        let x = Int(((longitude + 180) / 360 * count).rounded(.down))
        let radians = latitude * .pi / 180
        let y = Int(((1 - log(tan(radians) + 1 / cos(radians)) / .pi) / 2 * count).rounded(.down))
        return (x, y)
    }

    /// Metres per pixel at `zoom` for 256-pixel tiles.
    public static func resolution(zoom: Int) -> Double {
        2 * halfWorld / 256 / Double(1 << zoom)
    }

    /// Degrees of a point in EPSG:3857 metres.
    public static func degrees(x: Double, y: Double) -> (longitude: Double, latitude: Double) {
        (x / halfWorld * 180, atan(sinh(y / halfWorld * .pi)) * 180 / .pi)
    }
}

/// What `gdalwarp` makes of a raster for one map tile: the reference every tile is held to.
public enum ReferenceWarp {
    /// `gdalwarp -t_srs EPSG:3857 -te <tile bounds> -ts N N -r METHOD -dstalpha SOURCE`, read back.
    public static func tile(_ source: String, z: Int, x: Int, y: Int, size: Int = 256, resampling: String = "near",
                            extra: [String] = []) throws -> RasterImage {
        let folder = TemporaryDirectory("reference-warp")
        defer { folder.remove() }
        let output = folder.file("warped.tif")
        let bounds = MercatorGrid.bounds(z: z, x: x, y: y).map { String($0) }
        try GDALTool.check("gdalwarp", ["-q", "-t_srs", "EPSG:3857", "-te"] + bounds
            + ["-ts", String(size), String(size), "-r", resampling, "-dstalpha"] + extra + [source, output])
        return try RasterImage(path: output)
    }
}
