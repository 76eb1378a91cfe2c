import CGDAL

/// Maps pixel/line coordinates of a raster to its native CRS: through the geotransform, or through
/// GDAL's GCP transformer for rasters georeferenced by ground control points only.
final class PixelGeoreferencer {
    private enum Method {
        case affine(GeoTransform)
        case gcps(UnsafeMutableRawPointer)
    }

    private let method: Method
    let spatialReference: SpatialReference

    init(dataset: Dataset) throws {
        if let transform = dataset.geoTransform {
            guard let srs = dataset.spatialReference else {
                throw RasterError.missingCRS(path: dataset.name)
            }
            method = .affine(transform)
            spatialReference = srs
        } else if dataset.gcpCount > 0 {
            guard let srs = dataset.gcpSpatialReference else { throw RasterError.missingCRS(path: dataset.name) }
            CPLErrorReset()
            guard let transformer = GDALCreateGCPTransformer(Int32(dataset.gcpCount), GDALGetGCPs(dataset.handle), 0, 0)
            else {
                throw RasterError.cannotOpen(path: dataset.name,
                                             reason: "its GCPs do not define a usable transformation: "
                                                 + (lastGDALErrorMessage() ?? "degenerate control points"))
            }
            method = .gcps(transformer)
            spatialReference = srs
        } else {
            throw RasterError.notGeoreferenced(path: dataset.name)
        }
    }

    deinit {
        if case let .gcps(transformer) = method { GDALDestroyGCPTransformer(transformer) }
    }

    /// Maps points in place; false if a point could not be mapped.
    func map(xs: inout [Double], ys: inout [Double]) -> Bool {
        switch method {
        case let .affine(transform):
            for index in xs.indices {
                (xs[index], ys[index]) = transform.apply(column: xs[index], row: ys[index])
            }
            return true
        case let .gcps(transformer):
            var zs = [Double](repeating: 0, count: xs.count)
            var success = [Int32](repeating: 0, count: xs.count)
            let ok = GDALGCPTransform(transformer, 0, Int32(xs.count), &xs, &ys, &zs, &success)
            return ok != 0 && success.allSatisfy { $0 != 0 }
        }
    }
}
