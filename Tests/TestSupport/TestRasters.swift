import Foundation
import Raster

/// Where the test rasters live: the project's own samples and the shared corpus of real GeoTIFFs.
public enum TestRasters {
    public static let projectRoot: URL = URL(fileURLWithPath: #filePath)
        .deletingLastPathComponent().deletingLastPathComponent().deletingLastPathComponent()

    public static func sample(_ name: String) -> String {
        projectRoot.appendingPathComponent("SampleRasters").appendingPathComponent(name).path
    }

    /// The extended corpus: real rasters from public test suites, beside the project.
    public static let realDirectory = projectRoot.deletingLastPathComponent()
        .appendingPathComponent("shared/rasters/real")

    public static func real(_ name: String) -> String {
        realDirectory.appendingPathComponent(name).path
    }

    /// Every real raster in the corpus. Missing corpus is a failure, not a skip.
    public static var realNames: [String] {
        let names = (try? FileManager.default.contentsOfDirectory(atPath: realDirectory.path)) ?? []
        return names.filter { $0.hasSuffix(".tif") }.sorted()
    }

    /// Samples that are valid, placeable rasters (the others are there to be rejected).
    public static let placeableSamples = [
        "nodata_collar.tif", "nan_nodata.tif", "alpha.tif", "internal_mask.tif", "sidecar_mask.tif",
        "paletted.tif", "rotated.tif", "south_up.tif", "antimeridian.tif", "past_180.tif", "wide_utm.tif",
        "world_file.tif", "gcps_only.tif",
    ]

    /// Real rasters that cannot be placed on a map, with the reason they must be rejected for.
    public static let unplaceableReal: Set<String> = ["tinymarble.tif"]
}

/// A fresh directory under the system temporary folder, removed by `remove()`.
public struct TemporaryDirectory: Sendable {
    public let path: String

    public init(_ label: String = "tile-tests") {
        path = FileManager.default.temporaryDirectory
            .appendingPathComponent("\(label)-\(UUID().uuidString)").path
        try? FileManager.default.createDirectory(atPath: path, withIntermediateDirectories: true)
    }

    public func file(_ name: String) -> String { (path as NSString).appendingPathComponent(name) }

    public func remove() { try? FileManager.default.removeItem(atPath: path) }
}

public enum GDALValidator {
    /// Runs GDAL's own COG validator (Debian's python3-gdal). Returns (passed, output).
    public static func validate(_ path: String) -> (Bool, String) {
        let process = Process()
        process.executableURL = URL(fileURLWithPath: "/usr/bin/python3")
        process.arguments = ["-m", "osgeo_utils.samples.validate_cloud_optimized_geotiff", "--full-check=yes", path]
        let pipe = Pipe()
        process.standardOutput = pipe
        process.standardError = pipe
        do { try process.run() } catch { return (false, "cannot run /usr/bin/python3: \(error)") }
        let output = String(decoding: pipe.fileHandleForReading.readDataToEndOfFile(), as: UTF8.self)
        process.waitUntilExit()
        return (process.terminationStatus == 0, output)
    }
}

/// Intersection over union of two footprints' areas.
public func intersectionOverUnion(_ a: Geometry, _ b: Geometry) throws -> Double {
    let union = try a.union(b).area
    guard union > 0 else { return 0 }
    return try a.intersection(b).area / union
}
