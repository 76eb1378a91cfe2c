import CGDAL
import Foundation

/// How far a raster may go before it is refused, checked right after opening and before any pixel
/// or byte of pixel data is read. The defaults admit any raster a GIS user keeps as one GeoTIFF
/// (a 65536 x 65536 RGBA scene, a hyperspectral cube of hundreds of bands) and refuse what only a hostile or
/// broken header describes.
public struct RasterLimits: Sendable, Equatable, Codable {
    /// Width x height of one band.
    public var maxPixels: Int64
    public var maxBands: Int
    /// Width x height x bands.
    public var maxSamples: Int64
    /// Bytes of the largest block GDAL reads at once (a tile, a strip, or all bands of a pixel-interleaved
    /// block). A single-strip compressed image is one block, so this bounds one read's allocation.
    public var maxBlockBytes: Int64
    /// Bytes of one row across all bands (width x bands x bytes per sample). GDAL's COG writer builds
    /// overviews from chunks of about a thousand such rows at once, so this is what bounds a worker's
    /// memory on wide, many-band rasters.
    public var maxRowBytes: Int64

    public static let defaultMaxPixels: Int64 = 65536 * 65536
    public static let defaultMaxBands = 1024
    public static let defaultMaxSamples: Int64 = 4 * 65536 * 65536
    public static let defaultMaxBlockBytes: Int64 = 256 << 20
    /// A 65536-pixel-wide RGBA UInt16 row; a 10980-pixel Sentinel-2 row of 13 UInt16 bands is 279 KiB.
    public static let defaultMaxRowBytes: Int64 = 512 << 10

    public init(maxPixels: Int64 = defaultMaxPixels, maxBands: Int = defaultMaxBands,
                maxSamples: Int64 = defaultMaxSamples, maxBlockBytes: Int64 = defaultMaxBlockBytes,
                maxRowBytes: Int64 = defaultMaxRowBytes) {
        self.maxPixels = maxPixels
        self.maxBands = maxBands
        self.maxSamples = maxSamples
        self.maxBlockBytes = maxBlockBytes
        self.maxRowBytes = maxRowBytes
    }

    public func validate() throws {
        guard maxPixels > 0, maxBands > 0, maxSamples > 0, maxBlockBytes > 0, maxRowBytes > 0 else {
            throw RasterError.invalidOption("raster limits must be positive")
        }
    }

    /// Refuses `dataset` when its header describes more than these limits allow. Reads no pixels.
    func check(_ dataset: Dataset) throws {
        let width = Int64(dataset.width), height = Int64(dataset.height), bands = Int64(dataset.bandCount)
        let refuse = { (reason: String) in RasterError.limitExceeded(file: dataset.name, reason: reason) }
        let (pixels, pixelsOverflow) = width.multipliedReportingOverflow(by: height)
        if pixelsOverflow || pixels > maxPixels {
            throw refuse("\(width) x \(height) pixels per band is more than the limit of \(maxPixels) (max-pixels)")
        }
        if bands > Int64(maxBands) {
            throw refuse("\(bands) bands is more than the limit of \(maxBands) (max-bands)")
        }
        let (samples, samplesOverflow) = pixels.multipliedReportingOverflow(by: bands)
        if samplesOverflow || samples > maxSamples {
            throw refuse("\(width) x \(height) pixels x \(bands) bands = \(samples) samples is more than the limit "
                + "of \(maxSamples) (max-samples)")
        }
        let rowBytes = dataset.bands.reduce(Int64(0)) { $0 + width * Int64(GDALGetDataTypeSizeBytes($1.gdalDataType)) }
        if rowBytes > maxRowBytes {
            throw refuse("one row of all \(bands) bands holds \(rowBytes) bytes, more than the limit of \(maxRowBytes) "
                + "(max-row-kb): overviews of so wide a raster with so many bands would need too much memory")
        }
        let pixelInterleaved = dataset.metadataItem("INTERLEAVE", domain: "IMAGE_STRUCTURE") == "PIXEL"
        var largest: Int64 = 0
        var pixelBlock: Int64 = 0
        for band in dataset.bands {
            let block = band.blockSize
            let bytes = Int64(block.width) * Int64(block.height) * Int64(GDALGetDataTypeSizeBytes(band.gdalDataType))
            largest = max(largest, bytes)
            pixelBlock += bytes
        }
        if pixelInterleaved { largest = max(largest, pixelBlock) }
        if largest > maxBlockBytes {
            throw refuse("one block (tile or strip) holds \(largest) bytes, more than the limit of \(maxBlockBytes) "
                + "(max-block-mb); rewrite it with small tiles, e.g. gdal_translate -co TILED=YES")
        }
    }
}

/// What a user's file may be: the GDAL drivers allowed to open it and the limits it must stay within.
/// The server always uses GTiff alone; a local `tile import` may widen the driver list.
public struct OpenPolicy: Sendable, Equatable {
    public var allowedDrivers: [String]
    public var limits: RasterLimits

    public static let geoTIFFOnly = ["GTiff"]

    public init(allowedDrivers: [String] = geoTIFFOnly, limits: RasterLimits = RasterLimits()) {
        self.allowedDrivers = allowedDrivers
        self.limits = limits
    }

    /// Whether a file GDAL reads with `driver` is accepted.
    func allows(_ driver: String) -> Bool {
        allowedDrivers.contains { $0.caseInsensitiveCompare(driver) == .orderedSame }
    }

    /// Refuses driver names this GDAL build does not have, so a typo is not silently ignored.
    public func validate() throws {
        GDALRuntime.ensureInitialized()
        for name in allowedDrivers where GDALGetDriverByName(name) == nil {
            throw RasterError.invalidOption("GDAL has no driver named \(name)")
        }
        try limits.validate()
    }
}
