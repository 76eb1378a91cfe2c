import CGDAL
import Foundation

/// What writing a COG produced.
public struct COGResult: Sendable, Equatable, Codable {
    public var path: String
    public var overviewLevels: Int
    /// The levels that were asked for, when more than the raster allows (the request was capped).
    public var cappedFrom: Int?
    public var resampling: String
    public var compression: String
}

extension Dataset {
    /// Writes this raster as a Cloud Optimized GeoTIFF at `path` with GDAL's COG driver. Pixels,
    /// nodata, masks and alpha, colour tables, band descriptions and metadata are carried over.
    /// On failure or cancellation nothing is left at `path`.
    public func writeCOG(to path: String, options: COGOptions,
                         progress: ProgressSink = ProgressSink()) throws -> COGResult {
        try options.validate()
        guard let driver = GDALGetDriverByName("COG") else { throw RasterError.gdal("finding GDAL's COG driver") }
        let possible = COGOptions.automaticOverviewLevels(width: width, height: height, blockSize: options.blockSize)
        let requested = options.overviewLevels ?? 0
        let levels = requested == 0 ? possible : min(requested, possible)
        let resampling = options.resampling ?? (isCategorical ? "NEAREST" : "AVERAGE")

        let creation = StringList()
        creation.set("COMPRESS", options.compression)
        creation.set("BLOCKSIZE", String(options.blockSize))
        creation.set("NUM_THREADS", options.threads)
        creation.set("BIGTIFF", "IF_SAFER")
        creation.set("RESAMPLING", resampling)
        // Existing overviews in the source may have been made another way or be of another count.
        creation.set("OVERVIEWS", levels == 0 ? "NONE" : "IGNORE_EXISTING")
        if levels > 0 { creation.set("OVERVIEW_COUNT", String(levels)) }
        if COGOptions.predictorCompressions.contains(options.compression) { creation.set("PREDICTOR", "YES") }
        if let level = options.level { creation.set("LEVEL", String(level)) }
        if let quality = options.quality { creation.set("QUALITY", String(quality)) }

        CPLErrorReset()
        let output = ProgressBox(progress).withCallback { callback, argument in
            GDALCreateCopy(driver, path, handle, 0, creation.pointer, callback, argument)
        }
        let failure = lastGDALErrorMessage()
        guard let output, CPLGetLastErrorType() != CE_Failure else {
            if let output { GDALClose(output) }
            removeDatasetFiles(at: path)
            if progress.cancellation.isCancelled { throw RasterError.cancelled }
            throw RasterError.unreadablePixels(path: name, reason: failure ?? "GDAL's COG driver failed")
        }
        CPLErrorReset()
        GDALClose(output)
        if CPLGetLastErrorType() == CE_Failure {
            let reason = lastGDALErrorMessage() ?? "closing the file failed"
            removeDatasetFiles(at: path)
            throw RasterError.writeFailed(path: path, reason: reason)
        }
        return COGResult(path: path, overviewLevels: levels, cappedFrom: requested > possible ? requested : nil,
                         resampling: resampling, compression: options.compression)
    }

    /// Paletted or classified rasters, whose values are categories that must not be averaged.
    var isCategorical: Bool {
        bands.contains { band in band.hasColorTable || GDALGetDefaultRAT(band.handle) != nil }
    }
}

/// Removes a raster and any sidecars that belong to it.
public func removeDatasetFiles(at path: String) {
    let manager = FileManager.default
    let base = (path as NSString).deletingPathExtension
    let candidates = [path, path + ".msk", path + ".aux.xml", path + ".ovr", base + ".tfw", base + ".tifw", base + ".wld"]
    for candidate in candidates where manager.fileExists(atPath: candidate) {
        try? manager.removeItem(atPath: candidate)
    }
}

/// Copies a raster as it is, with its sidecars (`.msk`, `.aux.xml`, world files), to `path`.
public func copyDatasetFiles(from source: String, to path: String) throws {
    GDALRuntime.ensureInitialized()
    CPLErrorReset()
    guard GDALCopyDatasetFiles(nil, path, source) == CE_None else {
        removeDatasetFiles(at: path)
        throw RasterError.writeFailed(path: path, reason: lastGDALErrorMessage() ?? "copy failed")
    }
}

/// Renames a raster and its sidecars.
public func renameDatasetFiles(from source: String, to path: String) throws {
    GDALRuntime.ensureInitialized()
    CPLErrorReset()
    guard GDALRenameDataset(nil, path, source) == CE_None else {
        throw RasterError.writeFailed(path: path, reason: lastGDALErrorMessage() ?? "rename failed")
    }
}
