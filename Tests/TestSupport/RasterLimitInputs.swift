import Foundation

/// GeoTIFFs whose headers describe more than the default limits allow. All sparse: small on disk,
/// made in a moment, and refused before a pixel is read.
public enum RasterLimitInputs {
    /// File, and a fragment of the reason it must be refused for.
    public static let expected: [(String, String)] = [
        ("bands.tif", "10000 bands is more than the limit of 1024 (max-bands)"),
        ("huge.tif", "1000000 x 1000000 pixels per band is more than the limit of 4294967296 (max-pixels)"),
        ("samples.tif", "(max-samples)"),
        ("row.tif", "one row of all 300 bands holds 614400 bytes, more than the limit of 524288 (max-row-kb)"),
        ("tile.tif", "one block (tile or strip) holds 536870912 bytes, more than the limit of 268435456 (max-block-mb)"),
    ]

    public static func make(in folder: String) throws {
        let path = { (name: String) in (folder as NSString).appendingPathComponent(name) }
        try GDALTools.emptyGeoTIFF(path("bands.tif"), width: 10, height: 10, bands: 10000)
        try GDALTools.emptyGeoTIFF(path("huge.tif"), width: 1_000_000, height: 1_000_000,
                                   options: ["TILED=YES", "BLOCKXSIZE=4096", "BLOCKYSIZE=4096", "BIGTIFF=YES"])
        // 40000 x 40000 x 16 bands: each per-band number is fine, the product is not.
        try GDALTools.emptyGeoTIFF(path("samples.tif"), width: 40000, height: 40000, bands: 16,
                                   options: ["TILED=YES", "BLOCKXSIZE=4096", "BLOCKYSIZE=4096", "BIGTIFF=YES",
                                             "INTERLEAVE=BAND"])
        // 2048 x 2048 x 300 bands: small, but its overviews would be built 300 bands at a time.
        try GDALTools.emptyGeoTIFF(path("row.tif"), width: 2048, height: 2048, bands: 300,
                                   options: ["TILED=YES", "BLOCKXSIZE=256", "BLOCKYSIZE=256", "INTERLEAVE=BAND"])
        // 8192 x 8192 Float64 tiles: a single tile read would allocate 512 MiB.
        try GDALTools.emptyGeoTIFF(path("tile.tif"), width: 16384, height: 16384, type: "Float64",
                                   options: ["TILED=YES", "BLOCKXSIZE=8192", "BLOCKYSIZE=8192"])
    }
}
