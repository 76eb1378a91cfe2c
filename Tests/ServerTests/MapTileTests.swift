import Foundation
import TestSupport
import Testing
import Tiles

/// Where the map tile suites put their synthetic rasters: whole tiles of zoom 8, so a tile of that
/// zoom maps one raster pixel to one tile pixel.
private enum MapPlaces {
    /// The order catalog's tile.
    static let order = (z: 8, x: 130, y: 120)
    static var orderBounds: [Double] { MercatorGrid.bounds(z: order.z, x: order.x, y: order.y) }
    /// Its west half.
    static var orderWestHalf: [Double] {
        let b = orderBounds
        return [b[0], b[1], (b[0] + b[2]) / 2, b[3]]
    }
}

private extension MapImport {
    /// Three overlapping items, oldest first: A (60, rank 9) and B (120, rank 20) cover the tile,
    /// the newest, C (180, rank 10), its west half only. Ranks sort differently as numbers and as text.
    static let orderedItems: [MapImport] = [
        MapImport(key: "orderA", catalog: "alice.order",
                  file: MapRasters.constant(60, name: "a.tif", bounds: MapPlaces.orderBounds), arguments: MapRasters.ranked(9)),
        MapImport(key: "orderB", catalog: "alice.order",
                  file: MapRasters.constant(120, name: "b.tif", bounds: MapPlaces.orderBounds), arguments: MapRasters.ranked(20)),
        MapImport(key: "orderC", catalog: "alice.order",
                  file: MapRasters.constant(180, name: "c.tif", bounds: MapPlaces.orderWestHalf, width: 128),
                  arguments: MapRasters.ranked(10)),
    ]
}

/// The zoom whose pixels first are as fine as the item's (the item's native zoom), from its
/// properties: `resolutionX` in its CRS at the latitude of its bbox's middle.
private func nativeZoom(_ properties: [String: Any]) -> Int? {
    guard let resolution = properties["resolutionX"] as? Double, let bbox = properties["bbox"] as? [Double], bbox.count == 4,
          let crs = properties["crs"] as? String else { return nil }
    let metres = crs == "EPSG:4326" ? resolution * 111_319.49 : resolution
    let mercator = metres / cos((bbox[1] + bbox[3]) / 2 * .pi / 180)
    return Int(log2(MercatorGrid.resolution(zoom: 0) / mercator).rounded(.up))
}

/// The middle of an item's bbox (west < east).
private func middle(_ properties: [String: Any]) -> (longitude: Double, latitude: Double)? {
    guard let bbox = properties["bbox"] as? [Double], bbox.count == 4 else { return nil }
    return ((bbox[0] + bbox[2]) / 2, (bbox[1] + bbox[3]) / 2)
}

/// Expects a decoded RGBA tile to be gdalwarp's output: alpha everywhere and colour wherever a
/// pixel shows. `warp` has R, G, B, alpha, or grey and alpha (then R = G = B = grey).
private func expectTile(_ tile: RasterImage, equals warp: RasterImage, _ label: String,
                sourceLocation: SourceLocation = #_sourceLocation) {
    #expect(tile.width == warp.width && tile.height == warp.height && tile.bands.count == 4,
            "\(label): tile \(tile.width)x\(tile.height)x\(tile.bands.count), warp \(warp.width)x\(warp.height)",
            sourceLocation: sourceLocation)
    guard tile.bands.count == 4, tile.pixelCount == warp.pixelCount, warp.bands.count >= 2 else { return }
    let alpha = warp.bands[warp.bands.count - 1]
    let colours = warp.bands.count == 2 ? [warp.bands[0], warp.bands[0], warp.bands[0]] : Array(warp.bands.prefix(3))
    let shown = alpha.map { $0 > 0 }
    let alphaDifference = PlaneDifference(tile.bands[3], alpha, width: tile.width)
    #expect(alphaDifference.count == 0, "\(label) alpha: \(alphaDifference)", sourceLocation: sourceLocation)
    for (index, name) in ["red", "green", "blue"].enumerated() {
        let difference = PlaneDifference(tile.bands[index], colours[index], width: tile.width, mask: shown)
        #expect(difference.count == 0, "\(label) \(name): \(difference)", sourceLocation: sourceLocation)
    }
}

/// The 0-255 value a stretch from `range` gives `value` (what a GIS shows for a min-max stretch).
private func stretched(_ value: Float, _ low: Double, _ high: Double) -> Float {
    Float(min(255, max(0, ((Double(value) - low) * 255 / (high - low)).rounded())))
}

/// Map tiles compared pixel by pixel with what gdalwarp makes of the stored COGs, and the render
/// parameters, antimeridian and mosaic order, against a real `tile serve`.
@Suite("map tiles: pixels", .mapServer([
    MapImport(key: "rgb", catalog: "alice.rgb", file: MapRasters.real("RGB.byte.tif")),
    MapImport(key: "grey", catalog: "alice.grey", file: MapRasters.real("byte.tif")),
    MapImport(key: "palette", catalog: "alice.palette", file: MapRasters.sample("paletted.tif")),
    MapImport(key: "int16", catalog: "alice.int16", file: MapRasters.smallInt16),
    MapImport(key: "float", catalog: "alice.float", file: MapRasters.sample("nan_nodata.tif")),
    MapImport(key: "float32", catalog: "alice.float32", file: MapRasters.float32),
    MapImport(key: "alpha", catalog: "alice.masks", file: MapRasters.sample("alpha.tif")),
    MapImport(key: "mask", catalog: "alice.masks", file: MapRasters.sample("internal_mask.tif")),
    MapImport(key: "collar", catalog: "alice.masks", file: MapRasters.sample("nodata_collar.tif")),
    MapImport(key: "world", catalog: "alice.world", file: MapRasters.sample("past_180.tif")),
    MapImport(key: "fiji", catalog: "alice.fiji", file: MapRasters.sample("antimeridian.tif")),
    MapImport(key: "pairLow", catalog: "alice.pair", file: MapRasters.smallInt16),
    MapImport(key: "pairHigh", catalog: "alice.pair", file: MapRasters.int16FromByte),
] + MapImport.orderedItems))
struct MapTilePixelTests {
    /// A corner of RGB.byte.tif's scene: tiles there hold scene and nodata collar at every zoom.
    static let rgbCorner = (longitude: -78.5, latitude: 25.3)

    @Test("RGB.byte.tif: an item tile equals gdalwarp of the stored COG, pixels and alpha, below, at and above its native zoom",
          arguments: [
              (-2, "nearest"), (-2, "bilinear"), (0, nil), (0, "nearest"), (0, "bilinear"), (0, "cubic"), (0, "average"),
              (2, "nearest"), (2, "bilinear"),
          ] as [(Int, String?)])
    func rgbEqualsGdalwarp(zoomOffset: Int, resampling: String?) async throws {
        let map = try MapServer.shared()
        let item = try map.item("rgb")
        let native = try #require(nativeZoom(try await map.properties(item)))
        #expect(native == 9, "300 m pixels at 24.5°N (330 m in Web Mercator): zoom 8 has 611 m, zoom 9 306 m")
        let z = native + zoomOffset
        let (x, y) = MercatorGrid.tile(longitude: Self.rgbCorner.longitude, latitude: Self.rgbCorner.latitude, zoom: z)
        let query = resampling.map { "resampling=\($0)" } ?? ""
        let (reply, tile) = try await map.tile(MapServer.tilePath(item.catalog, item: item.id, z: z, x: x, y: y, query: query))
        #expect(reply.headers["content-type"] == "image/png")
        let method = resampling.map { $0 == "nearest" ? "near" : $0 } ?? "near"
        let warp = try ReferenceWarp.tile(item.storedPath, z: z, x: x, y: y, resampling: method)
        expectTile(tile, equals: warp, "\(z)/\(x)/\(y) \(resampling ?? "default")")
        // The comparison means something only with scene and collar on the tile.
        let visible = tile.count(band: 3) { $0 > 0 }
        #expect(visible > 1000 && visible < tile.pixelCount - 1000, "\(visible) visible pixels")
    }

    @Test("resampling changes the pixels: bilinear is not nearest above the native zoom")
    func resamplingMatters() async throws {
        let map = try MapServer.shared()
        let item = try map.item("rgb")
        let (x, y) = MercatorGrid.tile(longitude: Self.rgbCorner.longitude, latitude: Self.rgbCorner.latitude, zoom: 11)
        let nearest = try await map.tile(MapServer.tilePath(item.catalog, item: item.id, z: 11, x: x, y: y, query: "resampling=nearest"))
        let bilinear = try await map.tile(MapServer.tilePath(item.catalog, item: item.id, z: 11, x: x, y: y, query: "resampling=bilinear"))
        #expect(PlaneDifference(bilinear.image.bands[0], nearest.image.bands[0], width: 256).count > 1000)
        #expect(nearest.reply.headers["etag"] != bilinear.reply.headers["etag"])
    }

    @Test("the mosaic of a one-item catalog equals gdalwarp too, at 256 pixels and at 512 (@2x)")
    func mosaicEqualsGdalwarp() async throws {
        let map = try MapServer.shared()
        let item = try map.item("rgb")
        let (x, y) = MercatorGrid.tile(longitude: Self.rgbCorner.longitude, latitude: Self.rgbCorner.latitude, zoom: 9)
        let (_, tile) = try await map.tile(MapServer.tilePath(item.catalog, z: 9, x: x, y: y))
        expectTile(tile, equals: try ReferenceWarp.tile(item.storedPath, z: 9, x: x, y: y), "mosaic 9/\(x)/\(y)")
        let (_, large) = try await map.tile(MapServer.tilePath(item.catalog, z: 9, x: x, y: y, retina: true, query: "resampling=bilinear"))
        #expect(large.width == 512 && large.height == 512)
        expectTile(large, equals: try ReferenceWarp.tile(item.storedPath, z: 9, x: x, y: y, size: 512, resampling: "bilinear"),
                   "mosaic 9/\(x)/\(y)@2x bilinear")
        let (_, itemLarge) = try await map.tile(MapServer.tilePath(item.catalog, item: item.id, z: 9, x: x, y: y, retina: true))
        expectTile(itemLarge, equals: try ReferenceWarp.tile(item.storedPath, z: 9, x: x, y: y, size: 512), "item 9/\(x)/\(y)@2x")
    }

    @Test("a grey one-band Byte raster: red = green = blue = gdalwarp's band, below, at and above its native zoom",
          arguments: [(-2, "nearest"), (0, "nearest"), (0, "bilinear"), (2, "nearest"), (2, "bilinear")])
    func greyEqualsGdalwarp(zoomOffset: Int, resampling: String) async throws {
        let map = try MapServer.shared()
        let item = try map.item("grey")
        let properties = try await map.properties(item)
        let native = try #require(nativeZoom(properties))
        let centre = try #require(middle(properties))
        let z = native + zoomOffset
        let (x, y) = MercatorGrid.tile(longitude: centre.longitude, latitude: centre.latitude, zoom: z)
        for path in [MapServer.tilePath(item.catalog, item: item.id, z: z, x: x, y: y, query: "resampling=\(resampling)"),
                     MapServer.tilePath(item.catalog, z: z, x: x, y: y, query: "resampling=\(resampling)")] {
            let (_, tile) = try await map.tile(path)
            let warp = try ReferenceWarp.tile(item.storedPath, z: z, x: x, y: y, resampling: resampling == "nearest" ? "near" : resampling)
            try #require(warp.bands.count == 2)
            expectTile(tile, equals: warp, path)
            #expect(tile.count(band: 3) { $0 > 0 } > 0, "\(path) shows nothing")
        }
    }

    @Test("alpha band, internal mask and nodata collar are transparent exactly where gdalwarp -dstalpha says",
          arguments: ["alpha", "mask", "collar"])
    func transparency(key: String) async throws {
        let map = try MapServer.shared()
        let item = try map.item(key)
        let properties = try await map.properties(item)
        let z = try #require(nativeZoom(properties))
        let centre = try #require(middle(properties))
        let (x, y) = MercatorGrid.tile(longitude: centre.longitude, latitude: centre.latitude, zoom: z)
        let (_, tile) = try await map.tile(MapServer.tilePath(item.catalog, item: item.id, z: z, x: x, y: y))
        let warp = try ReferenceWarp.tile(item.storedPath, z: z, x: x, y: y)
        expectTile(tile, equals: warp, "\(key) \(z)/\(x)/\(y)")
        let hidden = tile.count(band: 3) { $0 == 0 }
        let shown = tile.count(band: 3) { $0 > 0 }
        #expect(hidden > 100 && shown > 100, "\(key): \(hidden) transparent and \(shown) visible pixels")
    }

    @Test("a paletted raster is drawn with its colour table; its nodata is transparent")
    func palette() async throws {
        let map = try MapServer.shared()
        let item = try map.item("palette")
        let properties = try await map.properties(item)
        let z = try #require(nativeZoom(properties))
        let centre = try #require(middle(properties))
        let (x, y) = MercatorGrid.tile(longitude: centre.longitude, latitude: centre.latitude, zoom: z)
        let (_, tile) = try await map.tile(MapServer.tilePath(item.catalog, item: item.id, z: z, x: x, y: y))
        let warp = try ReferenceWarp.tile(item.storedPath, z: z, x: x, y: y)
        try #require(warp.bands.count == 2)
        // The colour table as GDAL reads it from the stored COG.
        let info = try GDALTool.info(item.storedPath)
        let band = try #require((info["bands"] as? [[String: Any]])?.first)
        let entries = try #require((band["colorTable"] as? [String: Any])?["entries"] as? [[Int]])
        try #require(entries.count == 256 && entries.allSatisfy { $0.count >= 3 })
        let colours = (0..<3).map { channel in warp.bands[0].map { index in Float(entries[Int(index)][channel]) } }
        expectTile(tile, equals: RasterImage(width: warp.width, height: warp.height, bands: colours + [warp.bands[1]]), "palette")
        let indexes = Set(zip(warp.bands[0], warp.bands[1]).filter { $0.1 > 0 }.map(\.0))
        #expect(indexes.count >= 3, "classes on the tile: \(indexes.sorted())")
        #expect(!indexes.contains(255), "nodata (255) shows")
        #expect(tile.count(band: 3) { $0 == 0 } > 0, "no transparent pixel where nodata is")
    }

    @Test("Int16 and Float32 are stretched from the 2nd-98th percentiles kept at import, the same on every tile; nodata is transparent",
          arguments: ["int16", "float32", "float"])
    func defaultStretch(key: String) async throws {
        let map = try MapServer.shared()
        let item = try map.item(key)
        let properties = try await map.properties(item)
        let summary = try #require((properties["bands"] as? [[String: Any]])?.first, "the item's bands field")
        let low = try #require(summary["percentile2"] as? Double)
        let high = try #require(summary["percentile98"] as? Double)
        let minimum = try #require(summary["minimum"] as? Double)
        let maximum = try #require(summary["maximum"] as? Double)
        #expect(minimum < low && low < high && high < maximum, "\(summary)")
        let native = try #require(nativeZoom(properties))
        let centre = try #require(middle(properties))
        for z in [native - 2, native + 1] {
            let (x, y) = MercatorGrid.tile(longitude: centre.longitude, latitude: centre.latitude, zoom: z)
            let warp = try ReferenceWarp.tile(item.storedPath, z: z, x: x, y: y)
            try #require(warp.bands.count == 2)
            let shown = warp.bands[1].map { $0 > 0 }
            // gdalwarp's alpha of 16-bit and float output runs to 32767 or 1; a tile's to 255.
            let alpha = shown.map { $0 ? Float(255) : 0 }
            let expected = warp.bands[0].map { stretched($0, low, high) }
            for path in [MapServer.tilePath(item.catalog, item: item.id, z: z, x: x, y: y), MapServer.tilePath(item.catalog, z: z, x: x, y: y)] {
                let (_, tile) = try await map.tile(path)
                let alphaDifference = PlaneDifference(tile.bands[3], alpha, width: 256)
                #expect(alphaDifference.count == 0, "\(path) alpha: \(alphaDifference)")
                for channel in 0..<3 {
                    let difference = PlaneDifference(tile.bands[channel], expected, width: 256, mask: shown, tolerance: 1)
                    #expect(difference.count == 0, "\(path) band \(channel + 1) vs the stretch \(low)...\(high): \(difference)")
                }
                #expect(tile.count(band: 3) { $0 > 0 } > 50, "\(path) shows little")
            }
            // The low zoom's tile holds the whole raster, nodata (int16's collar, float's NaN) included.
            if key != "float32", z == native - 2 {
                #expect(shown.contains(false), "\(z)/\(x)/\(y): the nodata is on the tile")
            }
        }
    }

    @Test("a mosaic of 16-bit items is stretched from the catalog's lowest 2nd and highest 98th percentiles; an item tile from its own")
    func catalogWideStretch() async throws {
        let map = try MapServer.shared()
        let low = try map.item("pairLow")
        let high = try map.item("pairHigh")
        func percentiles(_ item: MapItem) async throws -> (Double, Double) {
            let band = try #require((try await map.properties(item)["bands"] as? [[String: Any]])?.first)
            return (try #require(band["percentile2"] as? Double), try #require(band["percentile98"] as? Double))
        }
        let (lowP2, lowP98) = try await percentiles(low)
        let (highP2, highP98) = try await percentiles(high)
        #expect(lowP98 < highP2, "the two items' ranges do not overlap: \(lowP2)...\(lowP98), \(highP2)...\(highP98)")
        let catalogRange = (min(lowP2, highP2), max(lowP98, highP98))
        let properties = try await map.properties(low)
        let centre = try #require(middle(properties))
        let z = try #require(nativeZoom(properties)) - 1
        let (x, y) = MercatorGrid.tile(longitude: centre.longitude, latitude: centre.latitude, zoom: z)
        let warp = try ReferenceWarp.tile(low.storedPath, z: z, x: x, y: y)
        try #require(warp.bands.count == 2)
        let shown = warp.bands[1].map { $0 > 0 }
        let (_, mosaic) = try await map.tile(MapServer.tilePath(low.catalog, z: z, x: x, y: y))
        let (_, single) = try await map.tile(MapServer.tilePath(low.catalog, item: low.id, z: z, x: x, y: y))
        let mosaicDifference = PlaneDifference(mosaic.bands[0], warp.bands[0].map { stretched($0, catalogRange.0, catalogRange.1) },
                                               width: 256, mask: shown, tolerance: 1)
        #expect(mosaicDifference.count == 0, "mosaic vs \(catalogRange): \(mosaicDifference)")
        let itemDifference = PlaneDifference(single.bands[0], warp.bands[0].map { stretched($0, lowP2, lowP98) },
                                             width: 256, mask: shown, tolerance: 1)
        #expect(itemDifference.count == 0, "item vs \(lowP2)...\(lowP98): \(itemDifference)")
    }

    @Test("colormap colours a one-band raster without bands=, and replaces a palette")
    func colormapOnOneBand() async throws {
        let map = try MapServer.shared()
        let viridis = try #require(Colormap.named("viridis"))
        for key in ["grey", "palette"] {
            let item = try map.item(key)
            let properties = try await map.properties(item)
            let z = try #require(nativeZoom(properties))
            let centre = try #require(middle(properties))
            let (x, y) = MercatorGrid.tile(longitude: centre.longitude, latitude: centre.latitude, zoom: z)
            let warp = try ReferenceWarp.tile(item.storedPath, z: z, x: x, y: y)
            try #require(warp.bands.count == 2)
            let values = warp.bands[0].map { min(255, max(0, Int($0))) }
            let expected = [values.map { Float(viridis.colors[$0].red) }, values.map { Float(viridis.colors[$0].green) },
                            values.map { Float(viridis.colors[$0].blue) }, warp.bands[1]]
            let (_, tile) = try await map.tile(MapServer.tilePath(item.catalog, item: item.id, z: z, x: x, y: y, query: "colormap=viridis"))
            expectTile(tile, equals: RasterImage(width: 256, height: 256, bands: expected), "\(key) with viridis")
        }
    }

    @Test("alpha bands are not data bands: bands=4 of an RGBA raster is 400; bands=3,2,1 swaps the colours and keeps the alpha")
    func alphaIsNotADataBand() async throws {
        let map = try MapServer.shared()
        let item = try map.item("alpha")
        let properties = try await map.properties(item)
        let z = try #require(nativeZoom(properties))
        let centre = try #require(middle(properties))
        let (x, y) = MercatorGrid.tile(longitude: centre.longitude, latitude: centre.latitude, zoom: z)
        let refused = try await map.alice.send("GET", MapServer.tilePath(item.catalog, item: item.id, z: z, x: x, y: y, query: "bands=4"))
        #expect(refused.status == 400 && refused.errorCode == "invalid_parameter"
            && (refused.object["message"] as? String)?.hasPrefix("bands:") == true, "\(refused.status) \(refused.object)")
        let warp = try ReferenceWarp.tile(item.storedPath, z: z, x: x, y: y)
        try #require(warp.bands.count == 4)
        let (_, tile) = try await map.tile(MapServer.tilePath(item.catalog, item: item.id, z: z, x: x, y: y, query: "bands=3,2,1"))
        expectTile(tile, equals: RasterImage(width: 256, height: 256, bands: [warp.bands[2], warp.bands[1], warp.bands[0], warp.bands[3]]),
                   "bands=3,2,1 of alpha.tif")
    }

    @Test("bands picks and orders bands; rescale stretches once or per band; colormap colours one band")
    func renderParameters() async throws {
        let map = try MapServer.shared()
        let item = try map.item("rgb")
        let (x, y) = MercatorGrid.tile(longitude: Self.rgbCorner.longitude, latitude: Self.rgbCorner.latitude, zoom: 9)
        let warp = try ReferenceWarp.tile(item.storedPath, z: 9, x: x, y: y)
        try #require(warp.bands.count == 4)
        let alpha = warp.bands[3]
        func check(_ query: String, _ expected: [[Float]], tolerance: Float = 0) async throws {
            for path in [MapServer.tilePath(item.catalog, item: item.id, z: 9, x: x, y: y, query: query),
                         MapServer.tilePath(item.catalog, z: 9, x: x, y: y, query: query)] {
                let (_, tile) = try await map.tile(path)
                #expect(PlaneDifference(tile.bands[3], alpha, width: 256).count == 0, "\(query) alpha")
                for channel in 0..<3 {
                    let difference = PlaneDifference(tile.bands[channel], expected[channel], width: 256, mask: alpha.map { $0 > 0 },
                                                     tolerance: tolerance)
                    #expect(difference.count == 0, "\(path) channel \(channel): \(difference)")
                }
            }
        }
        try await check("bands=3,2,1", [warp.bands[2], warp.bands[1], warp.bands[0]])
        try await check("bands=2", [warp.bands[1], warp.bands[1], warp.bands[1]])
        let once = warp.bands.prefix(3).map { $0.map { stretched($0, 50, 100) } }
        try await check("rescale=50,100", once, tolerance: 1)
        let perBand = [warp.bands[2].map { stretched($0, 0, 255) }, warp.bands[1].map { stretched($0, 0, 128) },
                       warp.bands[0].map { stretched($0, 0, 64) }]
        try await check("bands=3,2,1&rescale=0,255,0,128,0,64", perBand, tolerance: 1)
        let viridis = try #require(Colormap.named("viridis"))
        // Published ends of viridis: #440154 and #FDE725.
        #expect(viridis.colors.first == Colormap.RGB(red: 0x44, green: 0x01, blue: 0x54))
        #expect(viridis.colors.last == Colormap.RGB(red: 0xFD, green: 0xE7, blue: 0x25))
        let green = warp.bands[1]
        let coloured = [green.map { Float(viridis.colors[Int($0)].red) }, green.map { Float(viridis.colors[Int($0)].green) },
                        green.map { Float(viridis.colors[Int($0)].blue) }]
        try await check("bands=2&colormap=viridis", coloured)
        let reversed = try #require(Colormap.named("viridis_r"))
        let stretchedGreen = green.map { Int(stretched($0, 0, 100)) }
        try await check("bands=2&colormap=viridis_r&rescale=0,100",
                        [stretchedGreen.map { Float(reversed.colors[$0].red) }, stretchedGreen.map { Float(reversed.colors[$0].green) },
                         stretchedGreen.map { Float(reversed.colors[$0].blue) }], tolerance: 0)
    }

    @Test("past_180.tif (170°E to 190°E) shows on the west edge (x = 0) and the east edge (x = 2^z - 1); the middle is empty")
    func antimeridian() async throws {
        let map = try MapServer.shared()
        let item = try map.item("world")
        let source = try RasterImage(path: item.storedPath)
        try #require(source.width == 200 && source.height == 100, "the stored COG keeps the 0.1° grid")
        let z = 3
        let (_, row) = MercatorGrid.tile(longitude: 180, latitude: -15, zoom: z)
        for x in [0, (1 << z) - 1] {
            for path in [MapServer.tilePath(item.catalog, item: item.id, z: z, x: x, y: row),
                         MapServer.tilePath(item.catalog, z: z, x: x, y: row)] {
                let (_, tile) = try await map.tile(path)
                let bounds = MercatorGrid.bounds(z: z, x: x, y: row)
                let pixel = (bounds[2] - bounds[0]) / 256
                var inside = 0, shownInside = 0, shownOutside = 0, sameValue = 0
                for tileRow in 0..<256 {
                    for column in 0..<256 {
                        let point = MercatorGrid.degrees(x: bounds[0] + (Double(column) + 0.5) * pixel,
                                                         y: bounds[3] - (Double(tileRow) + 0.5) * pixel)
                        // Longitude as the raster counts it: 170 to 190.
                        let longitude = point.longitude < 0 ? point.longitude + 360 : point.longitude
                        let index = tileRow * 256 + column
                        let shown = tile.bands[3][index] > 0
                        // Well inside the raster (two source pixels from its edges) or well outside.
                        if longitude > 170.2, longitude < 189.8, point.latitude < -10.2, point.latitude > -19.8 {
                            inside += 1
                            if shown { shownInside += 1 }
                            // Nearest neighbour: the source pixel under the tile pixel's centre.
                            let sourceColumn = Int((longitude - 170) / 0.1), sourceRow = Int((-10 - point.latitude) / 0.1)
                            if tile.bands[0][index] == source.bands[0][sourceRow * 200 + sourceColumn] { sameValue += 1 }
                        } else if longitude < 169.8 || longitude > 190.2 || point.latitude > -9.8 || point.latitude < -20.2 {
                            if shown { shownOutside += 1 }
                        }
                    }
                }
                #expect(inside > 1000, "\(path): \(inside) pixels inside")
                #expect(shownInside == inside, "\(path): \(shownInside) of \(inside) pixels inside the raster show")
                #expect(shownOutside == 0, "\(path): \(shownOutside) pixels outside the raster show")
                #expect(Double(sameValue) >= 0.98 * Double(inside), "\(path): \(sameValue) of \(inside) pixels have the source's value")
            }
        }
        var emptyTiles = Set<Data>()
        for x in 1..<((1 << z) - 1) {
            for path in [MapServer.tilePath(item.catalog, item: item.id, z: z, x: x, y: row), MapServer.tilePath(item.catalog, z: z, x: x, y: row)] {
                let (reply, tile) = try await map.tile(path)
                #expect(tile.count(band: 3) { $0 > 0 } == 0, "\(path) is not empty")
                emptyTiles.insert(reply.data)
            }
        }
        #expect(emptyTiles.count == 1, "empty tiles of one format and size are the same bytes")
    }

    @Test("antimeridian.tif (PDC Mercator across 180°) shows on both edges of the map, each tile equal to gdalwarp's; the middle is empty")
    func projectedAcrossTheAntimeridian() async throws {
        let map = try MapServer.shared()
        let item = try map.item("fiji")
        for z in [5, 6] {
            let (_, row) = MercatorGrid.tile(longitude: 180, latitude: -17.3, zoom: z)
            for x in [0, (1 << z) - 1] {
                let warp = try ReferenceWarp.tile(item.storedPath, z: z, x: x, y: row)
                for path in [MapServer.tilePath(item.catalog, item: item.id, z: z, x: x, y: row),
                             MapServer.tilePath(item.catalog, z: z, x: x, y: row)] {
                    let (_, tile) = try await map.tile(path)
                    expectTile(tile, equals: warp, path)
                    #expect(tile.count(band: 3) { $0 > 0 } > 1000, "\(path) shows little")
                }
            }
            let (_, middle) = try await map.tile(MapServer.tilePath(item.catalog, item: item.id, z: z, x: 1 << (z - 1), y: row))
            #expect(middle.count(band: 3) { $0 > 0 } == 0)
        }
    }

    @Test("the mosaic draws the newest item on top by default; order=ATTR asc|desc puts the first on top; condition picks items")
    func mosaicOrderAndCondition() async throws {
        let map = try MapServer.shared()
        let catalog = try map.item("orderA").catalog
        let place = MapPlaces.order
        /// The grey values of the tile's west and east halves (each must be one value).
        func halves(_ query: String) async throws -> (west: Float?, east: Float?) {
            let (_, tile) = try await map.tile(MapServer.tilePath(catalog, z: place.z, x: place.x, y: place.y, query: query))
            #expect(tile.count(band: 3) { $0 != 255 } == 0, "\(query): the tile is not opaque")
            #expect(tile.bands[0] == tile.bands[1] && tile.bands[1] == tile.bands[2], "\(query): not grey")
            var west = Set<Float>(), east = Set<Float>()
            for row in 0..<256 {
                for column in 0..<256 {
                    if column < 128 {
                        west.insert(tile.bands[0][row * 256 + column])
                    } else {
                        east.insert(tile.bands[0][row * 256 + column])
                    }
                }
            }
            #expect(west.count == 1 && east.count == 1, "\(query): west \(west.sorted()), east \(east.sorted())")
            return (west.first, east.first)
        }
        // A (60, rank 9, oldest) and B (120, rank 20) cover the tile; C (180, rank 10, newest) its west half.
        var result = try await halves("")
        #expect(result.west == 180 && result.east == 120, "default (newest on top): \(result)")
        result = try await halves("order=rank%20asc")
        #expect(result.west == 60 && result.east == 60, "rank asc (9 before 10 before 20, as numbers): \(result)")
        result = try await halves("order=rank+desc")
        #expect(result.west == 120 && result.east == 120, "rank desc: \(result)")
        result = try await halves("order=rank")
        #expect(result.west == 60 && result.east == 60, "rank (ascending by default): \(result)")
        result = try await halves("condition=rank%20%3E%3D%2010")
        #expect(result.west == 180 && result.east == 120, "rank >= 10, newest on top: \(result)")
        result = try await halves("condition=rank%20%3E%3D%2010&order=rank%20desc")
        #expect(result.west == 120 && result.east == 120, "rank >= 10 by rank desc: \(result)")
        result = try await halves("condition=rank%20%3C%3D%2010&order=rank%20desc")
        #expect(result.west == 180 && result.east == 60, "rank <= 10 by rank desc: \(result)")
        result = try await halves("order=createdAt%20asc")
        #expect(result.west == 60 && result.east == 60, "oldest on top: \(result)")
        // A condition no item meets leaves the tile empty.
        let (_, none) = try await map.tile(MapServer.tilePath(catalog, z: place.z, x: place.x, y: place.y, query: "condition=rank%20%3E%20100"))
        #expect(none.count(band: 3) { $0 > 0 } == 0)
    }

    @Test("png, webp and jpg tiles: each format's signature and type; webp keeps the alpha; jpg has none; the same picture")
    func formats() async throws {
        let map = try MapServer.shared()
        let item = try map.item("rgb")
        let (x, y) = MercatorGrid.tile(longitude: Self.rgbCorner.longitude, latitude: Self.rgbCorner.latitude, zoom: 9)
        let (pngReply, png) = try await map.tile(MapServer.tilePath(item.catalog, z: 9, x: x, y: y))
        let (webpReply, webp) = try await map.tile(MapServer.tilePath(item.catalog, z: 9, x: x, y: y, ext: "webp"))
        let (jpgReply, jpg) = try await map.tile(MapServer.tilePath(item.catalog, z: 9, x: x, y: y, ext: "jpg"))
        #expect(pngReply.headers["content-type"] == "image/png" && pngReply.data.starts(with: [0x89, 0x50, 0x4E, 0x47]))
        #expect(webpReply.headers["content-type"] == "image/webp" && webpReply.data.starts(with: Array("RIFF".utf8))
            && webpReply.data.dropFirst(8).starts(with: Array("WEBP".utf8)))
        #expect(jpgReply.headers["content-type"] == "image/jpeg" && jpgReply.data.starts(with: [0xFF, 0xD8, 0xFF]))
        try #require(png.bands.count == 4 && webp.bands.count == 4 && jpg.bands.count == 3,
                     "bands: png \(png.bands.count), webp \(webp.bands.count), jpg \(jpg.bands.count)")
        let shown = png.bands[3].map { $0 > 0 }
        #expect(shown.contains(true) && shown.contains(false), "the tile chosen holds scene and collar")
        #expect(PlaneDifference(webp.bands[3], png.bands[3], width: 256).count == 0, "webp alpha")
        for (name, image) in [("webp", webp), ("jpg", jpg)] {
            // Lossy, but the same picture: a small mean difference where the scene shows.
            var total: Float = 0
            var count = 0
            for channel in 0..<3 {
                for index in 0..<png.pixelCount where shown[index] {
                    total += abs(image.bands[channel][index] - png.bands[channel][index])
                    count += 1
                }
            }
            #expect(total / Float(count) < 8, "\(name) differs from png by \(total / Float(count)) on average")
        }
        // JPEG has no transparency: where nothing is drawn it is black.
        var hidden: Float = 0
        var hiddenCount = 0
        for channel in 0..<3 {
            for index in 0..<png.pixelCount where !shown[index] {
                hidden += jpg.bands[channel][index]
                hiddenCount += 1
            }
        }
        #expect(hidden / Float(max(1, hiddenCount)) < 8, "jpg where nothing is drawn: \(hidden / Float(max(1, hiddenCount))) on average")
    }
}
