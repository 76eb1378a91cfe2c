import Catalog
import Foundation

/// What a map client needs to know of a tile layer.
public struct TileLayerDescription: Sendable, Equatable {
    /// The layer (catalog) name the user knows.
    public var name: String
    /// [west, south, east, north] in degrees; west is greater than east when the layer crosses the
    /// antimeridian.
    public var bounds: [Double]
    public var minZoom: Int
    public var maxZoom: Int

    public init(name: String, bounds: [Double], minZoom: Int, maxZoom: Int) {
        self.name = name
        self.bounds = bounds
        self.minZoom = minZoom
        self.maxZoom = maxZoom
    }
}

/// A layer's bounds made fit for WebMercatorQuad: longitudes within ±180 (west > east still marks a
/// box across the antimeridian), latitudes within the square world (±85.0511°), south ≤ north. Bounds
/// that are not four finite numbers, or that span 360° or more, become the whole world.
struct MercatorBounds: Equatable {
    static let maxLatitude = 85.05112877980659

    var west: Double
    var south: Double
    var east: Double
    var north: Double

    init(_ bounds: [Double]) {
        guard bounds.count == 4, bounds.allSatisfy(\.isFinite) else {
            self.init(west: -180, south: -Self.maxLatitude, east: 180, north: Self.maxLatitude)
            return
        }
        let (first, second) = (Self.clamped(bounds[1]), Self.clamped(bounds[3]))
        let (south, north) = (min(first, second), max(first, second))
        if bounds[2] - bounds[0] >= 360 {
            self.init(west: -180, south: south, east: 180, north: north)
        } else {
            self.init(west: Self.wrapped(bounds[0]), south: south, east: Self.wrapped(bounds[2]), north: north)
        }
    }

    private init(west: Double, south: Double, east: Double, north: Double) {
        self.west = west
        self.south = south
        self.east = east
        self.north = north
    }

    private static func clamped(_ latitude: Double) -> Double {
        min(maxLatitude, max(-maxLatitude, latitude))
    }

    /// A longitude outside ±180 moved by whole turns into it (190 is -170); ±180 stay as they are.
    private static func wrapped(_ longitude: Double) -> Double {
        guard abs(longitude) > 180 else { return longitude }
        let turned = (longitude + 180).truncatingRemainder(dividingBy: 360)
        return (turned < 0 ? turned + 360 : turned) - 180
    }

    var crossesAntimeridian: Bool { west > east }

    /// Degrees of longitude covered, across the antimeridian when it is crossed.
    var width: Double { crossesAntimeridian ? east + 360 - west : east - west }

    /// Longitudes as a client without antimeridian support must see them: the whole ±180 when the
    /// box crosses it.
    var unwrappedWest: Double { crossesAntimeridian ? -180 : west }
    var unwrappedEast: Double { crossesAntimeridian ? 180 : east }
}

extension TileLayerDescription {
    /// `minZoom...maxZoom` within WebMercatorQuad's levels (a minimum above the maximum is lowered to it).
    var zoomRange: ClosedRange<Int> {
        let deepest = min(WebMercatorQuad.maxZoom, max(0, maxZoom))
        let shallowest = min(deepest, max(0, minZoom))
        return shallowest...deepest
    }
}

public enum TileJSON {
    /// A view that the centre zoom fits the whole layer into, in tiles of 256 pixels on each side.
    static let viewTiles = 4.0

    /// The TileJSON 3.0.0 document of a raster layer served as XYZ tiles at `tileURLTemplate` (an
    /// absolute URL with `{z}`, `{x}` and `{y}`).
    ///
    /// TileJSON bounds must not wrap around the antimeridian, so a layer that crosses it has bounds
    /// of -180 to 180; its centre is still the middle of the layer. The centre zoom is the deepest
    /// at which the whole layer fits in a view of 1024 × 1024 pixels, within minzoom...maxzoom.
    /// `tileSize` is not part of TileJSON, but MapLibre reads it and assumes 512-pixel raster tiles
    /// without it.
    public static func document(_ layer: TileLayerDescription, tileURLTemplate: String) -> JSONValue {
        let bounds = MercatorBounds(layer.bounds)
        let zooms = layer.zoomRange
        let center = center(of: bounds, zooms: zooms)
        return .object([
            "tilejson": .string("3.0.0"),
            "name": .string(layer.name),
            "tiles": .array([.string(tileURLTemplate)]),
            "scheme": .string("xyz"),
            "tileSize": .int(Int64(WebMercatorQuad.tileSize)),
            "minzoom": .int(Int64(zooms.lowerBound)),
            "maxzoom": .int(Int64(zooms.upperBound)),
            "bounds": .array([bounds.unwrappedWest, bounds.south, bounds.unwrappedEast, bounds.north].map(JSONValue.double)),
            "center": .array([.double(center.longitude), .double(center.latitude), .int(Int64(center.zoom))]),
        ])
    }

    /// The middle of the layer as a Web Mercator map shows it (halfway in projected metres, so not
    /// the mean of the latitudes), and the zoom that fits it into the view.
    static func center(of bounds: MercatorBounds, zooms: ClosedRange<Int>) -> (longitude: Double, latitude: Double, zoom: Int) {
        var longitude = bounds.west + bounds.width / 2
        if longitude > 180 { longitude -= 360 }
        let top = WebMercatorQuad.metres(longitude: 0, latitude: bounds.north).y
        let bottom = WebMercatorQuad.metres(longitude: 0, latitude: bounds.south).y
        let latitude = WebMercatorQuad.degrees(x: 0, y: (top + bottom) / 2).latitude
        // The larger side, in tiles of zoom 0.
        let span = max(bounds.width / 360, (top - bottom) / (2 * WebMercatorQuad.halfWorld))
        var zoom = zooms.upperBound
        if span > 0 {
            let fitting = log2(viewTiles / span).rounded(.down)
            zoom = Int(min(Double(zooms.upperBound), max(Double(zooms.lowerBound), fitting)))
        }
        // To 1e-7 degrees (about a centimetre), which also drops rounding noise such as 3e-14.
        let rounded = { (degrees: Double) in (degrees * 1e7).rounded() / 1e7 }
        return (rounded(longitude), rounded(latitude), zoom)
    }
}
