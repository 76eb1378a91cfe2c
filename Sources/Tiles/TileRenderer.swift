import CGDAL
import Foundation
import Raster

/// One raster drawn on a tile.
public struct TileSource: Sendable {
    /// The stored raster's absolute path.
    public var path: String
    /// Its band summaries from the catalog; computed from the file when nil.
    public var bands: [BandSummary]?
    /// For a raster in geographic coordinates that runs past ±180°: the side it runs over (+1 east,
    /// -1 west), drawn a second time one world-width away so it shows on both edges of the map.
    public var wrapsAntimeridian: Int

    public init(path: String, bands: [BandSummary]?, wrapsAntimeridian: Int = 0) {
        self.path = path
        self.bands = bands
        self.wrapsAntimeridian = wrapsAntimeridian
    }
}

/// Draws tiles: GDAL warps each source to the tile (reading the overview level that fits), the
/// bands are stretched and coloured, sources are laid one under the other (the first on top) until
/// the tile is covered, and GDAL's PNG, WEBP or JPEG driver encodes the result in memory.
public struct TileRenderer: Sendable {
    public var tile: TileCoordinate
    public var scale: Int
    public var format: TileFormat
    public var options: RenderOptions
    /// Stretch ranges by band number when `rescale` is not given and the band is not 8-bit: for a
    /// mosaic, the whole catalog's (so neighbouring tiles and items match).
    public var statistics: [Int: ClosedRange<Double>]?

    public init(tile: TileCoordinate, scale: Int = 1, format: TileFormat = .png, options: RenderOptions = RenderOptions(),
                statistics: [Int: ClosedRange<Double>]? = nil) {
        self.tile = tile
        self.scale = scale
        self.format = format
        self.options = options
        self.statistics = statistics
    }

    var size: Int { WebMercatorQuad.tileSize * scale }

    /// The encoded tile, or nil when no source has a visible pixel on it.
    public func render(_ sources: [TileSource], cache: DatasetCache) throws -> Data? {
        var canvas = Canvas()
        for source in sources {
            let dataset = try cache.dataset(source.path)
            let summaries = try source.bands ?? cache.summaries(source.path)
            var shifts = [0.0]
            if source.wrapsAntimeridian != 0 { shifts.append(Double(source.wrapsAntimeridian) * 2 * WebMercatorQuad.halfWorld) }
            for shift in shifts {
                guard let layer = try draw(dataset, summaries: summaries, shift: shift) else { continue }
                canvas.addUnder(layer)
                if canvas.isOpaque { break }
            }
            if canvas.isOpaque { break }
        }
        guard canvas.hasPixels else { return nil }
        return try encode(canvas.rgba())
    }

    // MARK: Warping

    /// The source warped to the tile and drawn as RGBA; nil when it has no visible pixel there.
    private func draw(_ dataset: GDALDatasetH, summaries: [BandSummary], shift: Double) throws -> Layer? {
        let warped = try warp(dataset, shift: shift)
        defer { GDALClose(warped) }
        let bandCount = Int(GDALGetRasterCount(warped))
        var alphaBand = 0
        var dataBands: [Int32] = []
        for index in 1...bandCount {
            if GDALGetRasterColorInterpretation(GDALGetRasterBand(warped, Int32(index))) == GCI_AlphaBand, index == bandCount {
                alphaBand = index
            } else {
                dataBands.append(Int32(index))
            }
        }
        let pixels = size * size
        var alpha = [UInt8](repeating: 255, count: pixels)
        if alphaBand > 0 { try read(warped, band: Int32(alphaBand), into: &alpha) }
        guard alpha.contains(where: { $0 != 0 }) else { return nil }

        let dataSummaries = summaries.filter { !$0.isAlpha }
        let style = try Style(options: options, available: dataBands.count, summaries: dataSummaries, statistics: statistics)
        var layer = Layer(red: [], green: [], blue: [], alpha: alpha)
        var channels: [[UInt8]] = []
        for (position, band) in style.bands.enumerated() {
            if style.ranges[position] == nil {
                // Values taken as they are: GDAL converts to bytes itself, clamping to 0-255.
                var bytes = [UInt8](repeating: 0, count: pixels)
                try read(warped, band: dataBands[band - 1], into: &bytes)
                channels.append(bytes)
            } else {
                var values = [Float](repeating: 0, count: pixels)
                try read(warped, band: dataBands[band - 1], into: &values)
                channels.append(style.bytes(values, channel: position))
            }
        }
        switch style.coloring {
        case .rgb:
            (layer.red, layer.green, layer.blue) = (channels[0], channels[1], channels[2])
        case .grey:
            (layer.red, layer.green, layer.blue) = (channels[0], channels[0], channels[0])
        case let .lookup(table):
            let indexes = channels[0]
            layer.red = indexes.map { table[Int($0)].red }
            layer.green = indexes.map { table[Int($0)].green }
            layer.blue = indexes.map { table[Int($0)].blue }
            for index in 0..<pixels where table[Int(indexes[index])].alpha != 255 {
                layer.alpha[index] = UInt8(Int(layer.alpha[index]) * Int(table[Int(indexes[index])].alpha) / 255)
            }
        }
        return layer
    }

    /// gdalwarp to the tile's bounds and size into memory: the same arguments as the command line
    /// (`-t_srs EPSG:3857 -te ... -ts N N -r METHOD -dstalpha`), so a tile equals gdalwarp's output
    /// (for types other than Byte, with its alpha on the 0-255 scale).
    private func warp(_ dataset: GDALDatasetH, shift: Double) throws -> GDALDatasetH {
        let bounds = tile.bounds
        let target = shift == 0 ? "EPSG:3857" : Self.mercatorPastTheAntimeridian
        let resampling = options.resampling ?? .nearest
        let arguments = ["-of", "MEM", "-t_srs", target,
                         "-te"] + [bounds[0] + shift, bounds[1], bounds[2] + shift, bounds[3]].map { String($0) }
            + ["-ts", String(size), String(size), "-r", resampling.gdalName, "-dstalpha",
               // Alpha from 0 to 255 whatever the data type (gdalwarp scales it to the type's maximum).
               "-wo", "DST_ALPHA_MAX=255"]
        let list = StringList(arguments)
        guard let warpOptions = GDALWarpAppOptionsNew(list.pointer, nil) else {
            throw TileRenderError.renderFailed(reason: "warp options refused: \(lastGDALErrorMessage() ?? "")")
        }
        defer { GDALWarpAppOptionsFree(warpOptions) }
        var sources: [GDALDatasetH?] = [dataset]
        var usageError: Int32 = 0
        CPLErrorReset()
        let output = sources.withUnsafeMutableBufferPointer { buffer in
            GDALWarp("", nil, 1, buffer.baseAddress, warpOptions, &usageError)
        }
        guard let output else {
            throw TileRenderError.renderFailed(reason: "warping failed: \(lastGDALErrorMessage() ?? "")")
        }
        return output
    }

    /// Web Mercator that lets longitudes run past ±180°, for sources stored that way.
    static let mercatorPastTheAntimeridian =
        "+proj=merc +a=6378137 +b=6378137 +lat_ts=0 +lon_0=0 +x_0=0 +y_0=0 +k=1 +units=m +over +no_defs"

    private func read<T>(_ dataset: GDALDatasetH, band: Int32, into buffer: inout [T]) throws {
        let type = T.self == UInt8.self ? GDT_Byte : GDT_Float32
        let status = buffer.withUnsafeMutableBytes { raw in
            GDALRasterIO(GDALGetRasterBand(dataset, band), GF_Read, 0, 0, Int32(size), Int32(size),
                         raw.baseAddress, Int32(size), Int32(size), type, 0, 0)
        }
        guard status == CE_None else {
            throw TileRenderError.renderFailed(reason: "reading a warped band failed: \(lastGDALErrorMessage() ?? "")")
        }
    }

    // MARK: Encoding

    /// Encodes red, green, blue and alpha planes with as few bands as show the same image: grey
    /// when the three colours are equal, no alpha when every pixel is opaque (WEBP takes only RGB or
    /// RGBA, JPEG no alpha).
    func encode(_ planes: [[UInt8]]) throws -> Data {
        let alpha = format.hasAlpha && planes[3].contains { $0 != 255 }
        let grey = format != .webp && planes[0] == planes[1] && planes[1] == planes[2]
        let bands = (grey ? [planes[0]] : Array(planes.prefix(3))) + (alpha ? [planes[3]] : [])
        guard let memory = GDALGetDriverByName("MEM"),
              let image = GDALCreate(memory, "", Int32(size), Int32(size), Int32(bands.count), GDT_Byte, nil) else {
            throw TileRenderError.renderFailed(reason: "cannot create an image in memory")
        }
        defer { GDALClose(image) }
        for (index, plane) in bands.enumerated() {
            let status = plane.withUnsafeBytes { raw in
                GDALRasterIO(GDALGetRasterBand(image, Int32(index + 1)), GF_Write, 0, 0, Int32(size), Int32(size),
                             UnsafeMutableRawPointer(mutating: raw.baseAddress), Int32(size), Int32(size), GDT_Byte, 0, 0)
            }
            guard status == CE_None else { throw TileRenderError.renderFailed(reason: "cannot fill the image") }
        }
        if alpha { GDALSetRasterColorInterpretation(GDALGetRasterBand(image, Int32(bands.count)), GCI_AlphaBand) }
        let path = "/vsimem/tile-\(UUID().uuidString).\(format.rawValue)"
        defer {
            VSIUnlink(path)
            VSIUnlink(path + ".aux.xml")
        }
        guard let driver = GDALGetDriverByName(format.driver) else {
            throw TileRenderError.renderFailed(reason: "GDAL has no \(format.driver) driver")
        }
        CPLErrorReset()
        let creation = StringList(format.creationOptions)
        guard let encoded = GDALCreateCopy(driver, path, image, 0, creation.pointer, nil, nil) else {
            throw TileRenderError.renderFailed(reason: "encoding failed: \(lastGDALErrorMessage() ?? "")")
        }
        GDALClose(encoded)
        var length: vsi_l_offset = 0
        guard let bytes = VSIGetMemFileBuffer(path, &length, 0) else {
            throw TileRenderError.renderFailed(reason: "the encoded tile is missing")
        }
        return Data(bytes: bytes, count: Int(length))
    }
}

/// One source drawn on the tile, as planes of red, green, blue and alpha.
struct Layer {
    var red: [UInt8]
    var green: [UInt8]
    var blue: [UInt8]
    var alpha: [UInt8]
}

/// The tile being composed, premultiplied: each new layer goes under what is already there.
struct Canvas {
    private var red: [Float]
    private var green: [Float]
    private var blue: [Float]
    private var alpha: [Float]
    private var first: Layer?
    private var layers = 0

    init() {
        red = []; green = []; blue = []; alpha = []
    }

    var hasPixels: Bool { layers > 0 }
    private(set) var isOpaque = false

    mutating func addUnder(_ layer: Layer) {
        layers += 1
        if layers == 1 {
            // One layer is the common case; kept as it is, its pixels are exactly the warp's.
            first = layer
            isOpaque = !layer.alpha.contains { $0 != 255 }
            return
        }
        if layers == 2, let first {
            let count = first.alpha.count
            red = [Float](repeating: 0, count: count); green = red; blue = red; alpha = red
            blend(first)
            self.first = nil
        }
        blend(layer)
        isOpaque = !alpha.contains { $0 < 0.999 }
    }

    private mutating func blend(_ layer: Layer) {
        for index in 0..<layer.alpha.count {
            let cover = 1 - alpha[index]
            guard cover > 0, layer.alpha[index] > 0 else { continue }
            let weight = Float(layer.alpha[index]) / 255 * cover
            red[index] += Float(layer.red[index]) * weight
            green[index] += Float(layer.green[index]) * weight
            blue[index] += Float(layer.blue[index]) * weight
            alpha[index] += weight
        }
    }

    func rgba() -> [[UInt8]] {
        if let first { return [first.red, first.green, first.blue, first.alpha] }
        func straight(_ plane: [Float]) -> [UInt8] {
            zip(plane, alpha).map { value, alpha in alpha > 0 ? UInt8(min(255, (value / alpha).rounded())) : 0 }
        }
        return [straight(red), straight(green), straight(blue), alpha.map { UInt8(min(255, ($0 * 255).rounded())) }]
    }
}
