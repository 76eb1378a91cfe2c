import CGDAL

/// An OGR spatial reference, owned. Always in traditional GIS axis order (x = easting/longitude).
public final class SpatialReference {
    let handle: OGRSpatialReferenceH

    init(cloning other: OGRSpatialReferenceH) {
        handle = OSRClone(other)
        OSRSetAxisMappingStrategy(handle, OAMS_TRADITIONAL_GIS_ORDER)
    }

    /// A CRS from anything `OSRSetFromUserInput` takes: "EPSG:4326", WKT, PROJ strings.
    public init(_ definition: String) throws {
        GDALRuntime.ensureInitialized()
        handle = OSRNewSpatialReference(nil)
        guard OSRSetFromUserInput(handle, definition) == OGRERR_NONE else {
            OSRDestroySpatialReference(handle)
            throw RasterError.invalidOption("unknown coordinate reference system: \(definition)")
        }
        OSRSetAxisMappingStrategy(handle, OAMS_TRADITIONAL_GIS_ORDER)
    }

    public static func wgs84() -> SpatialReference {
        // EPSG:4326 is always known to PROJ; a failure here is a broken installation.
        try! SpatialReference("EPSG:4326")
    }

    deinit { OSRDestroySpatialReference(handle) }

    public var wkt: String {
        var pointer: UnsafeMutablePointer<CChar>?
        let options = StringList(["FORMAT=WKT2_2018"])
        guard OSRExportToWktEx(handle, &pointer, options.constPointer) == OGRERR_NONE else { return "" }
        return takeGDALString(pointer) ?? ""
    }

    public var name: String { OSRGetName(handle).map { String(cString: $0) } ?? "" }

    /// "EPSG:32618" when the CRS is (or is recognised as) an EPSG code, nil otherwise.
    public var epsgCode: String? {
        if let authority = OSRGetAuthorityName(handle, nil), let code = OSRGetAuthorityCode(handle, nil) {
            return "\(String(cString: authority)):\(String(cString: code))"
        }
        guard let copy = OSRClone(handle) else { return nil }
        defer { OSRDestroySpatialReference(copy) }
        guard OSRAutoIdentifyEPSG(copy) == OGRERR_NONE,
              let authority = OSRGetAuthorityName(copy, nil), let code = OSRGetAuthorityCode(copy, nil)
        else { return nil }
        return "\(String(cString: authority)):\(String(cString: code))"
    }

    /// The EPSG code when there is one, the WKT otherwise: what the catalog stores as `crs`.
    public var identifier: String { epsgCode ?? wkt }

    public var isGeographic: Bool { OSRIsGeographic(handle) != 0 }

    public func isSame(as other: SpatialReference) -> Bool { OSRIsSame(handle, other.handle) != 0 }
}

/// A coordinate transformation between two CRSs, owned.
final class CoordinateTransformation {
    let handle: OGRCoordinateTransformationH

    init(from source: SpatialReference, to target: SpatialReference) throws {
        CPLErrorReset()
        guard let handle = OCTNewCoordinateTransformation(source.handle, target.handle) else {
            throw RasterError.reprojectionFailed(reason: lastGDALErrorMessage() ?? "no transformation between the CRSs")
        }
        self.handle = handle
    }

    deinit { OCTDestroyCoordinateTransformation(handle) }

    /// Transforms points in place; returns false if any point could not be transformed.
    func transform(xs: inout [Double], ys: inout [Double]) -> Bool {
        let count = xs.count
        guard count > 0 else { return true }
        var success = [Int32](repeating: 0, count: count)
        let ok = xs.withUnsafeMutableBufferPointer { x in
            ys.withUnsafeMutableBufferPointer { y in
                OCTTransformEx(handle, Int32(count), x.baseAddress, y.baseAddress, nil, &success)
            }
        }
        return ok != 0 && success.allSatisfy { $0 != 0 }
    }
}

/// Reprojects (x, y) points between two CRSs.
public func reproject(_ points: [(Double, Double)], from source: SpatialReference,
                      to target: SpatialReference) throws -> [(Double, Double)] {
    var xs = points.map(\.0), ys = points.map(\.1)
    guard try CoordinateTransformation(from: source, to: target).transform(xs: &xs, ys: &ys) else {
        throw RasterError.reprojectionFailed(reason: "some points are outside the target CRS's area of use")
    }
    return Array(zip(xs, ys))
}
