/// Why a raster could not be read, placed or written. Every case reads as a sentence a user can act on.
public enum RasterError: Error, Equatable, Sendable, CustomStringConvertible {
    case cannotOpen(path: String, reason: String)
    case notGeoreferenced(path: String)
    case missingCRS(path: String)
    case noValidData(path: String)
    case unreadablePixels(path: String, reason: String)
    case reprojectionFailed(reason: String)
    case writeFailed(path: String, reason: String)
    case cancelled
    case invalidOption(String)
    case gdal(operation: String, reason: String)
    /// A user's file that GDAL's allowed drivers do not read; `detected` is the driver that would.
    case notGeoTIFF(file: String, detected: String?)
    /// A sidecar beside a user's file that is not what its name claims.
    case badSidecar(file: String, sidecar: String, reason: String)
    case limitExceeded(file: String, reason: String)
    case unsafePath(file: String, reason: String)

    public var description: String {
        switch self {
        case let .cannotOpen(path, reason):
            return "\(path) is not a raster GDAL can read: \(reason)"
        case let .notGeoreferenced(path):
            return "\(path) has no georeferencing (no geotransform, no GCPs, no world file): "
                + "it cannot be placed on a map; add a .tfw/.wld world file or georeference it first"
        case let .missingCRS(path):
            return "\(path) has a geotransform but no coordinate reference system: add it inside the file, "
                + "in a .aux.xml sidecar, or assign one with gdal_edit.py -a_srs"
        case let .noValidData(path):
            return "no valid data: every pixel of \(path) is nodata or masked out"
        case let .unreadablePixels(path, reason):
            return "pixel data of \(path) cannot be read (damaged file?): \(reason)"
        case let .reprojectionFailed(reason):
            return "the footprint cannot be reprojected to EPSG:4326: \(reason)"
        case let .writeFailed(path, reason):
            return "writing \(path) failed: \(reason)"
        case .cancelled:
            return "cancelled"
        case let .invalidOption(message):
            return message
        case let .gdal(operation, reason):
            return "\(operation) failed: \(reason)"
        case let .notGeoTIFF(file, detected):
            return "\(file) is not a GeoTIFF ("
                + (detected.map { "GDAL reads it as \($0)" } ?? "GDAL does not recognise its format") + ")"
        case let .badSidecar(file, sidecar, reason):
            return "\(file) cannot be imported: its sidecar \(sidecar) \(reason)"
        case let .limitExceeded(file, reason):
            return "\(file) exceeds a raster limit: \(reason)"
        case let .unsafePath(file, reason):
            return "\(file) cannot be opened: \(reason)"
        }
    }

    /// An error for a failed GDAL call, with GDAL's own message when it left one.
    static func gdal(_ operation: String) -> RasterError {
        .gdal(operation: operation, reason: lastGDALErrorMessage() ?? "no message from GDAL")
    }
}
