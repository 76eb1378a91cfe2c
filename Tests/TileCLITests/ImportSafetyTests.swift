import Foundation
import TestSupport
import Testing

/// `tile import` reads GeoTIFFs with GDAL's GTiff driver, uses only verified sidecars, never follows a
/// file elsewhere, and refuses rasters beyond the limits before reading them.
@Suite("tile import: GeoTIFFs and nothing else", .serialized)
struct ImportSafetyTests {
    /// `tile import --json` of `paths`: (exit status, errors by file, imported files, stderr).
    static func importJSON(_ data: String, _ arguments: [String]) throws -> (Int32, [String: String], Set<String>, String) {
        let result = try TileBinary.run(["import", "--data-dir", data, "--create", "--json", "--jobs", "2"] + arguments)
        let report = try result.json() as? [String: Any] ?? [:]
        var errors: [String: String] = [:]
        for failure in report["failed"] as? [[String: Any]] ?? [] {
            errors[failure["file"] as? String ?? ""] = failure["error"] as? String ?? ""
        }
        // A file whose content an earlier one of the batch brought in is skipped: its content is in the catalog.
        let landed = (report["imported"] as? [[String: Any]] ?? []) + (report["skipped"] as? [[String: Any]] ?? [])
        return (result.status, errors, Set(landed.compactMap { $0["file"] as? String }), result.stderr)
    }

    @Test("other formats and hostile sidecars fail with a reason; nothing outside is read, no network request")
    func hostileFiles() throws {
        let root = TemporaryDirectory("hostile-cli")
        defer { root.remove() }
        let listener = try LoopbackListener()
        defer { listener.stop() }
        let inputs = try HostileRasters(folder: root.file("in"), outside: root.file("outside"), port: listener.port)
        let watch = try FolderAccessWatch(inputs.outside)

        // Controls: GDAL left to itself follows these files, so the watchers would see it.
        try GDALTools.run("gdalinfo", ["-checksum", inputs.folder + "/vrt_outside.tif"])
        #expect(watch.drain().contains("outside.tif"))
        try? GDALTools.run("gdalinfo", ["-checksum", inputs.folder + "/vrt_curl.tif"])
        #expect(listener.connections > 0)
        let connectionsBefore = listener.connections

        let (status, errors, imported, stderr) = try Self.importJSON(root.file("data"),
                                                                     ["--catalog", "alice.hostile", inputs.folder])
        #expect(status == 1, "\(stderr)")
        for item in inputs.cases {
            switch item.expectation {
            case .imported:
                #expect(imported.contains(item.file), "\(item.file): \(errors[item.file] ?? "not reported")")
            case let .fails(fragments):
                let message = errors[item.file] ?? "imported"
                for fragment in fragments { #expect(message.contains(fragment), "\(item.file): \(message)") }
            }
        }
        #expect(errors.count + imported.count == inputs.cases.count)
        for message in errors.values { #expect(!message.contains(root.path), "\(message)") }
        #expect(watch.drain() == [])
        #expect(listener.connections == connectionsBefore)
    }

    @Test("--allow-driver widens the drivers for a local user; serve has no such option")
    func allowDriver() throws {
        let root = TemporaryDirectory("allow-driver")
        defer { root.remove() }
        let folder = root.file("in"), outside = root.file("outside")
        for path in [folder, outside] { try FileManager.default.createDirectory(atPath: path, withIntermediateDirectories: true) }
        try FileManager.default.copyItem(atPath: TestRasters.real("byte.tif"), toPath: outside + "/source.tif")
        try GDALTools.translate(["-of", "VRT", outside + "/source.tif", folder + "/virtual.tif"])
        try GDALTools.translate(["-of", "JP2OpenJPEG", TestRasters.real("byte.tif"), folder + "/jpeg2000.tif"])
        let watch = try FolderAccessWatch(outside)

        let (status, errors, imported, _) = try Self.importJSON(root.file("data"), ["--catalog", "alice.strict", folder])
        #expect(status == 1 && imported.isEmpty)
        #expect(errors["virtual.tif"]?.contains("virtual.tif is not a GeoTIFF (GDAL reads it as VRT)") == true)
        #expect(errors["jpeg2000.tif"]?.contains("jpeg2000.tif is not a GeoTIFF (GDAL reads it as JP2OpenJPEG)") == true)
        #expect(watch.drain() == [])

        let widened = try Self.importJSON(root.file("data"), ["--catalog", "alice.widened", "--allow-driver", "VRT",
                                                              "--allow-driver", "JP2OpenJPEG", folder])
        #expect(widened.0 == 0, "\(widened.1)")
        #expect(widened.2 == ["virtual.tif", "jpeg2000.tif"])
        #expect(watch.drain().contains("source.tif"))

        let unknown = try TileBinary.run(["import", "--data-dir", root.file("data"), "--catalog", "alice.x", "--create",
                                          "--allow-driver", "NoSuchDriver", folder])
        #expect(unknown.status != 0 && unknown.stderr.contains("NoSuchDriver"))
        let serve = try TileBinary.run(["serve", "--data-dir", root.file("data"), "--port", "0", "--allow-driver", "VRT"])
        #expect(serve.status != 0 && serve.stderr.contains("--allow-driver"))
    }

    @Test("limits refuse oversized rasters from their header; each limit is configurable")
    func limits() throws {
        let root = TemporaryDirectory("limits-cli")
        defer { root.remove() }
        let folder = root.file("in")
        try FileManager.default.createDirectory(atPath: folder, withIntermediateDirectories: true)
        try RasterLimitInputs.make(in: folder)
        let (status, errors, imported, _) = try Self.importJSON(root.file("data"), ["--catalog", "alice.limits", folder])
        #expect(status == 1 && imported.isEmpty)
        for (file, fragment) in RasterLimitInputs.expected {
            #expect(errors[file]?.contains(fragment) == true, "\(file): \(errors[file] ?? "imported")")
        }

        let byte = TestRasters.real("byte.tif")
        for (option, value, fragment) in [("--max-pixels", "399", "(max-pixels)"), ("--max-samples", "399", "(max-samples)"),
                                          ("--max-bands", "2", nil), ("--max-pixels", "400", nil)] {
            let result = try Self.importJSON(root.file("data"), ["--catalog", "alice.configured", "--force", option, value, byte])
            if let fragment {
                #expect(result.1["byte.tif"]?.contains(fragment) == true, "\(option) \(value): \(result.1)")
            } else {
                #expect(result.2 == ["byte.tif"], "\(option) \(value): \(result.1)")
            }
        }
        let rgb = try Self.importJSON(root.file("data"), ["--catalog", "alice.configured", "--max-bands", "2",
                                                          TestRasters.real("RGB.byte.tif")])
        #expect(rgb.1["RGB.byte.tif"]?.contains("3 bands is more than the limit of 2 (max-bands)") == true)
        let wide = try Self.importJSON(root.file("data"), ["--catalog", "alice.configured", "--max-row-kb", "2",
                                                           TestRasters.real("RGB.byte.tif")])
        #expect(wide.1["RGB.byte.tif"]?.contains("one row of all 3 bands holds 2373 bytes") == true, "\(wide.1)")
        let zero = try TileBinary.run(["import", "--data-dir", root.file("data"), "--catalog", "alice.x", "--max-pixels", "0", byte])
        #expect(zero.status != 0 && zero.stderr.contains("must be positive"))
    }

    @Test("memory stays bounded: a raster larger than the memory bound imports")
    func boundedMemory() throws {
        let root = TemporaryDirectory("memory")
        defer { root.remove() }
        // 16384 x 16384 UInt16: one band is 512 MiB. Sparse, so the input is small and reads fast.
        let big = root.file("big.tif")
        try GDALTools.emptyGeoTIFF(big, width: 16384, height: 16384, type: "UInt16",
                                   options: ["TILED=YES", "BLOCKXSIZE=512", "BLOCKYSIZE=512"])
        let process = Process()
        process.executableURL = URL(fileURLWithPath: "/usr/bin/time")
        process.arguments = ["-f", "peak-kb %M", TileBinary.path, "import", "--data-dir", root.file("data"),
                             "--catalog", "alice.big", "--create", "--jobs", "1", "--json", big]
        let errors = Pipe()
        process.standardError = errors
        process.standardOutput = FileHandle(forWritingAtPath: "/dev/null")
        try process.run()
        let stderr = String(decoding: errors.fileHandleForReading.readDataToEndOfFile(), as: UTF8.self)
        process.waitUntilExit()
        #expect(process.terminationStatus == 0, "\(stderr)")
        let line = try #require(stderr.split(separator: "\n").last { $0.hasPrefix("peak-kb ") })
        let peakMiB = try #require(Int(line.dropFirst("peak-kb ".count))) / 1024
        // GDAL's block cache (128 MiB) plus the process and GDAL themselves: well under one band.
        #expect(peakMiB < 400, "peak RSS \(peakMiB) MiB")
    }
}
