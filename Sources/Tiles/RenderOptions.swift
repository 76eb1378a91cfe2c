import Foundation

/// The image formats tiles are encoded in, each by GDAL's own driver.
public enum TileFormat: String, Sendable, CaseIterable {
    case png, webp, jpg

    public var mimeType: String {
        switch self {
        case .png: return "image/png"
        case .webp: return "image/webp"
        case .jpg: return "image/jpeg"
        }
    }

    var driver: String {
        switch self {
        case .png: return "PNG"
        case .webp: return "WEBP"
        case .jpg: return "JPEG"
        }
    }

    /// zlib's fastest level for PNG: deflate at the default level 6 takes most of a tile's time, for
    /// files about a quarter smaller.
    var creationOptions: [String] {
        switch self {
        case .png: return ["ZLEVEL=1"]
        case .webp: return ["QUALITY=80"]
        case .jpg: return ["QUALITY=85"]
        }
    }

    /// JPEG has no transparency: where nothing is drawn it shows black.
    var hasAlpha: Bool { self != .jpg }
}

/// GDAL's resampling methods offered for tiles.
public enum Resampling: String, Sendable, CaseIterable {
    case nearest, bilinear, cubic, average

    /// gdalwarp's `-r` name.
    var gdalName: String { self == .nearest ? "near" : rawValue }
}

/// How to draw a tile: which bands, how values become 0-255, the colour ramp and the resampling.
/// Everything left out takes the default a GIS user expects (see docs/API.md, "Map tiles").
public struct RenderOptions: Sendable, Hashable {
    /// 1-based band numbers among the raster's data bands (alpha bands are not counted): one or three.
    public var bands: [Int]?
    /// The range stretched to 0-255: one for every band, or one per band.
    public var rescale: [ClosedRange<Double>]?
    public var colormap: String?
    public var resampling: Resampling?

    public init(bands: [Int]? = nil, rescale: [ClosedRange<Double>]? = nil, colormap: String? = nil,
                resampling: Resampling? = nil) {
        self.bands = bands
        self.rescale = rescale
        self.colormap = colormap
        self.resampling = resampling
    }

    /// Reads `bands`, `rescale`, `colormap` and `resampling` from a query string's parameters.
    public init(parameters: [String: String]) throws {
        if let text = parameters["bands"] {
            let numbers = text.split(separator: ",", omittingEmptySubsequences: false).map { Int($0.trimmingCharacters(in: .whitespaces)) }
            guard !numbers.isEmpty, numbers.allSatisfy({ ($0 ?? 0) >= 1 && ($0 ?? 0) <= 65_536 }) else {
                throw TileRequestError.invalid(parameter: "bands", message: "give band numbers from 1, e.g. bands=4,3,2")
            }
            guard numbers.count == 1 || numbers.count == 3 else {
                throw TileRequestError.invalid(parameter: "bands", message: "give one band (grey or a colormap) or three (red, green, blue)")
            }
            bands = numbers.compactMap { $0 }
        }
        if let text = parameters["rescale"] {
            let values = text.split(separator: ",", omittingEmptySubsequences: false).map { Double($0.trimmingCharacters(in: .whitespaces)) }
            guard values.count >= 2, values.count % 2 == 0, values.allSatisfy({ $0?.isFinite == true }) else {
                throw TileRequestError.invalid(parameter: "rescale", message: "give min,max once or once per band, e.g. rescale=0,3000")
            }
            var ranges: [ClosedRange<Double>] = []
            for index in stride(from: 0, to: values.count, by: 2) {
                guard let low = values[index], let high = values[index + 1], low < high else {
                    throw TileRequestError.invalid(parameter: "rescale", message: "each min must be less than its max")
                }
                ranges.append(low...high)
            }
            // Without `bands`, three ranges are for the default red, green and blue.
            guard ranges.count == 1 || ranges.count == (bands?.count ?? 3) else {
                throw TileRequestError.invalid(parameter: "rescale", message: "give one range, or one per band in bands=")
            }
            rescale = ranges
        }
        if let name = parameters["colormap"] {
            guard Colormap.named(name) != nil else {
                throw TileRequestError.invalid(parameter: "colormap",
                                               message: "unknown colormap; known: \(Colormap.names.joined(separator: ", ")) (add _r to reverse)")
            }
            guard (bands?.count ?? 1) == 1 else {
                throw TileRequestError.invalid(parameter: "colormap", message: "a colormap colours one band; give bands=N")
            }
            colormap = name.lowercased()
        }
        if let name = parameters["resampling"] {
            guard let method = Resampling(rawValue: name.lowercased()) else {
                throw TileRequestError.invalid(parameter: "resampling",
                                               message: "use one of \(Resampling.allCases.map(\.rawValue).joined(separator: ", "))")
            }
            resampling = method
        }
    }

    /// The options as canonical text (for ETags: equal options, equal text).
    public var canonicalText: String {
        var parts: [String] = []
        if let bands { parts.append("bands=\(bands.map(String.init).joined(separator: ","))") }
        if let rescale { parts.append("rescale=\(rescale.map { "\($0.lowerBound),\($0.upperBound)" }.joined(separator: ","))") }
        if let colormap { parts.append("colormap=\(colormap)") }
        if let resampling { parts.append("resampling=\(resampling.rawValue)") }
        return parts.joined(separator: "&")
    }
}

/// The last path segment of a tile route: `{y}.{ext}` or `{y}@2x.{ext}`.
public struct TileName: Sendable, Equatable {
    public var row: Int
    /// 1 for 256-pixel tiles, 2 for 512.
    public var scale: Int
    public var format: TileFormat

    public init(_ text: String) throws {
        let formats = TileFormat.allCases.map(\.rawValue).joined(separator: ", ")
        guard let dot = text.lastIndex(of: ".") else {
            throw TileRequestError.invalid(parameter: "format", message: "end the tile with .png, .webp or .jpg")
        }
        let ext = text[text.index(after: dot)...].lowercased()
        guard let format = TileFormat(rawValue: ext == "jpeg" ? "jpg" : ext) else {
            throw TileRequestError.invalid(parameter: "format", message: "\(ext.prefix(16)) is not one of \(formats)")
        }
        var stem = text[..<dot]
        scale = 1
        if stem.hasSuffix("@2x") {
            scale = 2
            stem = stem.dropLast(3)
        }
        guard stem.count <= 9, let row = Int(stem), row >= 0 else {
            throw TileRequestError.invalid(parameter: "y", message: "the tile row must be a whole number")
        }
        self.row = row
        self.format = format
    }
}
