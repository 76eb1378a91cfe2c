import Foundation
import TestSupport
import Testing

@Suite("tile command line")
struct TileCLITests {
    @Test("import a folder: good files imported, bad ones reported on stderr, exit 1, JSON report")
    func importFolder() throws {
        let data = TemporaryDirectory("cli")
        defer { data.remove() }
        let result = try TileBinary.run(["import", "--data-dir", data.path, "--catalog", "alice.samples", "--create",
                                         "--attr", "name=demo", "--polygonize", "--json", "--jobs", "2",
                                         TestRasters.sample("")])
        #expect(result.status == 1)
        let report = try #require(try result.json() as? [String: Any])
        let imported = try #require(report["imported"] as? [[String: Any]])
        let failed = try #require(report["failed"] as? [[String: Any]])
        #expect(imported.count == TestRasters.placeableSamples.count)
        #expect(Set(failed.compactMap { $0["file"] as? String })
            == ["all_nodata.tif", "damaged.tif", "no_georef.tif", "not_a_raster.tif"])
        #expect(imported.allSatisfy { ($0["id"] as? String)?.isEmpty == false && ($0["path"] as? String)?.hasSuffix(".tif") == true })
        for file in ["all_nodata.tif", "damaged.tif", "no_georef.tif", "not_a_raster.tif"] {
            #expect(result.stderr.contains("failed \(file): "), "no reason for \(file) on stderr")
        }
        #expect(result.stderr.contains("no valid data"))

        // Importing again skips everything already there and succeeds.
        let again = try TileBinary.run(["import", "--data-dir", data.path, "--catalog", "alice.samples", "--json",
                                        TestRasters.sample("rotated.tif")])
        #expect(again.status == 0)
        let skipped = try #require((try again.json() as? [String: Any])?["skipped"] as? [[String: Any]])
        #expect(skipped.count == 1)
    }

    @Test("usage errors exit 2 with a message")
    func usageErrors() throws {
        let data = TemporaryDirectory("cli")
        defer { data.remove() }
        let sample = TestRasters.sample("rotated.tif")
        let cases: [[String]] = [
            ["import", "--data-dir", data.path, sample],
            ["import", "--data-dir", data.path, "--catalog", "nodot", sample],
            ["import", "--data-dir", data.path, "--catalog", "alice.x", sample],
            ["import", "--data-dir", data.path, "--catalog", "alice.x", "--create", "--attr", "novalue", sample],
            ["import", "--data-dir", data.path, "--catalog", "alice.x", "--create", "--max-zoom", "-1", sample],
            ["import", "--data-dir", data.path, "--catalog", "alice.x", "--create", "--compression", "GIF", sample],
            ["import", "--data-dir", data.path, "--catalog", "alice.x", "--create", "/no/such/file.tif"],
            ["catalog", "items", "--data-dir", data.path, "alice.none"],
            ["frobnicate"],
        ]
        for arguments in cases {
            let result = try TileBinary.run(arguments)
            #expect(result.status == 2, "\(arguments) exited \(result.status)")
            #expect(!result.stderr.isEmpty)
        }
        #expect(!FileManager.default.fileExists(atPath: data.file("rasters/alice.x")))
    }

    @Test("catalog list, show, items with --bbox and --where, delete")
    func catalogCommands() throws {
        let data = TemporaryDirectory("cli")
        defer { data.remove() }
        let config = data.file("config.json")
        try #"{"attributes": [{"attributeName": "name", "type": "String"}, {"attributeName": "cloud", "type": "Double"}]}"#
            .write(toFile: config, atomically: true, encoding: .utf8)
        var log = ""
        for (file, cloud) in [("nan_nodata.tif", "5"), ("nodata_collar.tif", "50")] {
            let result = try TileBinary.run(["import", "--data-dir", data.path, "--catalog", "alice.c", "--create",
                                             "--config", config, "--attr", "name=\(file)", "--attr", "cloud=\(cloud)",
                                             TestRasters.sample(file)])
            #expect(result.status == 0, "\(result.stderr)")
            log += result.stderr
        }
        let list = try TileBinary.run(["catalog", "list", "--data-dir", data.path])
        #expect(list.stdout.contains("alice.c\t2 items"), "\(log)")
        let show = try #require(try TileBinary.run(["catalog", "show", "--data-dir", data.path, "alice.c"]).json() as? [String: Any])
        #expect(show["itemCount"] as? Int == 2 && (show["extent"] as? [Double])?.count == 4)

        // nan_nodata.tif lies around 10E 45N, nodata_collar.tif around 15E 45N.
        let inBox = try TileBinary.run(["catalog", "items", "--data-dir", data.path, "alice.c", "--bbox", "9,44,11,46"])
        let features = try #require((try inBox.json() as? [String: Any])?["features"] as? [[String: Any]])
        #expect(features.count == 1)
        let properties = try #require(features.first?["properties"] as? [String: Any])
        #expect(properties["sourceFile"] as? String == "nan_nodata.tif")
        let storedPath = try #require(properties["path"] as? String)
        #expect(storedPath.hasPrefix("rasters/alice.c/") && FileManager.default.fileExists(atPath: data.file(storedPath)))
        #expect(properties["cloud"] as? Double == 5)

        let filtered = try TileBinary.run(["catalog", "items", "--data-dir", data.path, "alice.c", "--where", "cloud > 10"])
        let names = ((try filtered.json() as? [String: Any])?["features"] as? [[String: Any]])?
            .compactMap { ($0["properties"] as? [String: Any])?["name"] as? String }
        #expect(names == ["nodata_collar.tif"])
        #expect(try TileBinary.run(["catalog", "items", "--data-dir", data.path, "alice.c", "--where", "1=1; DROP"]).status == 2)

        let id = try #require(features.first?["id"] as? String)
        #expect(try TileBinary.run(["catalog", "delete", "--data-dir", data.path, "alice.c", "--item", id]).status == 0)
        #expect(try TileBinary.run(["catalog", "list", "--data-dir", data.path]).stdout.contains("alice.c\t1 items"))
        #expect(try TileBinary.run(["catalog", "delete", "--data-dir", data.path, "alice.c"]).status == 0)
        #expect(try TileBinary.run(["catalog", "list", "--data-dir", data.path]).stdout.isEmpty)
        #expect(try FileManager.default.contentsOfDirectory(atPath: data.file("rasters")).isEmpty)
    }

    @Test("info describes a raster; validate passes COGs and explains the rest")
    func infoAndValidate() throws {
        let info = try TileBinary.run(["info", "--json", TestRasters.sample("alpha.tif")])
        #expect(info.status == 0)
        let report = try #require(try info.json() as? [String: Any])
        #expect((report["raster"] as? [String: Any])?["validity"] as? String == "alpha band")
        #expect(report["footprintTraced"] as? Bool == true)
        #expect((report["footprint"] as? [String: Any])?["type"] as? String == "Polygon")

        let text = try TileBinary.run(["info", TestRasters.sample("no_georef.tif")])
        #expect(text.status == 0 && text.stdout.contains("no georeferencing"))
        #expect(try TileBinary.run(["info", TestRasters.sample("not_a_raster.tif")]).status == 1)

        let valid = try TileBinary.run(["validate", TestRasters.real("cog_int16.tif"), TestRasters.real("rgb.tif")])
        #expect(valid.status == 0 && valid.stdout.contains("valid COG, 3 overview level(s)"))
        let invalid = try TileBinary.run(["validate", TestRasters.real("cog_int16.tif"), TestRasters.real("RGB.byte.tif")])
        #expect(invalid.status == 1 && invalid.stdout.contains("RGB.byte.tif: not a valid COG") && invalid.stdout.contains("not tiled"))
    }

    @Test("run-task runs the API's tiling body and prints the final progress with Tiles created")
    func runTask() throws {
        let data = TemporaryDirectory("cli")
        defer { data.remove() }
        let uploads = data.file("uploads/alice")
        try FileManager.default.createDirectory(atPath: uploads, withIntermediateDirectories: true)
        try FileManager.default.copyItem(atPath: TestRasters.real("RGB.byte.tif"), toPath: uploads + "/landsat_test_image.tif")
        let task = """
        {"target": {"type": "tileFeatureLayerTaskDataStorage", "serviceName": "alice.landsat_images",
                    "createNewService": true,
                    "attributesConfiguration": {"attributes": [{"attributeName": "name", "type": "String"},
                                                               {"attributeName": "dateofimage", "type": "DateTime"}]}},
         "files": ["landsat_test_image.tif"],
         "attributes": {"name": "Landsat-8 scene", "dateofimage": "2023-12-08T12:00:00+00:00"},
         "maxZoomLevel": 0, "polygonize": true, "useCog": true}
        """
        try task.write(toFile: data.file("task.json"), atomically: true, encoding: .utf8)
        let result = try TileBinary.run(["run-task", data.file("task.json"), "--data-dir", data.path, "--user", "alice"])
        #expect(result.status == 0, "\(result.stderr)")
        let progress = try #require(try result.json() as? [String: Any])
        #expect(progress["status"] as? String == "Completed")
        let taskResult = try #require(progress["taskResult"] as? [String: Any])
        let step = try #require((taskResult["stepResults"] as? [[String: Any]])?.first)
        #expect(step["outSource"] as? String == "alice.landsat_images" && step["outputObjectCount"] as? Int == 1)
        let tiles = try #require((step["resultDetails"] as? [String: Any])?["Tiles created"] as? Int)
        #expect(tiles == 4 + 1)
        #expect(taskResult.keys.contains("message") && step.keys.contains("batchErrors"))

        let forbidden = task.replacingOccurrences(of: "alice.landsat_images", with: "bob.landsat_images")
        try forbidden.write(toFile: data.file("bad.json"), atomically: true, encoding: .utf8)
        let refused = try TileBinary.run(["run-task", data.file("bad.json"), "--data-dir", data.path, "--user", "alice"])
        #expect(refused.status == 2 && refused.stderr.contains("may not use catalog bob.landsat_images"))
    }
}
