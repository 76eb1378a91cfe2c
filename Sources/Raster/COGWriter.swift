import CGDAL
import CTIFF
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
    /// The options are checked first, and the compression against this raster's bands and types.
    /// Any error GDAL reports while writing fails the call. On failure or cancellation nothing is
    /// left at `path`.
    public func writeCOG(to path: String, options: COGOptions,
                         progress: ProgressSink = ProgressSink()) throws -> COGResult {
        try options.validate()
        try checkCompression(options)
        return try createCOG(at: path, options: options, progress: progress)
    }

    /// Refuses a compression that cannot encode this raster (see `COGOptions.validate(for:file:)`).
    public func checkCompression(_ options: COGOptions) throws {
        try options.validate(for: compressionShape, file: name)
    }

    var compressionShape: COGOptions.RasterShape {
        COGOptions.RasterShape(bandTypes: bands.map(\.dataType), isPaletted: bands.contains { $0.hasColorTable })
    }

    /// GDAL's part of `writeCOG`, with no check of the options against the raster.
    func createCOG(at path: String, options: COGOptions, progress: ProgressSink) throws -> COGResult {
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

        // GDAL's COG driver reports some failures (a tile it cannot encode) and still returns a
        // dataset, and later steps reset the last error: every error it reports is collected instead.
        let errors = GDALErrorLog()
        let output = errors.collect {
            ProgressBox(progress).withCallback { callback, argument in
                GDALCreateCopy(driver, path, handle, 0, creation.pointer, callback, argument)
            }
        }
        let written = output != nil && errors.failures.isEmpty
        let closed = errors.collect { () -> Bool in
            guard let output else { return true }
            GDALClose(output)
            return errors.failures.isEmpty
        }
        // With NUM_THREADS, tiles are encoded on GDAL's worker threads, whose errors reach neither this
        // thread nor the dataset: a tile that failed there is simply never written. Nothing here asks
        // for sparse files, so every tile of every image must have bytes.
        let unwritten = written && closed ? Self.unwrittenTiles(path) : nil
        guard written, closed, unwritten == nil else {
            removeDatasetFiles(at: path)
            if progress.cancellation.isCancelled { throw RasterError.cancelled }
            var reason = errors.summary ?? "GDAL's COG driver failed"
            if let unwritten {
                reason = "GDAL's COG driver could not encode \(unwritten.missing) of \(unwritten.total) tiles"
            } else if !written, !errors.isEncodingFailure {
                throw RasterError.unreadablePixels(path: name, reason: reason)
            }
            throw RasterError.writeFailed(path: "the COG of \(name) (COMPRESS=\(options.compression))", reason: reason)
        }
        return COGResult(path: path, overviewLevels: levels, cappedFrom: requested > possible ? requested : nil,
                         resampling: resampling, compression: options.compression)
    }

    /// Tiles of a TIFF that were never written (no bytes), over all its images and masks; nil when
    /// every tile was written. An unreadable file counts as one missing tile of one.
    static func unwrittenTiles(_ path: String) -> (missing: Int, total: Int)? {
        guard let tiff = tile_tiff_open_quietly(path) else { return (1, 1) }
        defer { TIFFClose(tiff) }
        var missing = 0, total = 0
        repeat {
            let chunks = TIFFIsTiled(tiff) != 0 ? TIFFNumberOfTiles(tiff) : TIFFNumberOfStrips(tiff)
            total += Int(chunks)
            for chunk in 0..<chunks where TIFFGetStrileByteCount(tiff, chunk) == 0 { missing += 1 }
        } while TIFFReadDirectory(tiff) != 0
        return missing == 0 ? nil : (missing, total)
    }

    /// Paletted or classified rasters, whose values are categories that must not be averaged.
    var isCategorical: Bool {
        bands.contains { band in band.hasColorTable || GDALGetDefaultRAT(band.handle) != nil }
    }
}

/// A raster's file and the names its sidecars would have (`.msk`, `.aux.xml`, `.ovr`, world files),
/// whether or not they exist: named outright rather than found by GDAL, which lists the folder.
public func datasetFileNames(of path: String) -> [String] {
    let base = (path as NSString).deletingPathExtension
    return [path, path + ".msk", path + ".aux.xml", path + ".ovr", base + ".tfw", base + ".tifw", base + ".wld"]
}

/// Removes a raster and any sidecars that belong to it.
public func removeDatasetFiles(at path: String) {
    for file in datasetFileNames(of: path) { try? FileManager.default.removeItem(atPath: file) }
}

/// Every error GDAL reports on this thread while `collect` runs (GDAL keeps its handler stack per
/// thread). The C handler captures nothing: the log arrives through the handler's user data.
final class GDALErrorLog {
    private(set) var failures: [String] = []

    func collect<T>(_ body: () throws -> T) rethrows -> T {
        try withExtendedLifetime(self) {
            CPLPushErrorHandlerEx(gdalErrorCollector, Unmanaged.passUnretained(self).toOpaque())
            defer { CPLPopErrorHandler() }
            return try body()
        }
    }

    func record(_ message: String) { failures.append(message) }

    /// The distinct messages, first three, in order.
    var summary: String? {
        var seen: [String] = []
        for message in failures where !seen.contains(message) { seen.append(message) }
        return seen.isEmpty ? nil : seen.prefix(3).joined(separator: "; ")
    }

    /// Whether GDAL failed to encode (compress) a tile, rather than to read the source.
    var isEncodingFailure: Bool {
        // libtiff's and GDAL's encoders' words ("WebPSetupEncode:", "Error when compressing strip/tile",
        // "BitsPerSample 16 not allowed for JPEG"); a read error says "ReadEncodedTile" or "Decode".
        let markers = ["setupencode", "encode:", "compressing", "not allowed for jpeg", "color components",
                       "unsupported combination"]
        return failures.contains { message in
            let lower = message.lowercased()
            return markers.contains { lower.contains($0) }
        }
    }
}

let gdalErrorCollector: CPLErrorHandler = { errorClass, _, message in
    guard errorClass == CE_Failure || errorClass == CE_Fatal, let data = CPLGetErrorHandlerUserData() else { return }
    let log = Unmanaged<GDALErrorLog>.fromOpaque(data).takeUnretainedValue()
    log.record(message.map { String(cString: $0) } ?? "unknown GDAL error")
}
