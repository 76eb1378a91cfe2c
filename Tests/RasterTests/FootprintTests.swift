import Foundation
import Raster
import TestSupport
import Testing

@Suite("footprint")
struct FootprintTests {
    /// Footprint vs the exact full-resolution outline of the valid pixels, in the native CRS.
    static func iou(_ path: String) throws -> (iou: Double, side: Int) {
        let dataset = try Dataset.open(path)
        let fast = try dataset.footprint(FootprintOptions(polygonize: true))
        let truth = try dataset.footprint(.fullResolutionTruth)
        return (try intersectionOverUnion(fast.native, truth.native), max(dataset.width, dataset.height))
    }

    @Test("reduced-resolution footprint matches the full-resolution outline (samples)",
          arguments: TestRasters.placeableSamples)
    func sampleFootprintAccuracy(name: String) throws {
        let (iou, side) = try Self.iou(TestRasters.sample(name))
        #expect(iou >= (side >= 500 ? 0.99 : 0.97), "IoU \(iou) for \(name)")
    }

    @Test("reduced-resolution footprint matches the full-resolution outline (real rasters)",
          arguments: TestRasters.realNames.filter { !TestRasters.unplaceableReal.contains($0) })
    func realFootprintAccuracy(name: String) throws {
        let (iou, side) = try Self.iou(TestRasters.real(name))
        #expect(iou >= (side >= 500 ? 0.99 : 0.97), "IoU \(iou) for \(name)")
    }

    @Test("the real corpus is there (the extended tests above need it)")
    func corpusPresent() {
        #expect(TestRasters.realNames.count >= 12)
    }

    @Test("every source of validity gives a traced outline smaller than the raster",
          arguments: ["nodata_collar.tif", "nan_nodata.tif", "alpha.tif", "internal_mask.tif", "sidecar_mask.tif",
                      "paletted.tif", "south_up.tif"])
    func tracedFromEveryValiditySource(name: String) throws {
        let dataset = try Dataset.open(TestRasters.sample(name))
        let traced = try dataset.footprint(FootprintOptions(polygonize: true))
        let box = try dataset.footprint(FootprintOptions(polygonize: false))
        #expect(traced.traced)
        #expect(traced.native.area < box.native.area * 0.95)
    }

    @Test("a large raster is traced on a reduced grid, a small one at full resolution")
    func reducedResolution() throws {
        let dem = try Dataset.open(TestRasters.real("cog_int16.tif"))
        let footprint = try dem.footprint(FootprintOptions(polygonize: true, maxGridSide: 1024))
        #expect(footprint.traced && footprint.gridScale > 2)
        let small = try Dataset.open(TestRasters.sample("nodata_collar.tif")).footprint(FootprintOptions(polygonize: true))
        #expect(small.gridScale == 1)
    }

    @Test("the tilted scene has its hole; the bbox does not")
    func holesAndBoundingBox() throws {
        let dataset = try Dataset.open(TestRasters.sample("nodata_collar.tif"))
        let traced = try dataset.footprint(FootprintOptions(polygonize: true))
        let box = try dataset.footprint(FootprintOptions(polygonize: false))
        #expect(traced.traced && !box.traced)
        #expect(traced.native.wkt.components(separatedBy: "),(").count >= 2, "expected an interior ring")
        #expect(traced.native.area < box.native.area * 0.8)
        #expect(box.native.area == 600 * 10 * 520 * 10)
    }

    @Test("a raster without invalid pixels has its bounding box as footprint either way")
    func allValid() throws {
        let dataset = try Dataset.open(TestRasters.real("byte.tif"))
        let traced = try dataset.footprint(FootprintOptions(polygonize: true))
        #expect(!traced.traced)
        #expect(traced.native.area == 20 * 60 * 20 * 60)
    }

    @Test("a rotated raster's bounding footprint is its quadrilateral, not an axis-aligned box")
    func rotatedCorners() throws {
        let footprint = try Dataset.open(TestRasters.sample("rotated.tif")).footprint(FootprintOptions(polygonize: false))
        let envelope = footprint.native.envelope
        let boxArea = (envelope.maxX - envelope.minX) * (envelope.maxY - envelope.minY)
        #expect(abs(footprint.native.area - 200 * 150 * 25) < 1)
        #expect(footprint.native.area < boxArea * 0.8)
    }

    @Test("south-up rasters give a footprint on the right side of the map")
    func southUp() throws {
        let footprint = try Dataset.open(TestRasters.sample("south_up.tif")).footprint(FootprintOptions(polygonize: true))
        let envelope = footprint.native.envelope
        #expect(envelope.minY >= 4_000_000 && envelope.maxY <= 4_000_000 + 160 * 20)
        #expect(envelope.minX >= 300_000 + 40 * 20 - 1)
    }

    @Test("footprints crossing the antimeridian are split into parts on both sides",
          arguments: ["antimeridian.tif", "past_180.tif"])
    func antimeridian(name: String) throws {
        let footprint = try Dataset.open(TestRasters.sample(name)).footprint(FootprintOptions(polygonize: false))
        let geographic = footprint.geographic
        #expect(geographic.typeName == "MULTIPOLYGON")
        let json = geographic.geoJSON()
        let coordinates = try #require(try JSONSerialization.jsonObject(with: Data(json.utf8)) as? [String: Any])["coordinates"]
            as? [[[[Double]]]]
        let longitudes = try #require(coordinates).flatMap { $0.flatMap { $0.map { $0[0] } } }
        #expect(longitudes.allSatisfy { $0 >= -180 && $0 <= 180 })
        #expect(longitudes.contains { $0 > 170 } && longitudes.contains { $0 < -170 })
        // Never the long way round: the parts together span about 10 degrees, not 350.
        let east = longitudes.filter { $0 > 0 }.min()!, west = longitudes.filter { $0 < 0 }.max()!
        #expect((180 - east) + (west + 180) < 30)
    }

    @Test("reprojected edges stay within half a pixel of the true outline")
    func densification() throws {
        let dataset = try Dataset.open(TestRasters.sample("wide_utm.tif"))
        let densified = try dataset.footprint(FootprintOptions(polygonize: false))
        let straight = try dataset.footprint(FootprintOptions(polygonize: false, maxReprojectionErrorPixels: 1e9))
        #expect(densified.geographic.vertexCount > straight.geographic.vertexCount)
        let pixelDegrees = 10_000.0 / 111_000.0 // a 10 km pixel is at most about this many degrees of latitude
        #expect(try maxEdgeDeviation(dataset, densified.geographic) < 0.5 * pixelDegrees)
        #expect(try maxEdgeDeviation(dataset, straight.geographic) > 0.5 * pixelDegrees)
    }

    /// Largest distance (degrees) between the true image of the raster's edges and a footprint.
    private func maxEdgeDeviation(_ dataset: Dataset, _ geographic: Geometry) throws -> Double {
        let w = Double(dataset.width), h = Double(dataset.height)
        var samples: [(Double, Double)] = []
        for step in 0...200 {
            let t = Double(step) / 200
            samples += [(t * w, 0), (t * w, h), (0, t * h), (w, t * h)]
        }
        let transform = try #require(dataset.geoTransform)
        let native = samples.map { transform.apply(column: $0.0, row: $0.1) }
        let points = try reproject(native, from: try #require(dataset.spatialReference), to: .wgs84())
        let boundary = try geographic.boundary()
        return points.map { boundary.distance(toX: $0.0, y: $0.1) }.max() ?? 0
    }

    @Test("rasters that cannot be placed are rejected with a reason")
    func rejections() throws {
        #expect(throws: RasterError.notGeoreferenced(path: TestRasters.sample("no_georef.tif"))) {
            try Dataset.open(TestRasters.sample("no_georef.tif")).footprint(FootprintOptions(polygonize: true))
        }
        #expect(throws: RasterError.notGeoreferenced(path: TestRasters.real("tinymarble.tif"))) {
            try Dataset.open(TestRasters.real("tinymarble.tif")).footprint(FootprintOptions(polygonize: false))
        }
        #expect(throws: RasterError.noValidData(path: TestRasters.sample("all_nodata.tif"))) {
            try Dataset.open(TestRasters.sample("all_nodata.tif")).footprint(FootprintOptions(polygonize: true))
        }
    }

    @Test("a world file without a CRS is refused with a message that says so")
    func missingCRS() throws {
        let directory = TemporaryDirectory()
        defer { directory.remove() }
        for file in ["world_file.tif", "world_file.tfw"] {
            try FileManager.default.copyItem(atPath: TestRasters.sample(file), toPath: directory.file(file))
        }
        let path = directory.file("world_file.tif")
        #expect(throws: RasterError.missingCRS(path: path)) {
            try Dataset.open(path).footprint(FootprintOptions(polygonize: false))
        }
        #expect(RasterError.missingCRS(path: path).description.contains("no coordinate reference system"))
    }

    @Test("a GCP-only raster is placed through GDAL's GCP transformer")
    func gcps() throws {
        let footprint = try Dataset.open(TestRasters.sample("gcps_only.tif")).footprint(FootprintOptions(polygonize: false))
        let envelope = footprint.geographic.envelope
        #expect(abs(envelope.minX - 23.98) < 0.01 && abs(envelope.maxX - 24.5) < 0.01)
        #expect(abs(envelope.minY - 59.7) < 0.01 && abs(envelope.maxY - 60.02) < 0.01)
    }
}
