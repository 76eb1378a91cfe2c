import Foundation
import TestSupport
import Testing

/// A catalog of many items gets a low-resolution mosaic that low zooms are drawn from, never used
/// once the catalog has changed.
@Suite("Map tiles: catalog overviews", .serialized)
struct MapOverviewTests {
    /// 40 crops of 64x64 pixels of a real scene side by side, imported in one `tile import`.
    private static func makeCatalog() throws -> (data: TemporaryDirectory, inputs: TemporaryDirectory) {
        let inputs = TemporaryDirectory("overview-inputs")
        for index in 0..<40 {
            try GDALTools.translate(["-srcwin", String(100 + (index % 8) * 70), String(100 + (index / 8) * 70), "64", "64",
                                     TestRasters.real("RGB.byte.tif"), inputs.file("crop\(index).tif")])
        }
        let data = TemporaryDirectory("overview-data")
        let imported = try TileBinary.run(["import", "--data-dir", data.path, "--catalog", "alice.crops", "--create", inputs.path])
        #expect(imported.status == 0, "\(imported.stderr)")
        return (data, inputs)
    }

    private static func overviewFiles(_ data: TemporaryDirectory) -> [String] {
        let folder = data.file("tile-overviews/alice.crops")
        return ((try? FileManager.default.contentsOfDirectory(atPath: folder)) ?? []).filter { $0.hasSuffix(".tif") }
    }

    /// The zoom-8 tile under the centre of one crop, which the overview (one zoom coarser than the
    /// items' 300 m pixels) serves, and the pixel of that centre in it.
    private static func lowZoomTile(_ client: APIClient, item index: Int = 0) async throws
        -> (path: String, id: String, pixel: Int) {
        let features = try await client.send("GET", "/layers/alice.crops/features?limit=100")
        let list = features.object["features"] as? [[String: Any]] ?? []
        try #require(list.count == 40)
        let box = try #require(list[index]["bbox"] as? [Double])
        let id = try #require(list[index]["id"] as? String)
        let (longitude, latitude) = ((box[0] + box[2]) / 2, (box[1] + box[3]) / 2)
        let tile = MercatorGrid.tile(longitude: longitude, latitude: latitude, zoom: 8)
        let bounds = MercatorGrid.bounds(z: 8, x: tile.x, y: tile.y)
        let x = longitude * MercatorGrid.halfWorld / 180
        let y = log(tan((90 + latitude) * .pi / 360)) * MercatorGrid.halfWorld / .pi
        let resolution = MercatorGrid.resolution(zoom: 8)
        let column = Int((x - bounds[0]) / resolution), row = Int((bounds[3] - y) / resolution)
        return ("/layers/alice.crops/tiles/8/\(tile.x)/\(tile.y).png", id, row * 256 + column)
    }

    @Test("tile import leaves an overview; low zooms read it and nothing else")
    func lowZoomsReadTheOverview() async throws {
        let (data, inputs) = try Self.makeCatalog()
        defer { data.remove(); inputs.remove() }
        #expect(Self.overviewFiles(data).count == 1)
        let server = try ServerProcess(users: ["alice"], dataDirectory: data.path)
        defer { server.stop() }
        let alice = try await APIClient.login(server, as: "alice")
        let (path, _, pixel) = try await Self.lowZoomTile(alice)
        let drawn = try await alice.send("GET", path)
        try #require(drawn.status == 200)
        let image = try RasterImage(encoded: drawn.data, fileExtension: "png").rgba
        #expect(image.bands[3][pixel] == 255, "the crop's centre is drawn")

        // With every item's raster gone, the low-zoom tile is still drawn, byte for byte: from the overview alone.
        let rasters = data.file("rasters/alice.crops")
        let aside = TemporaryDirectory("overview-aside")
        defer { aside.remove() }
        let names = try FileManager.default.contentsOfDirectory(atPath: rasters)
        for name in names { try FileManager.default.moveItem(atPath: rasters + "/" + name, toPath: aside.file(name)) }
        let again = try await alice.send("GET", path)
        #expect(again.status == 200)
        #expect(again.data == drawn.data)
        let features = try await alice.send("GET", "/layers/alice.crops/features?limit=1")
        let box = try #require((features.object["features"] as? [[String: Any]])?.first?["bbox"] as? [Double])
        let deep = MercatorGrid.tile(longitude: (box[0] + box[2]) / 2, latitude: (box[1] + box[3]) / 2, zoom: 12)
        let itemTile = try await alice.send("GET", "/layers/alice.crops/tiles/12/\(deep.x)/\(deep.y).png")
        #expect(itemTile.status != 200, "a deep zoom reads the items, whose files are gone")
        for name in names { try FileManager.default.moveItem(atPath: aside.file(name), toPath: rasters + "/" + name) }
    }

    @Test("after a deletion low zooms draw the items at once, until the server rebuilds the overview")
    func deletionBypassesThenRebuilds() async throws {
        let (data, inputs) = try Self.makeCatalog()
        defer { data.remove(); inputs.remove() }
        let before = Self.overviewFiles(data)
        let server = try ServerProcess(users: ["alice"], dataDirectory: data.path)
        defer { server.stop() }
        let alice = try await APIClient.login(server, as: "alice")
        let (path, id, pixel) = try await Self.lowZoomTile(alice)
        let first = try await alice.send("GET", path)
        try #require(first.status == 200)
        let etag = try #require(first.headers["etag"])
        #expect(try RasterImage(encoded: first.data, fileExtension: "png").rgba.bands[3][pixel] == 255)

        // The item goes; its pixels are transparent in the very next tile.
        #expect(try await alice.send("DELETE", "/layers/alice.crops/features/\(id)").status == 200)
        let after = try await alice.send("GET", path, headers: ["If-None-Match": etag])
        try #require(after.status == 200, "the old ETag no longer matches")
        #expect(try RasterImage(encoded: after.data, fileExtension: "png").rgba.bands[3][pixel] == 0,
                "the deleted item's pixel is transparent")

        // The server rebuilds the overview for the new revision and drops the old one.
        var rebuilt: [String] = []
        for _ in 0..<100 {
            rebuilt = Self.overviewFiles(data)
            if rebuilt.count == 1, rebuilt != before { break }
            try await Task.sleep(for: .milliseconds(200))
        }
        #expect(rebuilt.count == 1 && rebuilt != before, "overviews now: \(rebuilt), before: \(before)")
        let fromOverview = try await alice.send("GET", path)
        #expect(try RasterImage(encoded: fromOverview.data, fileExtension: "png").rgba.bands[3][pixel] == 0,
                "the rebuilt overview lacks the item too")
    }
}
