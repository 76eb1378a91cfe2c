import ArgumentParser
import Raster

/// The limits a raster must stay within, checked when it is opened (before any pixel is read).
struct RasterLimitArguments: ParsableArguments {
    @Option(help: "Largest raster, in pixels per band (width x height).")
    var maxPixels: Int64 = RasterLimits.defaultMaxPixels

    @Option(help: "Most bands a raster may have.")
    var maxBands: Int = RasterLimits.defaultMaxBands

    @Option(help: "Largest raster in samples (width x height x bands).")
    var maxSamples: Int64 = RasterLimits.defaultMaxSamples

    @Option(help: "Largest block (tile or strip) GDAL may read at once, in MiB.")
    var maxBlockMb: Int64 = RasterLimits.defaultMaxBlockBytes >> 20

    @Option(help: "Largest row of all bands (width x bands x bytes per sample), in KiB: bounds memory on wide, many-band rasters.")
    var maxRowKb: Int64 = RasterLimits.defaultMaxRowBytes >> 10

    var limits: RasterLimits {
        RasterLimits(maxPixels: maxPixels, maxBands: maxBands, maxSamples: maxSamples, maxBlockBytes: maxBlockMb << 20,
                     maxRowBytes: maxRowKb << 10)
    }

    func validate() throws {
        guard maxPixels > 0, maxBands > 0, maxSamples > 0, maxBlockMb > 0, maxRowKb > 0 else {
            throw ValidationError("--max-pixels, --max-bands, --max-samples, --max-block-mb and --max-row-kb must be positive")
        }
    }
}
