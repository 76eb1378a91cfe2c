import Foundation

/// GeoTIFFs whose headers describe more than the default limits allow. All sparse: small on disk,
/// made in a moment, and refused before a pixel is read.
public enum RasterLimitInputs {
    /// File, and a fragment of the reason it must be refused for.
    public static let expected: [(String, String)] = [
        ("bands.tif", "10000 bands is more than the limit of 1024 (max-bands)"),
        ("huge.tif", "1000000 x 1000000 pixels per band is more than the limit of 4294967296 (max-pixels)"),
        ("samples.tif", "(max-samples)"),
        ("strip.tif", "(max-block-bytes)"),
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
        // One compressed strip of 20000 x 20000: a single read would allocate 400 MB.
        try GDALTools.emptyGeoTIFF(path("strip.tif"), width: 20000, height: 20000,
                                   options: ["COMPRESS=DEFLATE", "BLOCKYSIZE=20000"])
    }
}
