import Foundation
import Raster
import TestSupport
import Testing

/// `GeoTIFFFile`: which paths and sidecars a user's raster may bring to GDAL.
@Suite("user files: paths and sidecars")
struct GeoTIFFFileTests {
    static func check(_ path: String) throws -> GeoTIFFFile {
        try GeoTIFFFile.check(path, name: (path as NSString).lastPathComponent, policy: OpenPolicy(), confined: true)
    }

    /// The reason `check` refuses `path` with, or nil when it accepts it.
    static func refusal(_ path: String) -> String? {
        do {
            _ = try check(path)
            return nil
        } catch {
            return String(describing: error)
        }
    }

    @Test("GDAL virtual file system paths are refused before GDAL sees them",
          arguments: ["/vsicurl/http://127.0.0.1:9/x.tif", "/vsimem/x.tif", "/vsizip//tmp/a.zip/x.tif", "/VSIS3/bucket/x.tif"])
    func virtualPaths(path: String) {
        #expect(Self.refusal(path)?.contains("/vsi...) are not accepted") == true)
    }

    @Test("PAM files GDAL writes pass the whitelist and are used")
    func gdalWrittenPAM() throws {
        let folder = TemporaryDirectory("pam")
        defer { folder.remove() }
        // A PNG's .aux.xml carries the SRS and geotransform: beside an ungeoreferenced GeoTIFF it places it.
        try GDALTools.translate(["-of", "PNG", TestRasters.real("byte.tif"), folder.file("x.png")])
        try FileManager.default.copyItem(atPath: TestRasters.sample("no_georef.tif"), toPath: folder.file("a.tif"))
        try FileManager.default.moveItem(atPath: folder.file("x.png.aux.xml"), toPath: folder.file("a.tif.aux.xml"))
        let placed = try Self.check(folder.file("a.tif"))
        #expect(placed.sidecars == ["a.tif.aux.xml"])
        let dataset = try placed.open()
        #expect(dataset.geoTransform != nil && dataset.spatialReference?.identifier == "EPSG:26711")
        // Statistics and histograms.
        try FileManager.default.copyItem(atPath: TestRasters.real("RGB.byte.tif"), toPath: folder.file("b.tif"))
        try GDALTools.run("gdalinfo", ["-stats", "-hist", folder.file("b.tif")])
        #expect(try Self.check(folder.file("b.tif")).sidecars == ["b.tif.aux.xml"])
    }

    @Test("a CRS in a PAM file must be a definition, never a file or a URL", arguments: [
        ("EPSG:4326", true), ("urn:ogc:def:crs:EPSG::32633", true), ("GEOGCS[\"WGS 84\",DATUM[\"WGS_1984\"]]", true),
        ("{\"type\": \"GeographicCRS\"}", true), ("+proj=longlat +datum=WGS84", true),
        ("http://127.0.0.1:9/crs.prj", false), ("/etc/hostname", false), ("file:///etc/hostname", false),
        ("crs.prj", false), ("+init=/tmp/epsg:4326", false), ("/vsicurl/http://127.0.0.1:9/a", false),
        ("+proj=longlat +ellps=WGS84 +nadgrids=@none,/tmp/x.gsb +wktext", false),
        ("+proj=longlat +ellps=WGS84 +geoidgrids=x.gtx", false), ("+proj=longlat +ellps=WGS84 +nadgrids=ntv1_can.dat", false),
        ("GEOGCS[\"x\",DATUM[\"x\",SPHEROID[\"x\",6378137,298.25]],EXTENSION[\"PROJ4\",\"+proj=longlat +nadgrids=@a,/tmp/b\"]]", false),
    ])
    func pamSRS(srs: String, accepted: Bool) throws {
        let folder = TemporaryDirectory("pam-srs")
        defer { folder.remove() }
        try FileManager.default.copyItem(atPath: TestRasters.real("byte.tif"), toPath: folder.file("a.tif"))
        let escaped = srs.replacingOccurrences(of: "&", with: "&amp;").replacingOccurrences(of: "\"", with: "&quot;")
        try "<PAMDataset><SRS>\(escaped)</SRS></PAMDataset>".write(toFile: folder.file("a.tif.aux.xml"), atomically: true,
                                                                  encoding: .utf8)
        let reason = Self.refusal(folder.file("a.tif"))
        #expect((reason == nil) == accepted, "\(srs): \(reason ?? "accepted")")
        if !accepted { #expect(reason?.contains("a.tif.aux.xml") == true) }
    }

    @Test("a world file is six numbers", arguments: [
        ("30\n0\n0\n-30\n600015\n5100015\n", true), ("30\r\n0\r\n0\r\n-30\r\n600015.5\r\n5100015\r\n", true),
        (" 3.0e1 \n0\n0\n-30\n600015\n5100015", true), ("30 0 0 -30 600015 5100015\n", false), ("30\n0\n0\n-30\n600015\n", false),
        ("30\n0\n0\n-30\n600015\n5100015\n1\n", false), ("30\n0\n0\n-30\nnan\n5100015\n", false),
        ("<VRTDataset/>", false), ("", false),
    ])
    func worldFile(text: String, accepted: Bool) throws {
        let folder = TemporaryDirectory("world")
        defer { folder.remove() }
        try FileManager.default.copyItem(atPath: TestRasters.sample("no_georef.tif"), toPath: folder.file("a.tif"))
        try text.write(toFile: folder.file("a.tfw"), atomically: true, encoding: .utf8)
        let reason = Self.refusal(folder.file("a.tif"))
        #expect((reason == nil) == accepted, "\(text.debugDescription): \(reason ?? "accepted")")
        if accepted { #expect(try Self.check(folder.file("a.tif")).open().geoTransform != nil) }
    }

    @Test("sidecars are found among thousands of files, and one added or removed later is seen at the next check")
    func sidecarsInABigFolder() throws {
        let folder = TemporaryDirectory("big-folder")
        defer { folder.remove() }
        for index in 0..<3000 { _ = FileManager.default.createFile(atPath: folder.file("other\(index).tif"), contents: Data()) }
        try FileManager.default.copyItem(atPath: TestRasters.sample("no_georef.tif"), toPath: folder.file("Scene_2.tif"))
        #expect(try Self.check(folder.file("Scene_2.tif")).sidecars.isEmpty)

        try "30\n0\n0\n-30\n600015\n5100015\n".write(toFile: folder.file("SCENE_2.TFW"), atomically: true, encoding: .utf8)
        try "x".write(toFile: folder.file("scene_2_rpc.txt"), atomically: true, encoding: .utf8)
        let found = try Self.check(folder.file("Scene_2.tif"))
        #expect(found.sidecars == ["SCENE_2.TFW"])
        #expect(found.ignored.keys.sorted() == ["scene_2_rpc.txt"])
        #expect(try found.open().geoTransform != nil)

        try FileManager.default.removeItem(atPath: folder.file("SCENE_2.TFW"))
        #expect(try Self.check(folder.file("Scene_2.tif")).sidecars.isEmpty)
    }

    @Test("a mask or overview must be a plain GeoTIFF without sidecars of its own")
    func rasterSidecars() throws {
        let folder = TemporaryDirectory("masks")
        defer { folder.remove() }
        for name in ["sidecar_mask.tif", "sidecar_mask.tif.msk"] {
            try FileManager.default.copyItem(atPath: TestRasters.sample(name), toPath: folder.file(name))
        }
        let file = try Self.check(folder.file("sidecar_mask.tif"))
        #expect(file.sidecars == ["sidecar_mask.tif.msk"])
        #expect(try file.open().band(1).maskFlags.contains(.perDataset))
        try "<PAMDataset/>".write(toFile: folder.file("sidecar_mask.tif.msk.aux.xml"), atomically: true, encoding: .utf8)
        #expect(Self.refusal(folder.file("sidecar_mask.tif"))?.contains("has a sidecar of its own") == true)
        try FileManager.default.removeItem(atPath: folder.file("sidecar_mask.tif.msk.aux.xml"))
        // An overview that is not a GeoTIFF is left out, and the raster still opens.
        try GDALTools.translate(["-of", "PNG", TestRasters.sample("sidecar_mask.tif"), folder.file("sidecar_mask.tif.ovr")])
        for extra in ["sidecar_mask.tif.ovr.aux.xml", "sidecar_mask.tif.ovr.msk"] {
            try? FileManager.default.removeItem(atPath: folder.file(extra))
        }
        let withOverview = try Self.check(folder.file("sidecar_mask.tif"))
        #expect(withOverview.sidecars == ["sidecar_mask.tif.msk"])
        #expect(withOverview.ignored["sidecar_mask.tif.ovr"]?.contains("GDAL reads it as PNG") == true,
                "\(withOverview.ignored)")
    }

    @Test("an upload replaced after its check is not what GDAL reads; the frozen copy goes away after use")
    func replacedAfterCheck() throws {
        let folder = TemporaryDirectory("replaced"), outside = TemporaryDirectory("replaced-outside")
        defer { folder.remove(); outside.remove() }
        for name in ["sidecar_mask.tif", "sidecar_mask.tif.msk"] {
            try FileManager.default.copyItem(atPath: TestRasters.sample(name), toPath: folder.file(name))
        }
        try FileManager.default.copyItem(atPath: TestRasters.sample("sidecar_mask.tif.msk"), toPath: outside.file("mask.tif"))
        let watch = try FolderAccessWatch(outside.path)
        do {
            let file = try Self.check(folder.file("sidecar_mask.tif"))
            // As a new upload would: a VRT renamed over the checked mask.
            let vrt = "<VRTDataset rasterXSize=\"1\" rasterYSize=\"1\"><VRTRasterBand dataType=\"Byte\" band=\"1\">"
                + "<SimpleSource><SourceFilename>\(outside.file("mask.tif"))</SourceFilename></SimpleSource>"
                + "</VRTRasterBand></VRTDataset>"
            try vrt.write(toFile: folder.file("new.msk"), atomically: false, encoding: .utf8)
            #expect(rename(folder.file("new.msk"), folder.file("sidecar_mask.tif.msk")) == 0)
            let dataset = try file.open()
            #expect(dataset.band(1).maskFlags.contains(.perDataset))
            #expect(try dataset.band(1).maskBand.checksum() != 0)
        }
        #expect(watch.drain() == [])
        let left = try FileManager.default.contentsOfDirectory(atPath: folder.path)
        #expect(left.sorted() == ["sidecar_mask.tif", "sidecar_mask.tif.msk"])
    }
}
