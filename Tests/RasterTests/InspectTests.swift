import Raster
import TestSupport
import Testing

@Suite("inspect")
struct InspectTests {
    @Test("validity comes from nodata, alpha, internal mask or .msk sidecar")
    func validitySources() throws {
        #expect(try Dataset.open(TestRasters.sample("nodata_collar.tif")).inspect().validity == "nodata")
        #expect(try Dataset.open(TestRasters.sample("alpha.tif")).inspect().validity == "alpha band")
        #expect(try Dataset.open(TestRasters.sample("internal_mask.tif")).inspect().validity == "mask")
        let sidecar = try Dataset.open(TestRasters.sample("sidecar_mask.tif")).inspect()
        #expect(sidecar.validity == "mask")
        #expect(sidecar.files.contains { $0.hasSuffix("sidecar_mask.tif.msk") })
        #expect(try Dataset.open(TestRasters.sample("rotated.tif")).inspect().validity == "all valid")
    }

    @Test("nodata NaN is reported as nan, integers without a fraction")
    func noDataFormatting() throws {
        #expect(try Dataset.open(TestRasters.sample("nan_nodata.tif")).inspect().noData == "nan")
        #expect(try Dataset.open(TestRasters.real("cog_int16.tif")).inspect().noData == "-32768")
        #expect(try Dataset.open(TestRasters.real("DEM_BS28_2016_1000_1141.tif")).inspect().noData == "-9999")
    }

    @Test("geotransform kinds: rotated, south-up, world file, GCPs, none")
    func georeferencing() throws {
        let rotated = try Dataset.open(TestRasters.sample("rotated.tif")).inspect()
        #expect(rotated.rotated && !rotated.southUp && rotated.crs == "EPSG:32632")
        let southUp = try Dataset.open(TestRasters.sample("south_up.tif")).inspect()
        #expect(southUp.southUp && !southUp.rotated)
        let worldFile = try Dataset.open(TestRasters.sample("world_file.tif")).inspect()
        #expect(worldFile.georeferencing == .geoTransform)
        #expect(worldFile.geoTransform?[0] == 600000 && worldFile.crs == "EPSG:32633")
        let gcps = try Dataset.open(TestRasters.sample("gcps_only.tif")).inspect()
        #expect(gcps.georeferencing == .gcps && gcps.gcpCount == 4 && gcps.crs == "EPSG:4326")
        #expect(try Dataset.open(TestRasters.sample("no_georef.tif")).inspect().georeferencing == .none)
    }

    @Test("colour table, data types and overviews of real rasters")
    func realRasterStructure() throws {
        let palette = try Dataset.open(TestRasters.real("test_color_table.tif")).inspect()
        #expect(palette.bands[0].colorTableEntries ?? 0 > 0)
        #expect(palette.crs?.hasPrefix("PROJCRS") == true || palette.crs?.hasPrefix("EPSG:") == true)
        let dem = try Dataset.open(TestRasters.real("cog_int16.tif")).inspect()
        #expect(dem.dataType == "Int16" && dem.bands[0].overviews == 3 && dem.layout == "COG")
        let nan = try Dataset.open(TestRasters.real("image_nan.tif")).inspect()
        #expect(nan.dataType == "Float64" && nan.noData == "nan")
    }

    @Test("a text file named .tif is not a raster")
    func notARaster() {
        #expect {
            try Dataset.open(TestRasters.sample("not_a_raster.tif"))
        } throws: { error in
            if case .cannotOpen = error as? RasterError { return true }
            return false
        }
    }
}
