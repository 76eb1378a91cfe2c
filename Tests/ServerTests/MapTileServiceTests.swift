import Foundation
#if canImport(FoundationNetworking)
import FoundationNetworking
#endif
import TestSupport
import Testing

private enum Doomed {
    static let tile = (z: 8, x: 140, y: 100)
    static var bounds: [Double] { MercatorGrid.bounds(z: tile.z, x: tile.x, y: tile.y) }
}

/// The map routes as a client meets them: authentication (with `access_token` on map routes only),
/// ETags and revalidation, deletion, empty tiles, parameter errors, TileJSON and WMTS read by GDAL.
@Suite("map tiles: service", .mapServer([
    MapImport(key: "rgb", catalog: "alice.rgb", file: MapRasters.real("RGB.byte.tif")),
    MapImport(key: "grey", catalog: "alice.grey", file: MapRasters.real("byte.tif")),
    MapImport(key: "world", catalog: "alice.world", file: MapRasters.sample("past_180.tif")),
    MapImport(key: "victim", catalog: "alice.victim", file: MapRasters.sample("paletted.tif")),
    MapImport(key: "doomedOld", catalog: "alice.doomed", file: MapRasters.constant(50, name: "old.tif", bounds: Doomed.bounds)),
    MapImport(key: "doomedNew", catalog: "alice.doomed", file: MapRasters.constant(200, name: "new.tif", bounds: Doomed.bounds)),
]))
struct MapTileServiceTests {
    /// A tile of RGB.byte.tif at its native zoom (9) holding scene and collar.
    static let rgbTile = (z: 9, x: 144, y: 218)

    /// The map routes of alice's RGB catalog.
    static func mapPaths(_ map: MapServer) throws -> [String] {
        let item = try map.item("rgb")
        let (z, x, y) = rgbTile
        return [MapServer.tilePath(item.catalog, z: z, x: x, y: y),
                MapServer.tilePath(item.catalog, item: item.id, z: z, x: x, y: y, ext: "webp"),
                "/layers/\(item.catalog)/tilejson.json",
                "/layers/\(item.catalog)/features/\(item.id)/tilejson.json",
                "/layers/\(item.catalog)/WMTSCapabilities.xml"]
    }

    static func with(_ path: String, _ query: String) -> String {
        path + (path.contains("?") ? "&" : "?") + query
    }

    @Test("map routes take a Bearer token, the cookie or ?access_token; 401 without or with a bad one; 404 for another user's catalog")
    func authentication() async throws {
        let map = try MapServer.shared()
        let token = map.aliceToken
        for path in try Self.mapPaths(map) {
            let anonymous = try await map.anonymous.send("GET", path)
            #expect(anonymous.status == 401 && anonymous.errorCode == "unauthorized", "\(path) without a token: \(anonymous.status)")
            #expect(try await map.anonymous.send("GET", Self.with(path, "access_token=not-a-token")).status == 401, "\(path)")
            #expect(try await map.anonymous.send("GET", path, headers: ["Authorization": "Bearer nope"]).status == 401, "\(path)")
            #expect(try await map.alice.send("GET", path).status == 200, "\(path) with Bearer")
            #expect(try await map.anonymous.send("GET", path, headers: ["Cookie": "token=\(token)"]).status == 200, "\(path) with the cookie")
            #expect(try await map.anonymous.send("GET", Self.with(path, "access_token=\(token)")).status == 200, "\(path) with access_token")
            // bob's own token, however it comes, finds nothing of alice's.
            let bob = try await map.bob.send("GET", path)
            #expect(bob.status == 404 && bob.errorCode == "not_found", "\(path) as bob: \(bob.status)")
            let bobQuery = try await map.anonymous.send("GET", Self.with(path, "access_token=\(map.bob.token ?? "")"))
            #expect(bobQuery.status == 404, "\(path) as bob with access_token: \(bobQuery.status)")
        }
        // alice's own catalog that does not exist, and an item that does not exist.
        #expect(try await map.alice.send("GET", MapServer.tilePath("alice.nothing", z: 0, x: 0, y: 0)).status == 404)
        #expect(try await map.alice.send("GET", "/layers/alice.nothing/tilejson.json").status == 404)
        #expect(try await map.alice.send("GET", "/layers/alice.nothing/WMTSCapabilities.xml").status == 404)
        #expect(try await map.alice.send("GET", MapServer.tilePath("alice.rgb", item: UUID().uuidString, z: 0, x: 0, y: 0)).status == 404)
        // An item of another catalog is not an item of this one.
        let grey = try map.item("grey")
        #expect(try await map.alice.send("GET", MapServer.tilePath("alice.rgb", item: grey.id, z: 0, x: 0, y: 0)).status == 404)
        #expect(try await map.alice.send("GET", "/layers/alice.rgb/features/\(grey.id)/tilejson.json").status == 404)

        // A token in a URL ends with its session.
        let second = try await APIClient.login(map.server, as: "alice")
        let path = Self.with(try Self.mapPaths(map)[0], "access_token=\(second.token ?? "")")
        #expect(try await map.anonymous.send("GET", path).status == 200)
        #expect(try await second.send("POST", "/account/logout").status == 200)
        #expect(try await map.anonymous.send("GET", path).status == 401)
    }

    @Test("?access_token is refused on every route that is not a map route")
    func accessTokenOnlyOnMapRoutes() async throws {
        let map = try MapServer.shared()
        let token = "access_token=\(map.aliceToken)"
        let rgb = try map.item("rgb")
        let victim = try map.item("victim")
        let gets = ["/layers", "/layers/alice.rgb", "/layers/alice.rgb/features", "/layers/alice.rgb/features/\(rgb.id)",
                    "/layers/alice.rgb/features/\(rgb.id)/raster", "/upload", "/scheduler/tasks"]
        for path in gets {
            #expect(try await map.anonymous.send("GET", path + "?" + token).status == 401, "GET \(path)")
            // The same route works for alice with a header: the 401 is the query token's.
            #expect(try await map.alice.send("GET", path).status == 200, "GET \(path) with Bearer")
        }
        let head = try await map.anonymous.send("HEAD", "/layers/alice.rgb/features/\(rgb.id)/raster?" + token)
        #expect(head.status == 401, "HEAD raster: \(head.status)")
        // Nothing changes through a token in a URL.
        let delete = try await map.anonymous.send("DELETE", "/layers/alice.victim/features/\(victim.id)?" + token)
        #expect(delete.status == 401)
        #expect(try await map.anonymous.send("DELETE", "/layers/alice.victim?" + token).status == 401)
        let session = try await APIClient.login(map.server, as: "alice")
        #expect(try await map.anonymous.send("POST", "/account/logout?access_token=\(session.token ?? "")").status == 401)
        #expect(try await session.send("GET", "/upload").status == 200, "the session survived a logout by URL token")
        #expect(try await map.alice.send("GET", "/layers/alice.victim/features/\(victim.id)").status == 200, "the item survived")
        #expect(try await map.alice.send("GET", "/layers/alice.victim").status == 200, "the catalog survived")
    }

    @Test("?access_token is refused on non-map routes whose path only looks like a map route's")
    func accessTokenOnLookalikePaths() async throws {
        let map = try MapServer.shared()
        let token = "access_token=\(map.aliceToken)"
        // GET /layers/{name}/features/{id} with ids that end like map routes: a feature route all the same.
        for id in ["tilejson.json", "WMTSCapabilities.xml"] {
            let reply = try await map.anonymous.send("GET", "/layers/alice.rgb/features/\(id)?" + token)
            #expect(reply.status == 401, "GET /layers/alice.rgb/features/\(id)?access_token=… gave \(reply.status), not 401")
        }
    }

    @Test("every tile has an ETag; If-None-Match with it is 304; Cache-Control is private, no-cache; the tag follows the request")
    func etags() async throws {
        let map = try MapServer.shared()
        let item = try map.item("rgb")
        let (z, x, y) = Self.rgbTile
        let paths = [MapServer.tilePath(item.catalog, z: z, x: x, y: y),
                     MapServer.tilePath(item.catalog, item: item.id, z: z, x: x, y: y),
                     MapServer.tilePath(item.catalog, z: 3, x: 0, y: 0),
                     MapServer.tilePath(item.catalog, item: item.id, z: 3, x: 0, y: 0)]
        var tags = Set<String>()
        for path in paths {
            let first = try await map.alice.send("GET", path)
            #expect(first.status == 200 && !first.data.isEmpty)
            #expect(first.headers["cache-control"] == "private, no-cache", "\(path)")
            let etag = try #require(first.headers["etag"], "\(path) has no ETag")
            #expect(etag.hasPrefix("\"") && etag.hasSuffix("\"") && etag.count > 2, "a strong entity tag: \(etag)")
            tags.insert(etag)
            let again = try await map.alice.send("GET", path, headers: ["If-None-Match": etag])
            #expect(again.status == 304 && again.data.isEmpty, "\(path) revalidated: \(again.status)")
            #expect(again.headers["etag"] == etag && again.headers["cache-control"] == "private, no-cache")
            let other = try await map.alice.send("GET", path, headers: ["If-None-Match": "\"something-else\""])
            #expect(other.status == 200 && other.data == first.data, "\(path) with a stale tag")
            // The same tile again has the same tag (it does not depend on time or a render).
            #expect(try await map.alice.send("GET", path).headers["etag"] == etag)
        }
        #expect(tags.count == paths.count, "mosaic and item tiles, full and empty, have tags of their own")
        // Anything that changes the picture changes the tag.
        let base = MapServer.tilePath(item.catalog, z: z, x: x, y: y)
        let variants = [MapServer.tilePath(item.catalog, z: z, x: x, y: y, ext: "webp"),
                        MapServer.tilePath(item.catalog, z: z, x: x, y: y, retina: true),
                        base + "?bands=3,2,1", base + "?rescale=0,100", base + "?resampling=bilinear",
                        base + "?bands=1&colormap=viridis", base + "?order=createdAt%20asc",
                        base + "?condition=sourceFile%20%3D%20%27RGB.byte.tif%27"]
        var variantTags = Set<String>()
        for path in variants {
            let reply = try await map.alice.send("GET", path)
            #expect(reply.status == 200, "\(path): \(reply.status)")
            variantTags.insert(reply.headers["etag"] ?? "")
            let revalidated = try await map.alice.send("GET", path, headers: ["If-None-Match": reply.headers["etag"] ?? ""])
            #expect(revalidated.status == 304, "\(path) revalidated: \(revalidated.status)")
        }
        #expect(variantTags.count == variants.count && variantTags.isDisjoint(with: tags), "\(variantTags)")
    }

    @Test("deleting an item changes the mosaic tile and its ETag at once; deleting the catalog makes its map routes 404")
    func deletion() async throws {
        let map = try MapServer.shared()
        let old = try map.item("doomedOld")
        let new = try map.item("doomedNew")
        let path = MapServer.tilePath(old.catalog, z: Doomed.tile.z, x: Doomed.tile.x, y: Doomed.tile.y)
        let newItemPath = MapServer.tilePath(new.catalog, item: new.id, z: Doomed.tile.z, x: Doomed.tile.x, y: Doomed.tile.y)
        func grey(_ image: RasterImage) -> Set<Float> { Set(image.bands[0]) }

        let (before, beforeImage) = try await map.tile(path)
        #expect(grey(beforeImage) == [200] && beforeImage.count(band: 3) { $0 == 255 } == 65536, "the newer item on top")
        let firstTag = try #require(before.headers["etag"])
        #expect(try await map.alice.send("GET", path, headers: ["If-None-Match": firstTag]).status == 304)
        #expect(try await map.alice.send("GET", newItemPath).status == 200)

        #expect(try await map.alice.send("DELETE", "/layers/\(new.catalog)/features/\(new.id)").status == 200)
        let afterOne = try await map.alice.send("GET", path, headers: ["If-None-Match": firstTag])
        #expect(afterOne.status == 200, "the old tag still matched after the item was deleted: \(afterOne.status)")
        let secondTag = try #require(afterOne.headers["etag"])
        #expect(secondTag != firstTag)
        let afterOneImage = try RasterImage(encoded: afterOne.data, fileExtension: "png").rgba
        #expect(grey(afterOneImage) == [50], "the deleted item still shows: \(grey(afterOneImage).sorted())")
        let gone = try await map.alice.send("GET", newItemPath)
        #expect(gone.status == 404 && gone.errorCode == "not_found", "the deleted item's own tile: \(gone.status)")

        #expect(try await map.alice.send("DELETE", "/layers/\(old.catalog)/features/\(old.id)").status == 200)
        let afterBoth = try await map.alice.send("GET", path, headers: ["If-None-Match": secondTag])
        #expect(afterBoth.status == 200 && afterBoth.headers["etag"] != secondTag)
        let emptyImage = try RasterImage(encoded: afterBoth.data, fileExtension: "png").rgba
        #expect(emptyImage.count(band: 3) { $0 > 0 } == 0, "a catalog with no items draws nothing")
        let elsewhere = try await map.alice.send("GET", MapServer.tilePath("alice.rgb", z: 3, x: 0, y: 0))
        #expect(afterBoth.data == elsewhere.data, "the empty tile is the shared one")

        // An item imported by the command line beside the running server shows at once, with a new tag.
        let thirdTag = try #require(afterBoth.headers["etag"])
        let added = try TileBinary.run(["import", "--data-dir", map.server.dataDirectory, "--catalog", old.catalog,
                                        try MapRasters.constant(90, name: "added.tif", bounds: Doomed.bounds)(map.scratch)])
        #expect(added.status == 0, "\(added.stderr)")
        let afterImport = try await map.alice.send("GET", path, headers: ["If-None-Match": thirdTag])
        #expect(afterImport.status == 200 && afterImport.headers["etag"] != thirdTag, "after an import: \(afterImport.status)")
        if afterImport.status == 200 {
            #expect(grey(try RasterImage(encoded: afterImport.data, fileExtension: "png").rgba) == [90])
        }

        #expect(try await map.alice.send("DELETE", "/layers/\(old.catalog)").status == 200)
        for deleted in [path, "/layers/\(old.catalog)/tilejson.json", "/layers/\(old.catalog)/WMTSCapabilities.xml"] {
            let reply = try await map.alice.send("GET", deleted, headers: ["If-None-Match": secondTag])
            #expect(reply.status == 404 && reply.errorCode == "not_found", "\(deleted) after the catalog was deleted: \(reply.status)")
        }
    }

    @Test("a tile with nothing under it is 200 and fully transparent, the same bytes for every empty tile of a format and size")
    func emptyTiles() async throws {
        let map = try MapServer.shared()
        let rgb = try map.item("rgb")
        let grey = try map.item("grey")
        for (ext, retina) in [("png", false), ("png", true), ("webp", false), ("webp", true), ("jpg", false)] {
            let paths = [MapServer.tilePath(rgb.catalog, z: 3, x: 0, y: 0, ext: ext, retina: retina),
                         MapServer.tilePath(rgb.catalog, z: 12, x: 100, y: 200, ext: ext, retina: retina),
                         MapServer.tilePath(rgb.catalog, item: rgb.id, z: 9, x: 10, y: 10, ext: ext, retina: retina),
                         // Inside the item's bbox at zoom 0 is the whole world; at zoom 7, next to it.
                         MapServer.tilePath(rgb.catalog, item: rgb.id, z: 7, x: 37, y: 54, ext: ext, retina: retina),
                         MapServer.tilePath(grey.catalog, z: 5, x: 20, y: 20, ext: ext, retina: retina)]
            var bodies = Set<Data>()
            for path in paths {
                let (reply, image) = try await map.tile(path)
                bodies.insert(reply.data)
                #expect(image.width == (retina ? 512 : 256) && image.height == image.width, "\(path)")
                if ext == "jpg" {
                    #expect(image.count(band: 0) { $0 > 0 } == 0, "\(path): an empty JPEG is black")
                } else {
                    #expect(image.count(band: 3) { $0 > 0 } == 0, "\(path) is not fully transparent")
                }
            }
            #expect(bodies.count == 1, "\(ext)\(retina ? " @2x" : ""): \(bodies.count) different empty tiles")
        }
    }

    @Test("a bad parameter is 400 invalid_parameter, its message starting with the parameter")
    func badParameters() async throws {
        let map = try MapServer.shared()
        let rgb = try map.item("rgb")
        let grey = try map.item("grey")
        let good = (z: 9, x: 144, y: 218)
        let cases: [(String, String)] = [
            ("bands=0", "bands"), ("bands=a", "bands"), ("bands=1,2", "bands"), ("bands=1,,3", "bands"),
            ("bands=1,2,3,4", "bands"), ("bands=4", "bands"), ("bands=3,2,5", "bands"),
            ("rescale=1", "rescale"), ("rescale=5,1", "rescale"), ("rescale=a,b", "rescale"), ("rescale=0,nan", "rescale"),
            ("rescale=0,inf", "rescale"), ("bands=1,2,3&rescale=0,1,0,1", "rescale"),
            // Two or four ranges for the default three bands, which once crashed the server.
            ("rescale=0,100,0,200", "rescale"), ("rescale=0,1,0,1,0,1,0,1", "rescale"),
            ("colormap=nope", "colormap"), ("colormap=viridis&bands=1,2,3", "colormap"), ("resampling=lanczos", "resampling"),
        ]
        for (query, parameter) in cases {
            for path in [MapServer.tilePath(rgb.catalog, z: good.z, x: good.x, y: good.y, query: query),
                         MapServer.tilePath(rgb.catalog, item: rgb.id, z: good.z, x: good.x, y: good.y, query: query)] {
                expectInvalid(try await map.alice.send("GET", path), parameter, path)
            }
        }
        // Band 2 of a one-band raster.
        expectInvalid(try await map.alice.send("GET", MapServer.tilePath(grey.catalog, item: grey.id, z: 12, x: 709, y: 1637, query: "bands=2")),
                      "bands", "bands=2 of byte.tif")
        let coordinates: [(String, String)] = [
            ("/25/0/0.png", "z"), ("/-1/0/0.png", "z"), ("/a/0/0.png", "z"), ("/3/8/0.png", "x"), ("/3/-1/0.png", "x"),
            ("/3/a/0.png", "x"), ("/3/0/8.png", "y"), ("/3/0/a.png", "y"), ("/3/0/-1.png", "y"), ("/3/0/0@3x.png", "y"),
            ("/3/0/99999999999.png", "y"), ("/3/0/0.gif", "format"), ("/3/0/0", "format"), ("/3/0/0.", "format"),
        ]
        for (suffix, parameter) in coordinates {
            for base in ["/layers/\(rgb.catalog)/tiles", "/layers/\(rgb.catalog)/features/\(rgb.id)/tiles"] {
                expectInvalid(try await map.alice.send("GET", base + suffix), parameter, base + suffix)
            }
        }
        // The mosaic's own parameters.
        let mosaic = MapServer.tilePath(rgb.catalog, z: good.z, x: good.x, y: good.y)
        for query in ["order=nope", "order=sizeBytes%20sideways", "order=sizeBytes%20asc%20desc"] {
            expectInvalid(try await map.alice.send("GET", mosaic + "?" + query), "order", query)
        }
        #expect(try await map.alice.send("GET", mosaic + "?order=sizeBytes%20desc").status == 200)
        let condition = try await map.alice.send("GET", mosaic + "?condition=1%3D1%3B%20DROP%20TABLE%20x")
        #expect(condition.status == 400 && (condition.object["message"] as? String)?.hasPrefix("condition:") == true,
                "\(condition.status) \(condition.object)")
        #expect(try await map.alice.send("GET", mosaic).status == 200, "the server is still up")
        // TileJSON and WMTS refuse what every tile URL they gave out would fail with.
        for route in ["tilejson.json", "features/\(rgb.id)/tilejson.json", "WMTSCapabilities.xml"] {
            expectInvalid(try await map.alice.send("GET", "/layers/\(rgb.catalog)/\(route)?bands=abc"), "bands", route)
            expectInvalid(try await map.alice.send("GET", "/layers/\(rgb.catalog)/\(route)?order=nope"), "order", route)
        }
        // A malformed query string on a map route is the client's mistake, not a missing token.
        let malformed = try await map.anonymous.send("GET", mosaic + "?access_token=\(map.aliceToken)&bands=%2")
        #expect(malformed.status == 400, "\(malformed.status)")
        // The JPEG spelling and upper case are the same formats.
        #expect(try await map.alice.send("GET", MapServer.tilePath(rgb.catalog, z: good.z, x: good.x, y: good.y, ext: "jpeg")).status == 200)
    }

    @Test("TileJSON 3.0.0 of a catalog and of an item: URLs that work as they are, with access_token only when it came with one")
    func tileJSON() async throws {
        let map = try MapServer.shared()
        let rgb = try map.item("rgb")
        let properties = try await map.properties(rgb)
        let bbox = try #require(properties["bbox"] as? [Double])
        let base = map.baseURL

        let plain = try await map.alice.send("GET", "/layers/\(rgb.catalog)/tilejson.json")
        #expect(plain.status == 200 && plain.headers["content-type"]?.hasPrefix("application/json") == true)
        let document = plain.object
        #expect(document["tilejson"] as? String == "3.0.0" && document["scheme"] as? String == "xyz")
        #expect(document["tiles"] as? [String] == ["\(base)/layers/alice.rgb/tiles/{z}/{x}/{y}.png"], "\(document)")
        #expect(document["minzoom"] as? Int == 0 && document["maxzoom"] as? Int == 9, "the first zoom as fine as 300 m pixels at 24.5°N")
        let bounds = try #require(document["bounds"] as? [Double])
        #expect(bounds.count == 4 && zip(bounds, bbox).allSatisfy { abs($0 - $1) < 1e-6 }, "\(bounds) vs the item's \(bbox)")
        let center = try #require(document["center"] as? [Double])
        #expect(center.count == 3 && center[0] > bounds[0] && center[0] < bounds[2] && center[1] > bounds[1] && center[1] < bounds[3])
        // The cookie is a header too: no token in the URLs.
        let cookie = try await map.anonymous.send("GET", "/layers/\(rgb.catalog)/tilejson.json", headers: ["Cookie": "token=\(map.aliceToken)"])
        #expect(cookie.object["tiles"] as? [String] == document["tiles"] as? [String])

        // With access_token and render parameters: the URL carries both and works without headers.
        let query = "bands=3,2,1&resampling=bilinear&condition=sourceFile%20%3D%20%27RGB.byte.tif%27&order=createdAt%20desc"
        let withToken = try await map.anonymous.send("GET", "/layers/\(rgb.catalog)/tilejson.json?\(query)&access_token=\(map.aliceToken)")
        #expect(withToken.status == 200)
        let template = try #require((withToken.object["tiles"] as? [String])?.first)
        let url = try #require(URLComponents(string: template.replacingOccurrences(of: "{z}", with: "9")
            .replacingOccurrences(of: "{x}", with: "144").replacingOccurrences(of: "{y}", with: "218")))
        #expect(url.path == "/layers/alice.rgb/tiles/9/144/218.png" && template.hasPrefix(base + "/"))
        // Form decoding, as the server reads queries: `+` is a space.
        let items = Dictionary((url.queryItems ?? []).map { ($0.name, ($0.value ?? "").replacingOccurrences(of: "+", with: " ")) },
                               uniquingKeysWith: { $1 })
        #expect(items["access_token"] == map.aliceToken, "\(template)")
        #expect(items["bands"] == "3,2,1" && items["resampling"] == "bilinear" && items["order"] == "createdAt desc"
            && items["condition"] == "sourceFile = 'RGB.byte.tif'", "\(template)")
        let viaTemplate = try await APIClient(baseURL: "").send("GET", try #require(url.string))
        let viaHeader = try await map.alice.send("GET", MapServer.tilePath(rgb.catalog, z: 9, x: 144, y: 218, query: query))
        #expect(viaTemplate.status == 200 && viaTemplate.data == viaHeader.data, "the template's tile: \(viaTemplate.status)")
        let plainTile = try await map.alice.send("GET", MapServer.tilePath(rgb.catalog, z: 9, x: 144, y: 218))
        #expect(viaTemplate.data != plainTile.data, "the parameters were carried into the URL")

        // One item's TileJSON.
        let single = try await map.anonymous.send("GET", "/layers/\(rgb.catalog)/features/\(rgb.id)/tilejson.json?access_token=\(map.aliceToken)")
        #expect(single.status == 200 && single.object["tilejson"] as? String == "3.0.0")
        #expect((single.object["tiles"] as? [String])?.first
            == "\(base)/layers/alice.rgb/features/\(rgb.id)/tiles/{z}/{x}/{y}.png?access_token=\(map.aliceToken)")
        #expect(single.object["maxzoom"] as? Int == 9)
        // Behind a TLS proxy, the URLs are https.
        let proxied = try await map.alice.send("GET", "/layers/\(rgb.catalog)/tilejson.json", headers: ["X-Forwarded-Proto": "https"])
        #expect((proxied.object["tiles"] as? [String])?.first?.hasPrefix("https://") == true)
    }

    @Test("WMTS: GDAL opens the capabilities with access_token in EPSG:3857 at the layer's deepest zoom and reads tiles through it")
    func wmtsReadByGDAL() async throws {
        let map = try MapServer.shared()
        let rgb = try map.item("rgb")
        let token = map.aliceToken
        let capabilities = "WMTS:\(map.baseURL)/layers/\(rgb.catalog)/WMTSCapabilities.xml?access_token=\(token)"
        let info = try GDALTool.info(capabilities)
        #expect((info["driverShortName"] as? String) == "WMTS")
        let wkt = ((info["coordinateSystem"] as? [String: Any])?["wkt"] as? String) ?? ""
        #expect(wkt.contains("ID[\"EPSG\",3857]"), "\(wkt.prefix(200))")
        let geoTransform = try #require(info["geoTransform"] as? [Double])
        let maxZoom = 9
        #expect(abs(geoTransform[1] - MercatorGrid.resolution(zoom: maxZoom)) < 1e-6 && abs(geoTransform[5] + MercatorGrid.resolution(zoom: maxZoom)) < 1e-6,
                "pixel size \(geoTransform[1]) at zoom \(maxZoom)")
        let size = try #require(info["size"] as? [Int])
        #expect(size[0] > 0 && size[1] > 0)

        // A layer across the antimeridian covers every column: 256 × 2^maxzoom pixels wide.
        let world = try map.item("world")
        let worldJSON = try await map.alice.send("GET", "/layers/\(world.catalog)/tilejson.json").object
        let worldZoom = try #require(worldJSON["maxzoom"] as? Int)
        let worldInfo = try GDALTool.info("WMTS:\(map.baseURL)/layers/\(world.catalog)/WMTSCapabilities.xml?access_token=\(token)")
        #expect((worldInfo["size"] as? [Int])?.first == 256 << worldZoom, "\(worldInfo["size"] ?? "?") at zoom \(worldZoom)")

        // Tile-aligned extent: a window of the deepest level is exactly a tile of the mosaic.
        let aligned = try GDALTool.info(capabilities, extra: ["-oo", "EXTENT_METHOD=MOST_PRECISE_TILE_MATRIX"])
        let origin = try #require(aligned["geoTransform"] as? [Double])
        let tile = Self.rgbTile
        let tileBounds = MercatorGrid.bounds(z: tile.z, x: tile.x, y: tile.y)
        let column = Int(((tileBounds[0] - origin[0]) / origin[1]).rounded())
        let row = Int(((origin[3] - tileBounds[3]) / origin[1]).rounded())
        let folder = TemporaryDirectory("wmts-read")
        defer { folder.remove() }
        try GDALTool.check("gdal_translate", ["-q", "-oo", "EXTENT_METHOD=MOST_PRECISE_TILE_MATRIX",
                                              "-srcwin", String(column), String(row), "256", "256", capabilities, folder.file("window.tif")])
        let window = try RasterImage(path: folder.file("window.tif")).rgba
        let (_, served) = try await map.tile(MapServer.tilePath(rgb.catalog, z: tile.z, x: tile.x, y: tile.y))
        for band in 0..<4 {
            let difference = PlaneDifference(window.bands[band], served.bands[band], width: 256)
            #expect(difference.count == 0, "band \(band + 1) read through WMTS: \(difference)")
        }
        #expect(window.count(band: 3) { $0 > 0 } > 1000)

        // A small picture of the whole layer (GDAL reads a lower zoom for it): the scene is there.
        try GDALTool.check("gdal_translate", ["-q", "-outsize", "64", "64", capabilities, folder.file("small.tif")])
        let small = try RasterImage(path: folder.file("small.tif")).rgba
        #expect(small.count(band: 3) { $0 > 0 } > 1000, "visible pixels: \(small.count(band: 3) { $0 > 0 })")
        #expect(small.count(band: 0) { $0 > 0 } > 1000)

        // Without the token GDAL gets nothing.
        let refused = try GDALTool.run("gdalinfo", ["WMTS:\(map.baseURL)/layers/\(rgb.catalog)/WMTSCapabilities.xml"])
        #expect(refused.status != 0)
    }

    @Test("WMTS resource URLs carry the render parameters, and access_token only when the request came with it")
    func wmtsURLs() async throws {
        let map = try MapServer.shared()
        let rgb = try map.item("rgb")
        let plain = try await map.alice.send("GET", "/layers/\(rgb.catalog)/WMTSCapabilities.xml?bands=3,2,1")
        #expect(plain.status == 200 && plain.headers["content-type"]?.hasPrefix("application/xml") == true)
        let templates = Self.templates(plain.data)
        #expect(templates.count == 3, "\(templates)")
        #expect(templates.allSatisfy { $0.hasPrefix("\(map.baseURL)/layers/alice.rgb/tiles/{TileMatrix}/{TileCol}/{TileRow}.") })
        #expect(templates.allSatisfy { !$0.contains("access_token") && ($0.contains("bands=3%2C2%2C1") || $0.contains("bands=3,2,1")) },
                "\(templates)")
        let withToken = try await map.anonymous.send("GET", "/layers/\(rgb.catalog)/WMTSCapabilities.xml?access_token=\(map.aliceToken)")
        let tokenTemplates = Self.templates(withToken.data)
        #expect(tokenTemplates.count == 3 && tokenTemplates.allSatisfy { $0.contains("access_token=\(map.aliceToken)") }, "\(tokenTemplates)")
        #expect(Set(tokenTemplates.compactMap { $0.split(separator: "?").first?.split(separator: ".").last }) == ["png", "webp", "jpg"])
    }

    @Test("tiles asked for all at once are each what they are when asked alone")
    func concurrentRequests() async throws {
        let map = try MapServer.shared()
        let rgb = try map.item("rgb")
        var paths: [String] = []
        for z in 7...10 {
            let (x, y) = MercatorGrid.tile(longitude: -78.5, latitude: 25.3, zoom: z)
            for (dx, dy) in [(0, 0), (1, 0), (0, 1), (1, 1)] {
                paths.append(MapServer.tilePath(rgb.catalog, z: z, x: x + dx, y: y + dy))
                paths.append(MapServer.tilePath(rgb.catalog, item: rgb.id, z: z, x: x + dx, y: y + dy, ext: "webp",
                                                query: "resampling=bilinear"))
            }
        }
        var alone: [String: Data] = [:]
        for path in paths { alone[path] = try await map.alice.send("GET", path).data }
        let client = map.alice
        let together = try await withThrowingTaskGroup(of: (String, Int, Data).self) { group in
            for round in 0..<3 {
                for path in paths {
                    group.addTask {
                        let reply = try await client.send("GET", path)
                        return (path + "#\(round)", reply.status, reply.data)
                    }
                }
            }
            var replies: [(String, Int, Data)] = []
            for try await reply in group { replies.append(reply) }
            return replies
        }
        #expect(together.count == paths.count * 3)
        for (key, status, data) in together {
            let path = String(key.split(separator: "#")[0])
            #expect(status == 200 && data == alone[path], "\(path): \(status)")
        }
    }

    @Test("with --base-path, TileJSON and WMTS URLs carry the prefix and work")
    func basePath() async throws {
        let server = try ServerProcess(users: ["alice"], arguments: ["--base-path", "/sp"])
        defer { server.stop(); server.removeData() }
        let imported = try TileBinary.run(["import", "--json", "--data-dir", server.dataDirectory, "--catalog", "alice.grey", "--create",
                                           TestRasters.real("byte.tif")])
        #expect(imported.status == 0, "\(imported.stderr)")
        let login = try await APIClient(baseURL: server.baseURL + "/sp").send(
            "POST", "/account/login", json: ["username": "alice", "password": "password-alice"])
        let token = try #require(login.object["token"] as? String)
        let anonymous = APIClient(baseURL: server.baseURL)
        let document = try await anonymous.send("GET", "/sp/layers/alice.grey/tilejson.json?access_token=\(token)")
        let template = try #require((document.object["tiles"] as? [String])?.first, "\(document.status)")
        #expect(template == "\(server.baseURL)/sp/layers/alice.grey/tiles/{z}/{x}/{y}.png?access_token=\(token)")
        let tile = template.replacingOccurrences(of: "{z}", with: "12").replacingOccurrences(of: "{x}", with: "709")
            .replacingOccurrences(of: "{y}", with: "1637")
        let reply = try await APIClient(baseURL: "").send("GET", tile)
        #expect(reply.status == 200)
        let image = try RasterImage(encoded: reply.data, fileExtension: "png").rgba
        #expect(image.count(band: 3) { $0 > 0 } > 1000, "byte.tif shows on its tile")
        let capabilities = try await anonymous.send("GET", "/sp/layers/alice.grey/WMTSCapabilities.xml?access_token=\(token)")
        let templates = Self.templates(capabilities.data)
        #expect(!templates.isEmpty && templates.allSatisfy { $0.hasPrefix("\(server.baseURL)/sp/layers/alice.grey/tiles/") }, "\(templates)")
        #expect(try await anonymous.send("GET", "/layers/alice.grey/tilejson.json?access_token=\(token)").status == 404)
    }

    /// The `template` of every ResourceURL in a capabilities document, unescaped.
    static func templates(_ data: Data) -> [String] {
        let text = String(decoding: data, as: UTF8.self)
        return text.matches(of: /template="([^"]*)"/).map { match in
            String(match.1).replacingOccurrences(of: "&amp;", with: "&").replacingOccurrences(of: "&lt;", with: "<")
                .replacingOccurrences(of: "&gt;", with: ">").replacingOccurrences(of: "&quot;", with: "\"")
        }
    }
}

/// Expects a `400 invalid_parameter` whose message starts with `parameter:`.
private func expectInvalid(_ reply: APIClient.Reply, _ parameter: String, _ label: String, sourceLocation: SourceLocation = #_sourceLocation) {
    let message = reply.object["message"] as? String ?? String(decoding: reply.data.prefix(200), as: UTF8.self)
    #expect(reply.status == 400 && reply.errorCode == "invalid_parameter" && message.hasPrefix("\(parameter):"),
            "\(label): \(reply.status) \(reply.errorCode ?? "") \(message)", sourceLocation: sourceLocation)
}
