import Foundation

/// WebMercatorQuad (OGC 2D TMS; WMTS "GoogleMapsCompatible"): EPSG:3857 tiles of 256 pixels, tile
/// (0, 0) at the north-west corner, the XYZ scheme of OSM, Leaflet and QGIS.
public enum WebMercatorQuad {
    /// Half the width of the world in EPSG:3857 metres.
    public static let halfWorld = 20037508.342789244
    public static let tileSize = 256
    /// Deepest zoom level served (pixels of about 2 cm at the equator).
    public static let maxZoom = 24
    /// WMTS scale denominator of level 0 (0.28 mm pixels).
    public static let scaleDenominatorAtZero = 559082264.0287178

    /// The pixel size in metres at `zoom` for 256-pixel tiles.
    public static func resolution(zoom: Int) -> Double {
        2 * halfWorld / Double(tileSize) / pow(2, Double(zoom))
    }

    /// The lowest zoom whose pixels are no larger than `metres` (clamped to 0...maxZoom).
    public static func zoom(forResolution metres: Double) -> Int {
        guard metres.isFinite, metres > 0 else { return 0 }
        // A small tolerance keeps an exact zoom resolution from rounding up to the next level.
        let zoom = (log2(resolution(zoom: 0) / metres) - 1e-6).rounded(.up)
        return min(maxZoom, max(0, Int(zoom)))
    }

    /// Metres on the EPSG:3857 x axis of a longitude, and y axis of a latitude (clamped to the
    /// square world, ±85.0511°).
    public static func metres(longitude: Double, latitude: Double) -> (x: Double, y: Double) {
        let x = longitude * halfWorld / 180
        let clamped = min(85.05112877980659, max(-85.05112877980659, latitude))
        let y = log(tan((90 + clamped) * .pi / 360)) * halfWorld / .pi
        return (x, y)
    }

    public static func degrees(x: Double, y: Double) -> (longitude: Double, latitude: Double) {
        let longitude = x / halfWorld * 180
        let latitude = atan(sinh(y / halfWorld * .pi)) * 180 / .pi
        return (longitude, latitude)
    }
}

/// One tile of WebMercatorQuad.
public struct TileCoordinate: Sendable, Hashable, CustomStringConvertible {
    public var z: Int
    public var x: Int
    public var y: Int

    /// Checks the numbers: zoom within 0...maxZoom, column and row within the zoom's matrix.
    public init(z: Int, x: Int, y: Int) throws {
        guard (0...WebMercatorQuad.maxZoom).contains(z) else {
            throw TileRequestError.invalid(parameter: "z", message: "zoom must be 0 to \(WebMercatorQuad.maxZoom)")
        }
        let count = 1 << z
        guard (0..<count).contains(x) else {
            throw TileRequestError.invalid(parameter: "x", message: "column must be 0 to \(count - 1) at zoom \(z)")
        }
        guard (0..<count).contains(y) else {
            throw TileRequestError.invalid(parameter: "y", message: "row must be 0 to \(count - 1) at zoom \(z)")
        }
        self.z = z
        self.x = x
        self.y = y
    }

    private init(uncheckedZ z: Int, x: Int, y: Int) {
        (self.z, self.x, self.y) = (z, x, y)
    }

    /// Zoom 0's one tile.
    public static let world = TileCoordinate(uncheckedZ: 0, x: 0, y: 0)

    public var description: String { "\(z)/\(x)/\(y)" }

    /// [minX, minY, maxX, maxY] in EPSG:3857 metres.
    public var bounds: [Double] {
        let span = 2 * WebMercatorQuad.halfWorld / Double(1 << z)
        let minX = -WebMercatorQuad.halfWorld + Double(x) * span
        let maxY = WebMercatorQuad.halfWorld - Double(y) * span
        return [minX, maxY - span, minX + span, maxY]
    }

    /// [west, south, east, north] in degrees.
    public var geographicBounds: [Double] {
        let b = bounds
        let southWest = WebMercatorQuad.degrees(x: b[0], y: b[1])
        let northEast = WebMercatorQuad.degrees(x: b[2], y: b[3])
        return [southWest.longitude, southWest.latitude, northEast.longitude, northEast.latitude]
    }
}

/// A tile request the server refuses: which parameter, and why (a `400` naming it).
public enum TileRequestError: Error, Equatable, CustomStringConvertible {
    case invalid(parameter: String, message: String)

    public var description: String {
        switch self {
        case let .invalid(parameter, message): return "\(parameter): \(message)"
        }
    }
}
