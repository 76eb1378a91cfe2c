import CGDAL
import Foundation
import Raster
import TestSupport
import Testing
@testable import Tiles

/// Renders tiles on a render thread, as the server does, and decodes them as RGBA.
private func render(_ renderer: TileRenderer, _ sources: [TileSource]) async throws -> RasterImage? {
    let workers = RenderWorkers(count: 1)
    let data = try await workers.run(for: "test") { cache in try renderer.render(sources, cache: cache) }
    await workers.stop()
    guard let data else { return nil }
    return try RasterImage(encoded: data, fileExtension: renderer.format.rawValue).rgba
}

/// A one-band raster of constant `value` in EPSG:3857 over `bounds`, made with gdal_create.
private func constantRaster(_ value: Double, bounds: [Double], size: (Int, Int) = (256, 256), type: String = "Byte",
                            nodata: Double? = nil, in folder: TemporaryDirectory, name: String) throws -> String {
    let path = folder.file(name)
    try GDALTool.check("gdal_create", ["-q", "-of", "GTiff", "-outsize", String(size.0), String(size.1), "-bands", "1", "-ot", type,
                                       "-burn", String(value), "-a_srs", "EPSG:3857",
                                       "-a_ullr", String(bounds[0]), String(bounds[3]), String(bounds[2]), String(bounds[1])]
                       + (nodata.map { ["-a_nodata", String($0)] } ?? []) + [path])
    return path
}

/// Writes `value` over every full-resolution pixel of band 1, in place, through GDAL's GTiff driver in
/// update mode; the overviews keep what they had.
private func overwriteFullResolution(_ path: String, with value: UInt8) throws {
    GDALRuntime.ensureInitialized()
    let driverName = strdup("GTiff")!
    defer { free(driverName) }
    let drivers: [UnsafePointer<CChar>?] = [UnsafePointer(driverName), nil]
    let flags = UInt32(GDAL_OF_RASTER | GDAL_OF_UPDATE)
    let dataset = try #require(drivers.withUnsafeBufferPointer { GDALOpenEx(path, flags, $0.baseAddress, nil, nil) })
    let band = GDALGetRasterBand(dataset, 1)
    let width = GDALGetRasterXSize(dataset), height = GDALGetRasterYSize(dataset)
    var pixels = [UInt8](repeating: value, count: Int(width) * Int(height))
    let status = pixels.withUnsafeMutableBytes { raw in
        GDALRasterIO(band, GF_Write, 0, 0, width, height, raw.baseAddress, width, height, GDT_Byte, 0, 0)
    }
    GDALClose(dataset)
    #expect(status == CE_None)
}

@Suite("tile renderer")
struct TileRendererTests {
    /// A tile of zoom 10 a test raster covers exactly.
    static let tile = try! TileCoordinate(z: 10, x: 300, y: 400)

    @Test("low zooms read the COG's overviews, never full resolution; deep zooms read full resolution")
    func lowZoomsReadOverviews() async throws {
        let folder = TemporaryDirectory("renderer-overviews")
        defer { folder.remove() }
        // 1024 pixels across the zoom-10 tile: full resolution is zoom 12's, overviews zoom 11's and 10's.
        let source = try constantRaster(200, bounds: Self.tile.bounds, size: (1024, 1024), in: folder, name: "source.tif")
        let cog = folder.file("cog.tif")
        try GDALTool.check("gdal_translate", ["-q", "-of", "COG", "-co", "BLOCKSIZE=256", "-co", "COMPRESS=NONE",
                                              "-co", "OVERVIEW_RESAMPLING=NEAREST", source, cog])
        let overviews = try #require((try GDALTool.info(cog)["bands"] as? [[String: Any]])?.first?["overviews"] as? [[String: Any]])
        #expect(overviews.compactMap { $0["size"] as? [Int] } == [[512, 512], [256, 256]])
        try overwriteFullResolution(cog, with: 77)
        // Full resolution and overviews now disagree.
        let full = try RasterImage(path: cog)
        #expect(Set(full.bands[0]) == [77])
        for level in ["0", "1"] {
            let copy = folder.file("overview\(level).tif")
            try GDALTool.check("gdal_translate", ["-q", "-ovr", level, cog, copy])
            #expect(Set(try RasterImage(path: copy).bands[0]) == [200], "overview \(level)")
        }

        let sources = [TileSource(path: cog, bands: nil)]
        for (z, expected) in [(9, Float(200)), (10, 200), (12, 77), (13, 77)] {
            let centre = MercatorGrid.degrees(x: (Self.tile.bounds[0] + Self.tile.bounds[2]) / 2 + 1,
                                              y: (Self.tile.bounds[1] + Self.tile.bounds[3]) / 2 + 1)
            let (x, y) = MercatorGrid.tile(longitude: centre.longitude, latitude: centre.latitude, zoom: z)
            let coordinate = try TileCoordinate(z: z, x: x, y: y)
            for resampling in [Resampling.nearest, .bilinear, .average] {
                let image = try #require(try await render(TileRenderer(tile: coordinate, options: RenderOptions(resampling: resampling)), sources))
                let shown = image.bands[3].indices.filter { image.bands[3][$0] == 255 }
                #expect(shown.count > 1000, "zoom \(z) \(resampling): \(shown.count) opaque pixels")
                let values = Set(shown.map { image.bands[0][$0] })
                #expect(values == [expected], "zoom \(z) \(resampling): values \(values.sorted()), expected \(expected)")
            }
        }
    }

    @Test("sources are laid one under the other: the first is on top, the next shows where it is transparent")
    func firstSourceOnTop() async throws {
        let folder = TemporaryDirectory("renderer-order")
        defer { folder.remove() }
        let bounds = Self.tile.bounds
        let westHalf = [bounds[0], bounds[1], (bounds[0] + bounds[2]) / 2, bounds[3]]
        let whole = try constantRaster(10, bounds: bounds, in: folder, name: "whole.tif")
        let west = try constantRaster(250, bounds: westHalf, size: (128, 256), in: folder, name: "west.tif")
        // A source whose every pixel is nodata covers nothing.
        let blank = try constantRaster(0, bounds: bounds, nodata: 0, in: folder, name: "blank.tif")

        func halves(_ image: RasterImage) -> (west: Set<Float>, east: Set<Float>, alpha: Set<Float>) {
            var westValues = Set<Float>(), eastValues = Set<Float>()
            for index in 0..<image.pixelCount {
                if index % 256 < 128 { westValues.insert(image.bands[0][index]) } else { eastValues.insert(image.bands[0][index]) }
            }
            return (westValues, eastValues, Set(image.bands[3]))
        }
        let renderer = TileRenderer(tile: Self.tile)
        let westOnTop = try #require(try await render(renderer, [TileSource(path: blank, bands: nil), TileSource(path: west, bands: nil),
                                                                  TileSource(path: whole, bands: nil)]))
        var result = halves(westOnTop)
        #expect(result.west == [250] && result.east == [10] && result.alpha == [255], "\(result)")
        let wholeOnTop = try #require(try await render(renderer, [TileSource(path: whole, bands: nil), TileSource(path: west, bands: nil)]))
        result = halves(wholeOnTop)
        #expect(result.west == [10] && result.east == [10], "\(result)")
        let alone = try #require(try await render(renderer, [TileSource(path: west, bands: nil)]))
        result = halves(alone)
        #expect(result.west == [250] && halves(alone).alpha == [0, 255])
        #expect(alone.bands[3].enumerated().allSatisfy { index, alpha in (index % 256 < 128) == (alpha == 255) })
        // Nothing visible: no tile at all (the service sends its shared empty tile).
        #expect(try await render(renderer, [TileSource(path: blank, bands: nil)]) == nil)
        let elsewhere = try TileCoordinate(z: 10, x: 10, y: 10)
        #expect(try await render(TileRenderer(tile: elsewhere), [TileSource(path: whole, bands: nil)]) == nil)
    }

    @Test("non-Byte data is stretched from the statistics given (a catalog's), or from rescale, not from the tile's pixels")
    func stretchRanges() async throws {
        let folder = TemporaryDirectory("renderer-stretch")
        defer { folder.remove() }
        let raster = try constantRaster(250, bounds: Self.tile.bounds, type: "Int16", in: folder, name: "int16.tif")
        let source = [TileSource(path: raster, bands: nil)]
        let fromStatistics = try #require(try await render(TileRenderer(tile: Self.tile, statistics: [1: 0...1000]), source))
        // (250 - 0) * 255 / 1000 = 63.75.
        #expect(Set(fromStatistics.bands[0]) == [64])
        let rescaled = try #require(try await render(TileRenderer(tile: Self.tile, options: RenderOptions(rescale: [200...400]),
                                                                  statistics: [1: 0...1000]), source))
        // (250 - 200) * 255 / 200 = 63.75 too, from another range: 0...1000 would not give it.
        #expect(Set(rescaled.bands[0]) == [64], "rescale wins over the statistics")
        let rescaledHigh = try #require(try await render(TileRenderer(tile: Self.tile, options: RenderOptions(rescale: [240...260]),
                                                                      statistics: [1: 0...1000]), source))
        // (250 - 240) * 255 / 20 = 127.5: 127 or 128 by rounding, far from 64.
        #expect(Set(rescaledHigh.bands[0]).isSubset(of: [127, 128]))
        let clipped = try #require(try await render(TileRenderer(tile: Self.tile, options: RenderOptions(rescale: [0...100])), source))
        #expect(Set(clipped.bands[0]) == [255])
        let viridis = try #require(Colormap.named("viridis"))
        let coloured = try #require(try await render(TileRenderer(tile: Self.tile, options: RenderOptions(rescale: [0...1000], colormap: "viridis")),
                                                     source))
        let entry = viridis.colors[64]
        #expect(Set(coloured.bands[0]) == [Float(entry.red)] && Set(coloured.bands[1]) == [Float(entry.green)]
            && Set(coloured.bands[2]) == [Float(entry.blue)])
    }

    @Test("a tile equals gdalwarp's output for the same bounds, size and resampling, at 256 and 512 pixels")
    func equalsGdalwarp() async throws {
        // A copy: band summaries computed from the file leave GDAL's .aux.xml beside it.
        let folder = TemporaryDirectory("renderer-warp")
        defer { folder.remove() }
        let raster = folder.file("RGB.byte.tif")
        try FileManager.default.copyItem(atPath: TestRasters.real("RGB.byte.tif"), toPath: raster)
        for (z, resampling, scale) in [(9, Resampling.nearest, 1), (11, .bilinear, 1), (8, .cubic, 2), (10, .average, 1)] {
            let (x, y) = MercatorGrid.tile(longitude: -78.5, latitude: 25.3, zoom: z)
            let coordinate = try TileCoordinate(z: z, x: x, y: y)
            let image = try #require(try await render(TileRenderer(tile: coordinate, scale: scale, options: RenderOptions(resampling: resampling)),
                                                      [TileSource(path: raster, bands: nil)]))
            let warp = try ReferenceWarp.tile(raster, z: z, x: x, y: y, size: 256 * scale, resampling: resampling.gdalName)
            try #require(warp.bands.count == 4 && image.width == 256 * scale && warp.width == image.width)
            let shown = warp.bands[3].map { $0 > 0 }
            #expect(PlaneDifference(image.bands[3], warp.bands[3], width: image.width).count == 0, "\(coordinate) \(resampling) alpha")
            for band in 0..<3 {
                let difference = PlaneDifference(image.bands[band], warp.bands[band], width: image.width, mask: shown)
                #expect(difference.count == 0, "\(coordinate) \(resampling) band \(band + 1): \(difference)")
            }
        }
    }
}

@Suite("render parameters")
struct TileRendererParameterTests {
    @Test("bands, rescale, colormap and resampling are read from the query")
    func parses() throws {
        let options = try RenderOptions(parameters: ["bands": "4,3,2", "rescale": "0,3000", "resampling": "BILINEAR"])
        #expect(options.bands == [4, 3, 2])
        #expect(options.rescale == [0...3000])
        #expect(options.resampling == .bilinear)
        #expect(options.colormap == nil)
        let perBand = try RenderOptions(parameters: ["bands": "1,2,3", "rescale": "0,1,-5.5,5.5,1e3,2e3"])
        #expect(perBand.rescale == [0...1, -5.5...5.5, 1000...2000])
        let coloured = try RenderOptions(parameters: ["bands": "2", "colormap": "Viridis_R"])
        #expect(coloured.bands == [2] && coloured.colormap == "viridis_r")
        #expect(try RenderOptions(parameters: [:]) == RenderOptions())
        #expect(try RenderOptions(parameters: ["colormap": "terrain"]).colormap == "terrain")
        for method in Resampling.allCases {
            #expect(try RenderOptions(parameters: ["resampling": method.rawValue]).resampling == method)
        }
        #expect(Resampling.nearest.gdalName == "near" && Resampling.bilinear.gdalName == "bilinear")
    }

    @Test("equal options have equal canonical text, different options different text")
    func canonicalText() throws {
        let a = try RenderOptions(parameters: ["bands": "3,2,1", "resampling": "cubic"])
        let b = try RenderOptions(parameters: ["resampling": "CUBIC", "bands": " 3, 2 ,1"])
        #expect(a.canonicalText == b.canonicalText)
        let others = [["bands": "1,2,3", "resampling": "cubic"], ["bands": "3,2,1"], ["bands": "3,2,1", "resampling": "nearest"],
                      ["bands": "3,2,1", "resampling": "cubic", "rescale": "0,1"]]
        for parameters in others {
            #expect(try RenderOptions(parameters: parameters).canonicalText != a.canonicalText, "\(parameters)")
        }
    }

    @Test("bad values throw naming the parameter",
          arguments: [
              (["bands": "0"], "bands"), (["bands": "a"], "bands"), (["bands": ""], "bands"), (["bands": "1,2"], "bands"),
              (["bands": "1,,3"], "bands"), (["bands": "1,2,3,4"], "bands"), (["bands": "-1"], "bands"), (["bands": "99999999999999"], "bands"),
              (["rescale": "1"], "rescale"), (["rescale": "5,1"], "rescale"), (["rescale": "1,1"], "rescale"), (["rescale": "a,b"], "rescale"),
              (["rescale": "0,nan"], "rescale"), (["rescale": "-inf,0"], "rescale"), (["rescale": "0,1,2"], "rescale"),
              (["bands": "1,2,3", "rescale": "0,1,0,1"], "rescale"), (["bands": "1", "rescale": "0,1,0,1"], "rescale"),
              (["colormap": "nope"], "colormap"), (["colormap": "viridis_r_r"], "colormap"), (["colormap": "viridis", "bands": "1,2,3"], "colormap"),
              (["resampling": "lanczos"], "resampling"), (["resampling": ""], "resampling"), (["resampling": "near"], "resampling"),
          ] as [([String: String], String)])
    func refuses(parameters: [String: String], parameter: String) {
        do {
            _ = try RenderOptions(parameters: parameters)
            Issue.record("\(parameters) was accepted")
        } catch let TileRequestError.invalid(name, message) {
            #expect(name == parameter, "\(parameters): \(name): \(message)")
            #expect(!message.isEmpty)
        } catch {
            Issue.record("\(parameters): \(error)")
        }
    }

    @Test("tile names: {y}.{ext} and {y}@2x.{ext}")
    func tileNames() throws {
        let plain = try TileName("12.png")
        #expect(plain.row == 12 && plain.scale == 1 && plain.format == .png)
        let retina = try TileName("0@2x.webp")
        #expect(retina.row == 0 && retina.scale == 2 && retina.format == .webp)
        #expect(try TileName("7.jpg").format == .jpg)
        #expect(try TileName("7.jpeg").format == .jpg)
        #expect(try TileName("7.PNG").format == .png)
        #expect(TileFormat.png.mimeType == "image/png" && TileFormat.webp.mimeType == "image/webp" && TileFormat.jpg.mimeType == "image/jpeg")
    }

    @Test("bad tile names throw naming the parameter",
          arguments: [("12", "format"), ("12.gif", "format"), ("12.", "format"), ("12.tif", "format"), ("a.png", "y"), ("-1.png", "y"),
                      ("1@3x.png", "y"), ("@2x.png", "y"), ("1234567890.png", "y"), (".png", "y"), ("1.5.png", "y")])
    func refusesTileNames(text: String, parameter: String) {
        do {
            _ = try TileName(text)
        } catch let TileRequestError.invalid(name, _) {
            #expect(name == parameter, "\(text): \(name)")
        } catch {
            Issue.record("\(text): \(error)")
        }
    }

    @Test("tile coordinates: zoom 0 to 24, column and row within the zoom; bounds from the definition")
    func coordinates() throws {
        let world = try TileCoordinate(z: 0, x: 0, y: 0)
        let half = WebMercatorQuad.halfWorld
        #expect(world.bounds == [-half, -half, half, half])
        #expect(try TileCoordinate(z: 1, x: 1, y: 0).bounds == [0, 0, half, half])
        let deep = try TileCoordinate(z: 24, x: (1 << 24) - 1, y: (1 << 24) - 1)
        #expect(abs(deep.bounds[2] - half) < 1e-6 && abs(deep.bounds[1] + half) < 1e-6)
        let tile = try TileCoordinate(z: 9, x: 144, y: 218)
        #expect(tile.bounds == MercatorGrid.bounds(z: 9, x: 144, y: 218))
        let geographic = tile.geographicBounds
        #expect(MercatorGrid.tile(longitude: (geographic[0] + geographic[2]) / 2, latitude: (geographic[1] + geographic[3]) / 2, zoom: 9) == (144, 218))
        for (z, x, y, parameter) in [(25, 0, 0, "z"), (-1, 0, 0, "z"), (3, 8, 0, "x"), (3, -1, 0, "x"), (3, 0, 8, "y"), (3, 0, -1, "y")] {
            do {
                _ = try TileCoordinate(z: z, x: x, y: y)
                Issue.record("\(z)/\(x)/\(y) was accepted")
            } catch let TileRequestError.invalid(name, _) {
                #expect(name == parameter, "\(z)/\(x)/\(y): \(name)")
            } catch {
                Issue.record("\(error)")
            }
        }
    }

    @Test("colormaps: 256 colours each, the published ends, _r reversed, any case")
    func colormaps() throws {
        #expect(Set(Colormap.names).isSuperset(of: ["viridis", "magma", "inferno", "plasma", "cividis", "greys", "terrain"]))
        for name in Colormap.names {
            let colormap = try #require(Colormap.named(name))
            #expect(colormap.colors.count == 256, "\(name)")
            let reversed = try #require(Colormap.named(name + "_r"))
            #expect(reversed.colors == colormap.colors.reversed(), "\(name)_r")
        }
        let viridis = try #require(Colormap.named("VIRIDIS"))
        #expect(viridis.colors[0] == Colormap.RGB(red: 0x44, green: 0x01, blue: 0x54))
        #expect(viridis.colors[255] == Colormap.RGB(red: 0xFD, green: 0xE7, blue: 0x25))
        let greys = try #require(Colormap.named("greys"))
        #expect(greys.colors.enumerated().allSatisfy { index, colour in
            colour.red == UInt8(index) && colour.green == UInt8(index) && colour.blue == UInt8(index)
        })
        #expect(Colormap.named("nope") == nil && Colormap.named("viridis_r_r") == nil)
    }
}

@Suite("render workers")
struct RenderWorkerTests {
    /// Whose job finished, in order.
    private final class Finished: @unchecked Sendable {
        private let lock = NSLock()
        private var owners: [String] = []
        func add(_ owner: String) { lock.withLock { owners.append(owner) } }
        var order: [String] { lock.withLock { owners } }
    }

    /// Waits until `owner` has `count` jobs queued.
    private func waitUntil(_ workers: RenderWorkers, _ owner: String, queued count: Int) async throws {
        for _ in 0..<2000 where workers.waitingJobs(of: owner) < count { try await Task.sleep(for: .milliseconds(5)) }
        try #require(workers.waitingJobs(of: owner) == count)
    }

    @Test("owners take turns: a flood of one owner's jobs delays another's by one job, and is capped")
    func fairAndBounded() async throws {
        let workers = RenderWorkers(count: 1, maxQueuedPerOwner: 11)
        let finished = Finished()
        let gate = DispatchSemaphore(value: 0)
        try await withThrowingTaskGroup(of: Void.self) { group in
            // The one thread is held by the flood's first job while the rest queue up.
            let started = Finished()
            group.addTask { try await workers.run(for: "flood") { _ in started.add("flood"); gate.wait(); finished.add("flood") } }
            for _ in 0..<2000 where started.order.isEmpty { try await Task.sleep(for: .milliseconds(5)) }
            for _ in 0..<11 { group.addTask { try await workers.run(for: "flood") { _ in finished.add("flood") } } }
            try await waitUntil(workers, "flood", queued: 11)
            // The flood owner's queue is full: one more is refused at once.
            await #expect(throws: RenderWorkersError.self) { try await workers.run(for: "flood") { _ in } }
            group.addTask { try await workers.run(for: "other") { _ in finished.add("other") } }
            try await waitUntil(workers, "other", queued: 1)
            gate.signal()
            try await group.waitForAll()
        }
        await workers.stop()
        #expect(finished.order.firstIndex(of: "other") == 2, "the running job, one flood job, then the other owner's: \(finished.order)")
    }

    @Test("a job whose request is cancelled before it starts is dropped")
    func cancelledJobsAreDropped() async throws {
        let workers = RenderWorkers(count: 1)
        let ran = Finished()
        let gate = DispatchSemaphore(value: 0)
        let started = Finished()
        let blocker = Task { try await workers.run(for: "a") { _ in started.add("a"); gate.wait() } }
        for _ in 0..<2000 where started.order.isEmpty { try await Task.sleep(for: .milliseconds(5)) }
        let waiting = Task { try await workers.run(for: "a") { _ in ran.add("a") } }
        try await waitUntil(workers, "a", queued: 1)
        waiting.cancel()
        gate.signal()
        await #expect(throws: CancellationError.self) { try await waiting.value }
        _ = try await blocker.value
        await workers.stop()
        #expect(ran.order.isEmpty)
    }
}
