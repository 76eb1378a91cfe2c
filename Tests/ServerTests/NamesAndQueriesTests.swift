import Foundation
import TestSupport
import Testing

/// Table names, namespaces, conditions, query strings, paging and GeoJSON over HTTP and the CLI.
@Suite("names, queries and GeoJSON", .serialized)
struct NamesAndQueriesTests {
    static func tiling(_ files: [String], catalog: String, configuration: [String: Any]? = [:],
                       attributes: [String: Any] = [:], polygonize: Bool = true) -> [String: Any] {
        var target: [String: Any] = ["type": "tileFeatureLayerTaskDataStorage", "serviceName": catalog,
                                     "createNewService": configuration != nil]
        if let configuration { target["attributesConfiguration"] = configuration }
        return ["target": target, "files": files, "attributes": attributes, "polygonize": polygonize]
    }

    static func message(_ reply: APIClient.Reply) -> String { reply.object["message"] as? String ?? "" }

    static func taskCount(_ client: APIClient) async throws -> Int {
        (try await client.send("GET", "/scheduler/tasks").json as? [Any])?.count ?? -1
    }

    @Test("hostile table and column names are 400 naming the field, nothing is queued, the data folder still works")
    func hostileNames() async throws {
        let server = try ServerProcess()
        defer { server.stop(); server.removeData() }
        let alice = try await APIClient.login(server, as: "alice")
        #expect(try await alice.upload(TestRasters.sample("rotated.tif"), as: "r.tif").status == 200)
        let tableNames = ["raster_catalogs", "gpkg_contents", "GPKG_CONTENTS", "gpkg_spatial_ref_sys", "sqlite_master",
                          "rtree_alice__x_footprint", "tile_journal", "gpkg_ogr_contents", "x; DROP TABLE raster_catalogs",
                          "a\"b", "", String(repeating: "n", count: 64), "Raster_Catalogs"]
        for tableName in tableNames {
            let reply = try await alice.send("POST", "/scheduler/tasks?type=tiling",
                                             json: Self.tiling(["r.tif"], catalog: "alice.bad", configuration: ["tableName": tableName]))
            #expect(reply.status == 400, "\(tableName)")
            #expect(Self.message(reply).hasPrefix("target.attributesConfiguration.tableName:"), "\(tableName): \(Self.message(reply))")
        }
        let columns: [([String: Any], String)] = [
            (["attributes": [["attributeName": "x", "columnName": "fid"]]], "attributes[0].columnName"),
            (["attributes": [["attributeName": "footprint"]]], "attributes[0].attributeName"),
            (["geometryAttribute": "geom", "attributes": [["attributeName": "GEOM"]]], "attributes[0].attributeName"),
            (["attributes": [["attributeName": "x", "columnName": "item_id"]]], "attributes[0].columnName"),
            (["geometryAttribute": "fid"], "geometryAttribute"),
            (["geometryAttribute": "sha256"], "geometryAttribute"),
        ]
        for (configuration, field) in columns {
            let reply = try await alice.send("POST", "/scheduler/tasks?type=tiling",
                                             json: Self.tiling(["r.tif"], catalog: "alice.bad", configuration: configuration))
            #expect(reply.status == 400 && Self.message(reply).hasPrefix("target.attributesConfiguration.\(field):"),
                    "\(field): \(Self.message(reply))")
        }
        // The same checks inside a pipeline and for a copy target.
        let pipeline = try await alice.send("POST", "/scheduler/tasks?type=pipeline", json: ["innerTasks": [
            ["type": "tiling"].merging(Self.tiling(["r.tif"], catalog: "temp.stage")) { $1 },
            ["type": "copy", "source": ["serviceName": "temp.stage"],
             "target": ["serviceName": "alice.out", "createNewService": true,
                        "attributesConfiguration": ["tableName": "gpkg_contents"]]],
        ]])
        #expect(pipeline.status == 400 && Self.message(pipeline).hasPrefix("target.attributesConfiguration.tableName:"),
                "\(Self.message(pipeline))")
        #expect(try await Self.taskCount(alice) == 0)

        // Nothing was bricked: a good task runs, and the store reopens after a restart.
        let good = try await alice.send("POST", "/scheduler/tasks?type=tiling",
                                        json: Self.tiling(["r.tif"], catalog: "alice.good", configuration: ["tableName": "landsat"]))
        let done = try await alice.waitForTask(try #require(good.object["taskId"] as? String))
        #expect(done["status"] as? String == "Completed")
        server.stop()
        try server.start()
        let again = try await APIClient.login(server, as: "alice")
        let layer = try await again.send("GET", "/layers/alice.good")
        #expect(layer.status == 200 && layer.object["tableName"] as? String == "alice__landsat")
        #expect(layer.object["itemCount"] as? Int == 1)
        server.stop()
        let listed = try TileBinary.run(["catalog", "list", "--data-dir", server.dataDirectory])
        #expect(listed.status == 0 && listed.stdout.contains("alice.good\t1 items"), "\(listed.stderr)")
    }

    @Test("tables carry the owner's namespace: no squatting, and collisions are 409 at creation, pipelines included")
    func namespaces() async throws {
        let server = try ServerProcess()
        defer { server.stop(); server.removeData() }
        let alice = try await APIClient.login(server, as: "alice")
        let bob = try await APIClient.login(server, as: "bob")
        for client in [alice, bob] {
            #expect(try await client.upload(TestRasters.sample("rotated.tif"), as: "r.tif").status == 200)
        }
        // bob asks for the tables alice's catalogs would use; he gets his own.
        for (catalog, tableName) in [("bob.squat", "alice__future"), ("bob.squat2", "ALICE__images")] {
            let reply = try await bob.send("POST", "/scheduler/tasks?type=tiling",
                                           json: Self.tiling(["r.tif"], catalog: catalog, configuration: ["tableName": tableName]))
            let done = try await bob.waitForTask(try #require(reply.object["taskId"] as? String))
            #expect(done["status"] as? String == "Completed")
        }
        let bobTables = try #require(try await bob.send("GET", "/layers").json as? [[String: Any]]).compactMap { $0["tableName"] as? String }
        #expect(Set(bobTables) == ["bob__alice__future", "bob__alice__images"])
        for catalog in ["alice.future", "alice.images"] {
            let reply = try await alice.send("POST", "/scheduler/tasks?type=tiling", json: Self.tiling(["r.tif"], catalog: catalog))
            let done = try await alice.waitForTask(try #require(reply.object["taskId"] as? String))
            #expect(done["status"] as? String == "Completed", "\(catalog)")
        }
        // A table another of alice's catalogs has is a 409 before anything is queued.
        let before = try await Self.taskCount(alice)
        let taken = try await alice.send("POST", "/scheduler/tasks?type=tiling",
                                         json: Self.tiling(["r.tif"], catalog: "alice.other", configuration: ["tableName": "Future"]))
        #expect(taken.status == 409 && Self.message(taken).contains("alice__future"), "\(Self.message(taken))")
        // ... also when an earlier step of the same pipeline creates it.
        let steps: [[String: Any]] = [
            ["type": "tiling"].merging(Self.tiling(["r.tif"], catalog: "alice.first", configuration: ["tableName": "shared"])) { $1 },
            ["type": "tiling"].merging(Self.tiling(["r.tif"], catalog: "temp.second", configuration: ["tableName": "unrelated"])) { $1 },
            ["type": "copy", "source": ["serviceName": "alice.first"],
             "target": ["serviceName": "alice.third", "createNewService": true,
                        "attributesConfiguration": ["tableName": "alice__shared"]]],
        ]
        let pipeline = try await alice.send("POST", "/scheduler/tasks?type=pipeline", json: ["innerTasks": steps])
        #expect(pipeline.status == 409 && Self.message(pipeline).contains("alice__shared"), "\(Self.message(pipeline))")
        let defaultClash = try await alice.send("POST", "/scheduler/tasks?type=pipeline", json: ["innerTasks": [
            ["type": "tiling"].merging(Self.tiling(["r.tif"], catalog: "alice.one", configuration: ["tableName": "two"])) { $1 },
            ["type": "tiling"].merging(Self.tiling(["r.tif"], catalog: "alice.two")) { $1 },
        ]])
        #expect(defaultClash.status == 409, "\(Self.message(defaultClash))")
        #expect(try await Self.taskCount(alice) == before)
        #expect(try await alice.send("GET", "/layers/alice.first").status == 404)
    }

    /// A 64x64 lon/lat raster whose middle 16x16 pixels are nodata: polygonized, a footprint with a hole.
    static func rasterWithHole(in directory: TemporaryDirectory) throws -> String {
        let path = directory.file("hole.tif")
        let script = """
        from osgeo import gdal, osr
        ds = gdal.GetDriverByName('GTiff').Create('\(path)', 64, 64, 1, gdal.GDT_Byte)
        ds.SetGeoTransform([20, 0.01, 0, 40, 0, -0.01])
        srs = osr.SpatialReference(); srs.ImportFromEPSG(4326); ds.SetProjection(srs.ExportToWkt())
        band = ds.GetRasterBand(1); band.SetNoDataValue(0); band.Fill(200)
        band.WriteRaster(24, 24, 16, 16, bytes(256))
        ds = None
        """
        let process = Process()
        process.executableURL = URL(fileURLWithPath: "/usr/bin/python3")
        process.arguments = ["-c", script]
        try process.run()
        process.waitUntilExit()
        guard process.terminationStatus == 0 else { throw ServerProcess.ServerError.setup("cannot write \(path)") }
        return path
    }

    static func signedArea(_ ring: [[Double]]) -> Double {
        zip(ring, ring.dropFirst() + ring.prefix(1)).reduce(0) { $0 + ($1.0[0] * $1.1[1] - $1.1[0] * $1.0[1]) } / 2
    }

    /// Every polygon of a GeoJSON Polygon or MultiPolygon, as rings of [lon, lat].
    static func polygons(_ geometry: [String: Any]) -> [[[[Double]]]] {
        if geometry["type"] as? String == "Polygon", let rings = geometry["coordinates"] as? [[[Double]]] { return [rings] }
        return geometry["coordinates"] as? [[[[Double]]]] ?? []
    }

    @Test("GeoJSON per RFC 7946, antimeridian boxes, + in query strings, conditions and paging over HTTP and the CLI")
    func geoJSONAndPaging() async throws {
        let server = try ServerProcess()
        defer { server.stop(); server.removeData() }
        let inputs = TemporaryDirectory("queries")
        defer { inputs.remove() }
        let alice = try await APIClient.login(server, as: "alice")
        let files = ["antimeridian.tif", "past_180.tif", "rotated.tif", "nodata_collar.tif", "south_up.tif", "wide_utm.tif"]
        for file in files { #expect(try await alice.upload(TestRasters.sample(file), as: file).status == 200) }
        #expect(try await alice.upload(try Self.rasterWithHole(in: inputs), as: "hole.tif").status == 200)
        let configuration: [String: Any] = ["attributes": [["attributeName": "name", "type": "String"],
                                                           ["attributeName": "rank", "type": "Int32"]]]
        // One task per file, so that each has its own name and rank.
        for (index, file) in (files + ["hole.tif"]).enumerated() {
            let name = index == 0 ? "a+b" : index == 1 ? "scene one" : "other \(index)"
            let task = Self.tiling([file], catalog: "alice.geo", configuration: configuration,
                                   attributes: ["name": name, "rank": index])
            let reply = try await alice.send("POST", "/scheduler/tasks?type=tiling", json: task)
            let done = try await alice.waitForTask(try #require(reply.object["taskId"] as? String))
            #expect(done["status"] as? String == "Completed", "\(file): \(done)")
        }
        let all = try await alice.send("GET", "/layers/alice.geo/features")
        #expect(all.status == 200)
        let features = try #require(all.object["features"] as? [[String: Any]])
        #expect(features.count == 7 && all.object["numberMatched"] as? Int == 7 && all.object["numberReturned"] as? Int == 7)
        // Orientation by signed area: exterior rings counter-clockwise, holes clockwise.
        var holes = 0
        for feature in features {
            let geometry = try #require(feature["geometry"] as? [String: Any])
            for polygon in Self.polygons(geometry) {
                #expect(Self.signedArea(polygon[0]) > 0, "\(feature["id"] ?? "")")
                for hole in polygon.dropFirst() {
                    #expect(Self.signedArea(hole) < 0)
                    holes += 1
                }
            }
            let bbox = try #require(feature["bbox"] as? [Double])
            #expect(bbox.count == 4 && bbox[1] <= bbox[3])
        }
        #expect(holes >= 1)
        func feature(named name: String) -> [String: Any]? {
            features.first { ($0["properties"] as? [String: Any])?["name"] as? String == name }
        }
        let crossing = try #require(feature(named: "a+b"))
        let crossingBox = try #require(crossing["bbox"] as? [Double])
        #expect(crossingBox[0] > crossingBox[2] && crossingBox[0] > 170 && crossingBox[2] < -170, "\(crossingBox)")
        let collectionBox = try #require(all.object["bbox"] as? [Double])
        #expect(collectionBox.count == 4)

        // bbox with west > east selects across the antimeridian; the same box the other way round does not.
        let across = try await alice.send("GET", "/layers/alice.geo/features?bbox=170,-90,-170,90")
        let acrossIDs = Set(try #require(across.object["features"] as? [[String: Any]]).compactMap { $0["id"] as? String })
        #expect(across.status == 200 && acrossIDs.contains(crossing["id"] as? String ?? "?"))
        #expect(!acrossIDs.contains(feature(named: "other 2")?["id"] as? String ?? "?"))
        let wrongWay = try await alice.send("GET", "/layers/alice.geo/features?bbox=-170,-90,170,90")
        #expect(!(try #require(wrongWay.object["features"] as? [[String: Any]])).isEmpty)
        for bad in ["1,2,3", "190,0,-170,10", "170,10,-170,0", "a,b,c,d", "1,2,3,4,5", "nan,0,1,1"] {
            #expect(try await alice.send("GET", "/layers/alice.geo/features?bbox=\(bad)").status == 400, "\(bad)")
        }

        // `+` is a space and %2B a plus, in every parameter.
        func names(_ query: String) async throws -> [String] {
            let reply = try await alice.send("GET", "/layers/alice.geo/features?\(query)")
            #expect(reply.status == 200, "\(query): \(Self.message(reply))")
            return (reply.object["features"] as? [[String: Any]] ?? []).compactMap { ($0["properties"] as? [String: Any])?["name"] as? String }
        }
        #expect(try await names("condition=name+%3D+%27scene+one%27") == ["scene one"])
        #expect(try await names("condition=name+%3D+%27a%2Bb%27") == ["a+b"])
        #expect(try await names("condition=name%20IN%20(%27a%2Bb%27,%27scene%20one%27)&limit=5") == ["a+b", "scene one"])
        #expect(try await alice.send("GET", "/scheduler/tasks?status=+Completed+").status == 400)
        #expect(try await alice.send("GET", "/scheduler/tasks?status=Completed&limit=%2B2").status == 200)
        #expect(try await alice.send("GET", "/layers/alice.geo/features?condition=%ZZ").status == 400)

        // Conditions past the limits are 400 with the reason.
        let tooMany = (0...500).map { "rank+%3D+\($0)" }.joined(separator: "+OR+")
        let deep = String(repeating: "(", count: 17) + "rank+%3D+1" + String(repeating: ")", count: 17)
        for (condition, reason) in [(tooMany, "too many terms"), (deep, "nested too deep")] {
            let reply = try await alice.send("GET", "/layers/alice.geo/features?condition=\(condition)")
            #expect(reply.status == 400 && Self.message(reply).contains(reason), "\(Self.message(reply))")
        }
        let chain = (0..<400).map { "rank+%3D+\($0 % 7 == 3 ? 3 : 100 + $0)" }.joined(separator: "+OR+")
        #expect(try await names("condition=\(chain)") == ["other 3"])

        // Paging: follow next links to the end; they add up to the unpaged answer.
        let condition = "condition=rank+%3E%3D+1"
        let unpaged = try await names(condition)
        #expect(unpaged.count == 6)
        var walked: [String] = []
        var next: String? = "/layers/alice.geo/features?\(condition)&limit=4"
        var pages = 0
        while let path = next, pages < 10 {
            let page = try await alice.send("GET", path)
            #expect(page.status == 200 && page.object["numberMatched"] as? Int == 6)
            let pageFeatures = page.object["features"] as? [[String: Any]] ?? []
            #expect(page.object["numberReturned"] as? Int == pageFeatures.count)
            walked += pageFeatures.compactMap { ($0["properties"] as? [String: Any])?["name"] as? String }
            let links = page.object["links"] as? [[String: Any]] ?? []
            #expect(links.contains { $0["rel"] as? String == "self" })
            next = links.first { $0["rel"] as? String == "next" }?["href"] as? String
            pages += 1
        }
        #expect(walked == unpaged && pages == 2)
        #expect(try await names("\(condition)&limit=2&offset=2") == Array(unpaged[2..<4]))
        for query in ["limit=10001", "limit=0", "limit=-1", "cursor=abc", "cursor=", "cursor=YWZ0ZXI6LTE", "cursor=%2B%2B",
                      "cursor=YWZ0ZXI6Mg&offset=3"] {
            let reply = try await alice.send("GET", "/layers/alice.geo/features?\(query)")
            #expect(reply.status == 400, "\(query): \(reply.status)")
        }
        #expect(try await alice.send("GET", "/layers/alice.geo/features?limit=10000").status == 200)

        // The CLI answers the same.
        server.stop()
        let data = ["--data-dir", server.dataDirectory]
        let cli = try TileBinary.run(["catalog", "items", "alice.geo", "--bbox", "170,-90,-170,90"] + data)
        let cliIDs = ((try cli.json() as? [String: Any])?["features"] as? [[String: Any]] ?? []).compactMap { $0["id"] as? String }
        #expect(cli.status == 0 && Set(cliIDs) == acrossIDs)
        let firstPage = try TileBinary.run(["catalog", "items", "alice.geo", "--where", "rank >= 1", "--limit", "4"] + data)
        let firstObject = try #require(try firstPage.json() as? [String: Any])
        #expect(firstObject["numberMatched"] as? Int == 6 && firstObject["numberReturned"] as? Int == 4)
        let cursor = try #require(firstObject["next"] as? String)
        let secondPage = try TileBinary.run(["catalog", "items", "alice.geo", "--where", "rank >= 1", "--limit", "4",
                                             "--cursor", cursor] + data)
        let secondObject = try #require(try secondPage.json() as? [String: Any])
        #expect(secondObject["numberReturned"] as? Int == 2 && secondObject["next"] == nil)
        let refused = try TileBinary.run(["catalog", "items", "alice.geo", "--where",
                                          String(repeating: "NOT ", count: 17) + "rank = 1"] + data)
        #expect(refused.status != 0 && refused.stderr.contains("nested too deep"), "\(refused.stderr)")
        let tampered = try TileBinary.run(["catalog", "items", "alice.geo", "--cursor", "nope"] + data)
        #expect(tampered.status != 0 && tampered.stderr.contains("cursor"))
    }
}
