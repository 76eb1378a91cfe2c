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

// MARK: GeoJSON (RFC 7946)

extension Geometry {
    /// The same polygons with the right-hand rule of RFC 7946 §3.1.6: exterior rings counter-clockwise,
    /// holes clockwise (OGR's GeoJSON export keeps rings as they are stored). Other geometries are
    /// returned unchanged.
    public func withRightHandRule() -> Geometry {
        let flatType = OGR_GT_Flatten(OGR_G_GetGeometryType(handle))
        guard flatType == wkbPolygon || flatType == wkbMultiPolygon else { return clone() }
        let oriented = polygons.map { polygon in
            Geometry(polygonRings: polygon.rings.enumerated().map { index, ring in
                let counterClockwise = Self.signedArea(of: ring) > 0
                return counterClockwise == (index == 0) ? ring : ring.reversed()
            })
        }
        if flatType == wkbPolygon, let polygon = oriented.first { return polygon }
        return Geometry(multiPolygonOf: oriented)
    }

    /// The shoelace area of a ring, positive when it turns counter-clockwise (x east, y north).
    public static func signedArea(of ring: [(Double, Double)]) -> Double {
        guard ring.count > 2 else { return 0 }
        var sum = 0.0
        for index in ring.indices {
            let (x1, y1) = ring[index], (x2, y2) = ring[(index + 1) % ring.count]
            sum += x1 * y2 - x2 * y1
        }
        return sum / 2
    }

    /// The rings of every polygon, shell first (for checks of orientation and holes).
    public var polygonRings: [[[(Double, Double)]]] { polygons.map(\.rings) }

    /// [west, south, east, north] in lon/lat (RFC 7946 §5.2), nil when empty.
    public var geographicBoundingBox: [Double]? { Self.geographicBoundingBox(of: [self]) }

    /// The bounding box of several lon/lat geometries. When they reach both +180 and -180 (footprints
    /// split at the antimeridian), the box spans the antimeridian the short way, so west > east
    /// (RFC 7946 §5.2): the box leaves out the widest band of longitudes that nothing covers.
    public static func geographicBoundingBox(of geometries: [Geometry]) -> [Double]? {
        let parts = geometries.flatMap { $0.polygons.isEmpty ? [$0] : $0.polygons }.filter { !$0.isEmpty }
        guard let first = parts.first?.envelope else { return nil }
        var box = first
        for part in parts.dropFirst() {
            let envelope = part.envelope
            box = Envelope(minX: min(box.minX, envelope.minX), minY: min(box.minY, envelope.minY),
                           maxX: max(box.maxX, envelope.maxX), maxY: max(box.maxY, envelope.maxY))
        }
        let edge = 180 - 1e-9
        guard box.minX <= -edge, box.maxX >= edge else { return box.asArray }
        // Merge the parts' longitude ranges and find the widest gap between them.
        var ranges = parts.map { ($0.envelope.minX, $0.envelope.maxX) }.sorted { $0.0 < $1.0 }
        var merged = [ranges.removeFirst()]
        for range in ranges {
            if range.0 <= merged[merged.count - 1].1 {
                merged[merged.count - 1].1 = max(merged[merged.count - 1].1, range.1)
            } else {
                merged.append(range)
            }
        }
        var widest: (west: Double, east: Double, width: Double)?
        for index in merged.indices.dropLast() {
            let width = merged[index + 1].0 - merged[index].1
            if width > (widest?.width ?? 0) { widest = (merged[index + 1].0, merged[index].1, width) }
        }
        guard let widest else { return box.asArray }
        return [widest.west, box.minY, widest.east, box.maxY]
    }
}

public struct Envelope: Equatable, Sendable, Codable {
    public var minX, minY, maxX, maxY: Double
    public init(minX: Double, minY: Double, maxX: Double, maxY: Double) {
        self.minX = minX; self.minY = minY; self.maxX = maxX; self.maxY = maxY
    }
    public var asArray: [Double] { [minX, minY, maxX, maxY] }

    /// Parses "west,south,east,north" (a bbox as in query strings); nil when malformed or when south
    /// is above north. West may be greater than east: the box then crosses the antimeridian (RFC 7946
    /// §5.2), which needs both in -180...180.
    public static func parse(_ text: String) -> Envelope? {
        let parts = text.split(separator: ",", omittingEmptySubsequences: false)
        let numbers = parts.compactMap { Double($0.trimmingCharacters(in: .whitespaces)) }
        guard parts.count == 4, numbers.count == 4, numbers.allSatisfy(\.isFinite), numbers[1] <= numbers[3] else {
            return nil
        }
        let envelope = Envelope(minX: numbers[0], minY: numbers[1], maxX: numbers[2], maxY: numbers[3])
        if envelope.crossesAntimeridian, !(-180...180).contains(envelope.minX) || !(-180...180).contains(envelope.maxX) {
            return nil
        }
        return envelope
    }

    /// West is greater than east: the box spans the antimeridian.
    public var crossesAntimeridian: Bool { minX > maxX }

    /// The box as a (multi)polygon in lon/lat: two rectangles when it crosses the antimeridian.
    public var geometry: Geometry {
        func rectangle(_ west: Double, _ east: Double) -> Geometry {
            Geometry(polygonRings: [[(west, minY), (east, minY), (east, maxY), (west, maxY), (west, minY)]])
        }
        guard crossesAntimeridian else { return rectangle(minX, maxX) }
        return Geometry(multiPolygonOf: [rectangle(minX, 180), rectangle(-180, maxX)])
    }
}
