/// GDAL's affine geotransform: pixel/line to georeferenced coordinates.
/// `x = c[0] + col*c[1] + row*c[2]`, `y = c[3] + col*c[4] + row*c[5]`.
public struct GeoTransform: Equatable, Sendable, Codable {
    public var coefficients: [Double]

    public init(_ coefficients: [Double]) {
        precondition(coefficients.count == 6, "a geotransform has six coefficients")
        self.coefficients = coefficients
    }

    public func apply(column: Double, row: Double) -> (x: Double, y: Double) {
        let c = coefficients
        return (c[0] + column * c[1] + row * c[2], c[3] + column * c[4] + row * c[5])
    }

    /// Rotation or shear terms present: the raster is not north-up.
    public var isRotated: Bool { coefficients[2] != 0 || coefficients[4] != 0 }

    /// Rows run south to north (positive pixel height on a north-up raster).
    public var isSouthUp: Bool { !isRotated && coefficients[5] > 0 }

    /// Size of one pixel along the column and row directions, in CRS units.
    public var resolution: (x: Double, y: Double) {
        let c = coefficients
        return ((c[1] * c[1] + c[4] * c[4]).squareRoot(), (c[2] * c[2] + c[5] * c[5]).squareRoot())
    }
}
