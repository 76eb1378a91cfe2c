import CGDAL
import CTIFF
import Foundation

/// Coordinate reference systems can name files: a datum shift grid (`PARAMETERFILE[...]` in WKT2,
/// `+nadgrids=`, `+geoidgrids=`, `+grids=` in PROJ strings), an init file (`+init=`), a pipeline step's
/// `+file=`. PROJ opens such a file, with any path, as soon as coordinates are transformed, so a user's
/// file could make it read another file on the server and leak it through the footprint. A user's CRS
/// may name none; the grids PROJ finds on its own for EPSG transformations are unaffected.
enum CRSFileReferences {
    /// What `text` (WKT, PROJJSON or a PROJ string) names a file with, or nil.
    static func find(in text: String) -> String? {
        let lower = text.lowercased()
        if lower.contains("parameterfile") || lower.contains("\"parameter_file\"") { return "a parameter file" }
        // ESRI's way, in a GeoTIFF's citation: EXTENSION["PROJ4_GRIDS","..."].
        if lower.contains("proj4_grids") { return "PROJ4_GRIDS" }
        for option in ["init", "file"] where lower.range(of: pattern(option), options: .regularExpression) != nil {
            return "+\(option)="
        }
        for option in ["nadgrids", "geoidgrids", "grids"] {
            guard let range = lower.range(of: pattern(option) + #"[^\s"\]]*"#, options: .regularExpression) else { continue }
            let value = lower[range].split(separator: "=", maxSplits: 1).last ?? ""
            // `@null` (no shift, as in every Web Mercator definition) names nothing.
            let grids = value.split(separator: ",").map { $0.trimmingCharacters(in: CharacterSet(charactersIn: "@ ")) }
            if grids.contains(where: { $0 != "null" }) { return "+\(option)=" }
        }
        return nil
    }

    private static func pattern(_ option: String) -> String { #"(^|[\s+"])"# + option + #"\s*="# }

    /// What the CRS named by `handle` refers to a file with, looked for in every form GDAL writes it in.
    static func find(in handle: OGRSpatialReferenceH) -> String? {
        var texts: [String] = []
        for format in ["WKT2_2019", "WKT1_GDAL"] {
            var pointer: UnsafeMutablePointer<CChar>?
            let options = StringList(["FORMAT=\(format)"])
            if OSRExportToWktEx(handle, &pointer, options.constPointer) == OGRERR_NONE, let text = takeGDALString(pointer) {
                texts.append(text)
            }
        }
        var proj: UnsafeMutablePointer<CChar>?
        if OSRExportToProj4(handle, &proj) == OGRERR_NONE, let text = takeGDALString(proj) { texts.append(text) }
        return texts.lazy.compactMap(find(in:)).first
    }
}

/// The CRS text a GeoTIFF carries in its GeoKeys (citations, ESRI PE strings), read with libtiff before
/// GDAL opens the file: GDAL hands it to PROJ while opening, and PROJ opens the grids it names then.
enum GeoKeyText {
    static let asciiParamsTag: UInt32 = 34737

    /// The file's GeoAsciiParams, nil when it has none or is not a TIFF libtiff reads.
    static func read(_ path: String) -> String? {
        guard let tiff = tile_tiff_open_quietly(path) else { return nil }
        defer { TIFFClose(tiff) }
        var value: UnsafePointer<CChar>?
        guard tile_tiff_get_ascii(tiff, asciiParamsTag, &value) != 0, let value else { return nil }
        return String(cString: value)
    }
}

extension Dataset {
    /// Refuses a dataset whose CRS (or GCP CRS), from the file or its `.aux.xml`, names a file.
    func checkCRSNamesNoFile(name: String) throws {
        for srs in [GDALGetSpatialRef(handle), GDALGetGCPSpatialRef(handle)].compactMap({ $0 }) {
            if let reference = CRSFileReferences.find(in: srs) {
                throw RasterError.unsafePath(file: name, reason: Self.crsNamesFile(reference))
            }
        }
    }

    static func crsNamesFile(_ reference: String) -> String {
        "its coordinate reference system names a file (\(reference)), such as a datum shift grid, and files "
            + "named by a user's raster are never read; assign the CRS without it, e.g. gdal_edit.py -a_srs EPSG:4326"
    }
}
