import CGDAL

/// An OGR geometry, owned. All geometry work (union, simplify, area, WKT and GeoJSON) is OGR's.
public final class Geometry {
    package let handle: OGRGeometryH

    /// Takes ownership of `handle`.
    package init(owning handle: OGRGeometryH) {
        self.handle = handle
    }

    /// A copy of a geometry someone else owns (a feature's, a parent's).
    package init(copying handle: OGRGeometryH) {
        self.handle = OGR_G_Clone(handle)
    }

    public convenience init(wkt: String) throws {
        GDALRuntime.ensureInitialized()
        var geometry: OGRGeometryH?
        var cursor: UnsafeMutablePointer<CChar>? = strdup(wkt)
        let start = cursor
        defer { free(start) }
        guard OGR_G_CreateFromWkt(&cursor, nil, &geometry) == OGRERR_NONE, let geometry else {
            throw RasterError.invalidOption("not a WKT geometry: \(wkt.prefix(80))")
        }
        self.init(owning: geometry)
    }

    public convenience init(geoJSON: String) throws {
        GDALRuntime.ensureInitialized()
        guard let geometry = OGR_G_CreateGeometryFromJson(geoJSON) else {
            throw RasterError.invalidOption("not a GeoJSON geometry: \(geoJSON.prefix(80))")
        }
        self.init(owning: geometry)
    }

    /// A polygon from closed rings of (x, y); the first ring is the shell.
    public convenience init(polygonRings rings: [[(Double, Double)]]) {
        let polygon = OGR_G_CreateGeometry(wkbPolygon)!
        for ring in rings {
            let linearRing = OGR_G_CreateGeometry(wkbLinearRing)!
            for (x, y) in ring { OGR_G_AddPoint_2D(linearRing, x, y) }
            OGR_G_CloseRings(linearRing)
            OGR_G_AddGeometryDirectly(polygon, linearRing)
        }
        self.init(owning: polygon)
    }

    /// A multipolygon made of copies of `parts`' polygons.
    convenience init(multiPolygonOf parts: [Geometry]) {
        let multi = OGR_G_CreateGeometry(wkbMultiPolygon)!
        for part in parts {
            for polygon in part.polygons { OGR_G_AddGeometry(multi, polygon.handle) }
        }
        self.init(owning: multi)
    }

    deinit { OGR_G_DestroyGeometry(handle) }

    public func clone() -> Geometry { Geometry(copying: handle) }

    public var wkt: String {
        var pointer: UnsafeMutablePointer<CChar>?
        guard OGR_G_ExportToIsoWkt(handle, &pointer) == OGRERR_NONE else { return "" }
        return takeGDALString(pointer) ?? ""
    }

    /// The GeoJSON geometry object, as text.
    public func geoJSON(significantFigures: Int = 15) -> String {
        let options = StringList(["SIGNIFICANT_FIGURES=\(significantFigures)"])
        return takeGDALString(OGR_G_ExportToJsonEx(handle, options.pointer)) ?? "null"
    }

    public var typeName: String { String(cString: OGR_G_GetGeometryName(handle)) }
    public var isEmpty: Bool { OGR_G_IsEmpty(handle) != 0 }
    public var isValid: Bool { OGR_G_IsValid(handle) != 0 }
    public var area: Double { OGR_G_Area(handle) }

    public var envelope: Envelope {
        var envelope = OGREnvelope()
        OGR_G_GetEnvelope(handle, &envelope)
        return Envelope(minX: envelope.MinX, minY: envelope.MinY, maxX: envelope.MaxX, maxY: envelope.MaxY)
    }

    /// Number of vertices across all rings and parts.
    public var vertexCount: Int {
        let children = Int(OGR_G_GetGeometryCount(handle))
        if children == 0 { return Int(OGR_G_GetPointCount(handle)) }
        return (0..<children).reduce(0) { total, index in
            total + Geometry(copying: OGR_G_GetGeometryRef(handle, Int32(index))).vertexCount
        }
    }

    /// The polygons of a polygon or multipolygon (copies).
    var polygons: [Geometry] {
        let flatType = OGR_GT_Flatten(OGR_G_GetGeometryType(handle))
        if flatType == wkbPolygon { return [clone()] }
        guard flatType == wkbMultiPolygon || flatType == wkbGeometryCollection else { return [] }
        return (0..<Int(OGR_G_GetGeometryCount(handle))).flatMap { index in
            Geometry(copying: OGR_G_GetGeometryRef(handle, Int32(index))).polygons
        }
    }

    /// The rings of a polygon as point arrays (shell first).
    var rings: [[(Double, Double)]] {
        (0..<Int(OGR_G_GetGeometryCount(handle))).map { index in
            let ring = OGR_G_GetGeometryRef(handle, Int32(index))
            return (0..<OGR_G_GetPointCount(ring)).map { (OGR_G_GetX(ring, $0), OGR_G_GetY(ring, $0)) }
        }
    }

    public func union(_ other: Geometry) throws -> Geometry {
        try result(of: OGR_G_Union(handle, other.handle), "union")
    }

    public func intersection(_ other: Geometry) throws -> Geometry {
        try result(of: OGR_G_Intersection(handle, other.handle), "intersection")
    }

    public func boundary() throws -> Geometry { try result(of: OGR_G_Boundary(handle), "boundary") }

    /// Planar distance from the point (x, y) to this geometry.
    public func distance(toX x: Double, y: Double) -> Double {
        let point = Geometry(owning: OGR_G_CreateGeometry(wkbPoint))
        OGR_G_SetPoint_2D(point.handle, 0, x, y)
        return OGR_G_Distance(handle, point.handle)
    }

    public func intersects(_ other: Geometry) -> Bool { OGR_G_Intersects(handle, other.handle) != 0 }

    func simplifiedPreservingTopology(tolerance: Double) throws -> Geometry {
        try result(of: OGR_G_SimplifyPreserveTopology(handle, tolerance), "simplification")
    }

    func madeValid() throws -> Geometry {
        if isValid { return clone() }
        return try result(of: OGR_G_MakeValid(handle), "repairing the geometry")
    }

    /// Reprojects, splitting at the antimeridian when the target is geographic (RFC 7946 §3.1.9).
    func transformed(with transformation: CoordinateTransformation, wrapDateline: Bool) throws -> Geometry {
        let options = StringList(wrapDateline ? ["WRAPDATELINE=YES"] : [])
        guard let transformer = OGR_GeomTransformer_Create(transformation.handle, options.pointer) else {
            throw RasterError.reprojectionFailed(reason: lastGDALErrorMessage() ?? "no transformer")
        }
        defer { OGR_GeomTransformer_Destroy(transformer) }
        CPLErrorReset()
        guard let output = OGR_GeomTransformer_Transform(transformer, handle) else {
            throw RasterError.reprojectionFailed(reason: lastGDALErrorMessage() ?? "points outside the CRS's area of use")
        }
        return Geometry(owning: output)
    }

    private func result(of output: OGRGeometryH?, _ operation: String) throws -> Geometry {
        guard let output else { throw RasterError.gdal("geometry \(operation)") }
        return Geometry(owning: output)
    }
}

public struct Envelope: Equatable, Sendable, Codable {
    public var minX, minY, maxX, maxY: Double
    public init(minX: Double, minY: Double, maxX: Double, maxY: Double) {
        self.minX = minX; self.minY = minY; self.maxX = maxX; self.maxY = maxY
    }
    public var asArray: [Double] { [minX, minY, maxX, maxY] }

    /// Parses "minx,miny,maxx,maxy" (a bbox as in query strings); nil when malformed or inverted.
    public static func parse(_ text: String) -> Envelope? {
        let numbers = text.split(separator: ",").compactMap { Double($0.trimmingCharacters(in: .whitespaces)) }
        guard numbers.count == 4, numbers[0] <= numbers[2], numbers[1] <= numbers[3] else { return nil }
        return Envelope(minX: numbers[0], minY: numbers[1], maxX: numbers[2], maxY: numbers[3])
    }
}
