import Foundation
import TestSupport
import Testing

/// `tile import --compression` is checked against each raster: a compression that cannot encode a
/// file fails that file, blaming the option; nothing half-written is stored.
@Suite("tile import --compression against the raster", .serialized)
struct CompressionCLITests {
    static func items(_ data: String, _ catalog: String) throws -> Int {
        let result = try TileBinary.run(["catalog", "items", "--data-dir", data, catalog])
        let collection = try result.json() as? [String: Any]
        return (collection?["features"] as? [Any])?.count ?? -1
    }

    @Test("WEBP on 1-band Float32 and JPEG on Int16 fail with the option to blame; nothing is stored")
    func refused() throws {
        let root = TemporaryDirectory("compression-cli")
        defer { root.remove() }
        let data = root.file("data")
        for (compression, source, described) in [("WEBP", TestRasters.sample("nan_nodata.tif"), "1 Float32 band"),
                                                 ("JPEG", TestRasters.real("cog_int16.tif"), "1 Int16 band")] {
            let result = try TileBinary.run(["import", "--data-dir", data, "--catalog", "alice.\(compression.lowercased())",
                                             "--create", "--json", "--compression", compression, source])
            #expect(result.status == 1, "\(result.stderr)")
            let report = try result.json() as? [String: Any] ?? [:]
            let failures = report["failed"] as? [[String: Any]] ?? []
            let message = failures.first?["error"] as? String ?? ""
            let file = (source as NSString).lastPathComponent
            #expect(message == "--compression \(compression) needs Byte data with "
                + (compression == "WEBP" ? "3 or 4 bands" : "1 to 4 bands")
                + "; \(file) has \(described); choose another --compression for it", "\(message)")
            #expect(!message.contains("damaged"))
            #expect((report["imported"] as? [Any])?.count == 0)
            #expect(try Self.items(data, "alice.\(compression.lowercased())") == 0)
            let folder = data + "/rasters/alice.\(compression.lowercased())"
            #expect(((try? FileManager.default.contentsOfDirectory(atPath: folder)) ?? []).isEmpty)
        }
    }

    @Test("WEBP on an RGB Byte raster imports a valid COG; a refused file beside it does not stop it")
    func mixedBatch() throws {
        let root = TemporaryDirectory("compression-mixed")
        defer { root.remove() }
        let data = root.file("data")
        let result = try TileBinary.run(["import", "--data-dir", data, "--catalog", "alice.rgb", "--create", "--json",
                                         "--jobs", "2", "--compression", "webp",
                                         TestRasters.real("RGB.byte.tif"), TestRasters.sample("rotated.tif")])
        #expect(result.status == 1, "\(result.stderr)")
        let report = try result.json() as? [String: Any] ?? [:]
        let imported = report["imported"] as? [[String: Any]] ?? []
        #expect(imported.map { $0["file"] as? String } == ["RGB.byte.tif"])
        let failed = report["failed"] as? [[String: Any]] ?? []
        #expect(failed.map { $0["file"] as? String } == ["rotated.tif"])
        #expect((failed.first?["error"] as? String)?.hasPrefix("--compression WEBP needs Byte data with 3 or 4 bands; rotated.tif has 1 Byte band") == true)
        let stored = data + "/" + (imported.first?["path"] as? String ?? "")
        let (valid, output) = GDALValidator.validate(stored)
        #expect(valid, "\(output)")
        #expect(try Self.items(data, "alice.rgb") == 1)
    }
}
