import Foundation
import TestSupport
import Testing
@testable import Raster

/// A CRS that names a file would make PROJ open it (any path) when coordinates are transformed.
@Suite("coordinate reference systems that name files")
struct CRSFileReferencesTests {
    static let ntv2 = "ABRIDGEDTRANSFORMATION[\"shift\",METHOD[\"NTv2\",ID[\"EPSG\",9615]],"
        + "PARAMETERFILE[\"Latitude and longitude difference file\",\"/srv/other/grid.gsb\"]]"
    static let boundCRS = "BOUNDCRS[SOURCECRS[GEOGCRS[\"NAD83\",DATUM[\"North American Datum 1983\","
        + "ELLIPSOID[\"GRS 1980\",6378137,298.257222101]],CS[ellipsoidal,2],"
        + "AXIS[\"latitude\",north,ANGLEUNIT[\"degree\",0.0174532925199433]],"
        + "AXIS[\"longitude\",east,ANGLEUNIT[\"degree\",0.0174532925199433]]]],TARGETCRS[EPSG:4326 placeholder],"
        + ntv2 + "]"

    @Test("CRSs naming a grid, init or pipeline file are found, however they are written", arguments: [
        boundCRS.replacingOccurrences(of: "EPSG:4326 placeholder", with: "GEOGCRS[\"WGS 84\",DATUM[\"World Geodetic "
            + "System 1984\",ELLIPSOID[\"WGS 84\",6378137,298.257223563]],CS[ellipsoidal,2],AXIS[\"latitude\",north,"
            + "ANGLEUNIT[\"degree\",0.0174532925199433]],AXIS[\"longitude\",east,ANGLEUNIT[\"degree\",0.0174532925199433]],"
            + "ID[\"EPSG\",4326]]"),
        "+proj=longlat +ellps=WGS84 +nadgrids=/srv/other/grid.gsb +no_defs",
        "+proj=longlat +ellps=WGS84 +nadgrids=@nosuchgrid,/srv/other/grid.gsb +wktext +no_defs",
        "+proj=longlat +ellps=GRS80 +geoidgrids=/srv/other/geoid.gtx +no_defs",
        "+proj=utm +zone=33 +ellps=WGS84 +nadgrids=relative/grid.gsb",
        "GEOGCS[\"WGS 84\",DATUM[\"WGS_1984\",SPHEROID[\"WGS 84\",6378137,298.257223563]],PRIMEM[\"Greenwich\",0],"
            + "UNIT[\"degree\",0.0174532925199433],EXTENSION[\"PROJ4\",\"+proj=longlat +ellps=WGS84 "
            + "+nadgrids=@a,/srv/other/grid.gsb +wktext +no_defs\"]]",
    ])
    func namesFile(definition: String) throws {
        let srs = try SpatialReference(definition)
        #expect(CRSFileReferences.find(in: srs.handle) != nil, "\(definition)")
    }

    @Test("ordinary CRSs, including ones PROJ transforms with its own grids, name no file", arguments: [
        "EPSG:4326", "EPSG:32633", "EPSG:27700", "EPSG:4267", "EPSG:2154", "EPSG:3857",
        "+proj=longlat +datum=WGS84 +no_defs", "+proj=utm +zone=18 +datum=NAD27 +units=m +no_defs",
        "+proj=tmerc +lat_0=49 +lon_0=-2 +k=0.9996012717 +x_0=400000 +y_0=-100000 +ellps=airy "
            + "+towgs84=446.448,-125.157,542.06,0.15,0.247,0.842,-20.489 +units=m +no_defs",
    ])
    func namesNoFile(definition: String) throws {
        let srs = try SpatialReference(definition)
        #expect(CRSFileReferences.find(in: srs.handle) == nil, "\(definition)")
    }

    @Test("text forms: PROJ options and WKT parameter files", arguments: [
        ("+init=epsg:4326", true), ("+proj=pipeline +step +proj=hgridshift +grids=x.tif", true),
        ("+proj=tinshift +file=/srv/x.json", true), ("+PROJ=LONGLAT +NADGRIDS=X", true),
        ("PARAMETERFILE[\"x\",\"y\"]", true), ("{\"parameter_file\": \"/srv/x\"}", true),
        ("+proj=merc +a=6378137 +b=6378137 +nadgrids=@null +wktext", false), ("+nadgrids=@null,/srv/x.gsb", true),
        ("+proj=longlat +datum=WGS84", false), ("GEOGCS[\"initial\",DATUM[\"filed\"]]", false),
    ])
    func text(text: String, names: Bool) {
        #expect((CRSFileReferences.find(in: text) != nil) == names, "\(text)")
    }
}

/// GDAL hands a GeoTIFF's citation (an ESRI PE string, say) to PROJ while it opens the file, and PROJ
/// opens the grids it names then: the citation is read with libtiff and checked before GDAL sees the file.
@Suite("a GeoTIFF's GeoKey citations are checked before GDAL opens it")
struct GeoKeyTextTests {
    @Test("a citation naming a grid is read with libtiff, and the raster is refused before GDAL opens it")
    func citation() throws {
        let folder = TemporaryDirectory("geokeys")
        defer { folder.remove() }
        let path = folder.file("cited.tif")
        try FileManager.default.copyItem(atPath: TestRasters.real("byte.tif"), toPath: path)
        try GDALTools.python("""
            from osgeo import osr
            ds = gdal.Open('\(path)', gdal.GA_Update)
            srs = osr.SpatialReference()
            srs.ImportFromEPSG(32611)
            srs.SetProjCS('grid +nadgrids=/srv/other/x.gsb')
            ds.SetSpatialRef(srs)
            ds = None
            """)
        #expect(GeoKeyText.read(path)?.contains("+nadgrids=/srv/other/x.gsb") == true)
        #expect(GeoKeyText.read(TestRasters.real("byte.tif"))?.contains("nadgrids") == false)
        #expect(GeoKeyText.read(TestRasters.sample("no_georef.tif")) == nil)
        let file = try GeoTIFFFile.check(path, name: "cited.tif", policy: OpenPolicy(), confined: true)
        #expect(throws: RasterError.self) { try file.open() }
        do {
            _ = try file.open()
        } catch {
            #expect(String(describing: error).hasPrefix("cited.tif cannot be opened: its coordinate reference system names a file"))
        }
    }
}
