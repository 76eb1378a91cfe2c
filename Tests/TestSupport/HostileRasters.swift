import Foundation

/// Files that pretend to be GeoTIFFs, or GeoTIFFs whose sidecars point elsewhere, for the tests that
/// prove a user's file is read as a GeoTIFF and nothing else.
public struct HostileRasters {
    /// What importing a case must give.
    public enum Expectation: Sendable, Equatable {
        case imported
        /// Fails with a message containing every fragment.
        case fails([String])
    }

    public struct Case: Sendable {
        /// The raster a task or `tile import` names.
        public var file: String
        /// Files beside it (sidecars), by name.
        public var sidecars: [String]
        public var expectation: Expectation
    }

    /// The folder that holds the cases (an upload folder's stand-in).
    public let folder: String
    /// Files outside `folder` that the cases name; nothing may read them.
    public let outside: String
    public let outsideRaster: String
    public let port: Int
    public private(set) var cases: [Case] = []

    /// Writes every case into `folder`; the files they point at go into `outside`. `port` is a loopback
    /// listener's, for `/vsicurl/` sources.
    public init(folder: String, outside: String, port: Int) throws {
        self.folder = folder
        self.outside = outside
        self.port = port
        outsideRaster = (outside as NSString).appendingPathComponent("outside.tif")
        for path in [folder, outside] { try FileManager.default.createDirectory(atPath: path, withIntermediateDirectories: true) }
        try FileManager.default.copyItem(atPath: TestRasters.real("byte.tif"), toPath: outsideRaster)
        try "PROJCS[\"outside\"]".write(toFile: (outside as NSString).appendingPathComponent("outside.prj"), atomically: true, encoding: .utf8)
        try makeCases()
    }

    var curl: String { "/vsicurl/http://127.0.0.1:\(port)/remote.tif" }

    /// A 20x20 VRT whose band reads `source`.
    func vrt(_ source: String, relative: Bool = false) -> String {
        """
        <VRTDataset rasterXSize="20" rasterYSize="20">
          <VRTRasterBand dataType="Byte" band="1">
            <SimpleSource><SourceFilename relativeToVRT="\(relative ? 1 : 0)">\(source)</SourceFilename><SourceBand>1</SourceBand></SimpleSource>
          </VRTRasterBand>
        </VRTDataset>
        """
    }

    func path(_ name: String) -> String { (folder as NSString).appendingPathComponent(name) }

    func write(_ text: String, _ name: String) throws {
        try text.write(toFile: path(name), atomically: false, encoding: .utf8)
    }

    /// A plain, valid GeoTIFF (20x20, UTM) under `name`.
    func geoTIFF(_ name: String) throws {
        try FileManager.default.copyItem(atPath: TestRasters.real("byte.tif"), toPath: path(name))
    }

    mutating func add(_ file: String, _ sidecars: [String], _ expectation: Expectation) {
        cases.append(Case(file: file, sidecars: sidecars, expectation: expectation))
    }

    mutating func add(_ file: String, _ expectation: Expectation) {
        add(file, [], expectation)
    }

    private mutating func makeCases() throws {
        // Other formats under a .tif name.
        try write(vrt(outsideRaster), "vrt_outside.tif")
        add("vrt_outside.tif", .fails(["vrt_outside.tif is not a GeoTIFF (GDAL reads it as VRT)"]))
        try write(vrt(curl), "vrt_curl.tif")
        add("vrt_curl.tif", .fails(["vrt_curl.tif is not a GeoTIFF (GDAL reads it as VRT)"]))
        let relative = "../" + (outside as NSString).lastPathComponent + "/outside.tif"
        try write(vrt(relative, relative: true), "vrt_relative.tif")
        add("vrt_relative.tif", .fails(["GDAL reads it as VRT"]))
        try GDALTools.translate(["-of", "GPKG", TestRasters.real("byte.tif"), path("gpkg.tif")])
        add("gpkg.tif", .fails(["gpkg.tif is not a GeoTIFF (GDAL reads it as GPKG)"]))
        try GDALTools.warp(["-of", "MBTiles", "-t_srs", "EPSG:3857", "-tr", "76.43702828517625", "76.43702828517625",
                              TestRasters.real("byte.tif"), path("mbtiles.tif")])
        add("mbtiles.tif", .fails(["mbtiles.tif is not a GeoTIFF (GDAL reads it as SQLite)"]))
        try GDALTools.translate(["-of", "netCDF", TestRasters.real("byte.tif"), path("netcdf.tif")])
        add("netcdf.tif", .fails(["netcdf.tif is not a GeoTIFF (GDAL reads it as netCDF)"]))
        try GDALTools.translate(["-of", "PNG", TestRasters.real("byte.tif"), path("png.tif")])
        add("png.tif", .fails(["png.tif is not a GeoTIFF (GDAL reads it as PNG)"]))
        try write("<?xml version=\"1.0\"?>\n<files><file>\(outsideRaster)</file><url>\(curl)</url></files>\n", "xml.tif")
        add("xml.tif", .fails(["xml.tif is not a GeoTIFF (GDAL does not recognise its format)"]))

        // GeoTIFFs whose sidecars are something else or point elsewhere.
        try geoTIFF("mask_vrt.tif")
        try write(vrt(outsideRaster), "mask_vrt.tif.msk")
        add("mask_vrt.tif", ["mask_vrt.tif.msk"], .fails(["mask_vrt.tif.msk is not a GeoTIFF (GDAL reads it as VRT)"]))
        try geoTIFF("mask_curl.tif")
        try write(vrt(curl), "mask_curl.tif.msk")
        add("mask_curl.tif", ["mask_curl.tif.msk"], .fails(["mask_curl.tif.msk", "GDAL reads it as VRT"]))
        try geoTIFF("overview_vrt.tif")
        try write(vrt(outsideRaster), "overview_vrt.tif.ovr")
        add("overview_vrt.tif", ["overview_vrt.tif.ovr"], .imported)
        try geoTIFF("pam_url.tif")
        try write("<PAMDataset><SRS>\(curl)</SRS></PAMDataset>", "pam_url.tif.aux.xml")
        add("pam_url.tif", ["pam_url.tif.aux.xml"], .fails(["pam_url.tif.aux.xml names a file or URL"]))
        try geoTIFF("pam_file.tif")
        try write("<PAMDataset><SRS>\((outside as NSString).appendingPathComponent("outside.prj"))</SRS></PAMDataset>",
                  "pam_file.tif.aux.xml")
        add("pam_file.tif", ["pam_file.tif.aux.xml"], .fails(["pam_file.tif.aux.xml names a CRS that is not a definition"]))
        try geoTIFF("pam_vrt.tif")
        try write(vrt(outsideRaster), "pam_vrt.tif.aux.xml")
        add("pam_vrt.tif", ["pam_vrt.tif.aux.xml"], .fails(["pam_vrt.tif.aux.xml is not a plain PAM file"]))
        try geoTIFF("pam_nested.tif")
        try write("<PAMDataset><Metadata domain=\"xml:x\" format=\"xml\">\(vrt(outsideRaster))</Metadata></PAMDataset>",
                  "pam_nested.tif.aux.xml")
        add("pam_nested.tif", ["pam_nested.tif.aux.xml"], .fails(["<VRTDataset> is not allowed in <Metadata>"]))
        try geoTIFF("pam_grid.tif")
        try write("<PAMDataset><SRS>+proj=longlat +nadgrids=\(outsideRaster)</SRS></PAMDataset>", "pam_grid.tif.aux.xml")
        add("pam_grid.tif", ["pam_grid.tif.aux.xml"], .fails(["names a file through its CRS"]))
        // CRSs that name a grid file outside: PROJ would open it when the footprint is transformed.
        let grid = "PARAMETERFILE[\"Latitude and longitude difference file\",\"\(outsideRaster)\"]"
        let boundCRS = "BOUNDCRS[SOURCECRS[GEOGCRS[\"NAD83\",DATUM[\"North American Datum 1983\",ELLIPSOID[\"GRS 1980\","
            + "6378137,298.257222101]],CS[ellipsoidal,2],AXIS[\"latitude\",north,ANGLEUNIT[\"degree\",0.0174532925199433]],"
            + "AXIS[\"longitude\",east,ANGLEUNIT[\"degree\",0.0174532925199433]]]],TARGETCRS[GEOGCRS[\"WGS 84\","
            + "DATUM[\"World Geodetic System 1984\",ELLIPSOID[\"WGS 84\",6378137,298.257223563]],CS[ellipsoidal,2],"
            + "AXIS[\"latitude\",north,ANGLEUNIT[\"degree\",0.0174532925199433]],AXIS[\"longitude\",east,"
            + "ANGLEUNIT[\"degree\",0.0174532925199433]],ID[\"EPSG\",4326]]],ABRIDGEDTRANSFORMATION[\"shift\","
            + "METHOD[\"NTv2\",ID[\"EPSG\",9615]],\(grid)]]"
        let xmlEscaped = { (text: String) in text.replacingOccurrences(of: "\"", with: "&quot;") }
        try geoTIFF("pam_parameterfile.tif")
        try write("<PAMDataset><SRS>\(xmlEscaped(boundCRS))</SRS></PAMDataset>", "pam_parameterfile.tif.aux.xml")
        add("pam_parameterfile.tif", ["pam_parameterfile.tif.aux.xml"], .fails(["names a file through its CRS"]))
        try geoTIFF("pam_grid_list.tif")
        let projExtension = "GEOGCS[\"WGS 84\",DATUM[\"WGS_1984\",SPHEROID[\"WGS 84\",6378137,298.257223563]],"
            + "PRIMEM[\"Greenwich\",0],UNIT[\"degree\",0.0174532925199433],EXTENSION[\"PROJ4\","
            + "\"+proj=longlat +ellps=WGS84 +nadgrids=@nosuchgrid,\(outsideRaster) +wktext +no_defs\"]]"
        try write("<PAMDataset><SRS>\(xmlEscaped(projExtension))</SRS></PAMDataset>", "pam_grid_list.tif.aux.xml")
        add("pam_grid_list.tif", ["pam_grid_list.tif.aux.xml"], .fails(["names a file through its CRS"]))
        try FileManager.default.copyItem(atPath: TestRasters.sample("no_georef.tif"), toPath: path("world_vrt.tif"))
        try write(vrt(outsideRaster), "world_vrt.tfw")
        add("world_vrt.tif", ["world_vrt.tfw"], .fails(["world_vrt.tfw is not a world file"]))
        try FileManager.default.copyItem(atPath: TestRasters.sample("no_georef.tif"), toPath: path("world_seven.tif"))
        try write("1\n0\n0\n-1\n500000\n4000000\n7\n", "world_seven.wld")
        add("world_seven.tif", ["world_seven.wld"], .fails(["world_seven.wld is not a world file"]))
        // Sidecars GDAL could read that are never shown to it: the raster imports as if they were absent.
        try geoTIFF("ignored.tif")
        let ignored = ["ignored.tif.aux", "ignored.aux", "ignored.prj", "ignored.imd", "ignored.rpb", "ignored_rpc.txt",
                       "ignored.tif.xml", "ignored.xml"]
        for name in ignored { try write(name.hasSuffix(".prj") ? curl : vrt(curl), name) }
        add("ignored.tif", ignored, .imported)
        // A sidecar that is a symbolic link to a file outside.
        try geoTIFF("mask_link.tif")
        try FileManager.default.createSymbolicLink(atPath: path("mask_link.tif.msk"), withDestinationPath: outsideRaster)
        add("mask_link.tif", ["mask_link.tif.msk"], .fails(["mask_link.tif.msk is a symbolic link"]))
        // Valid sidecars are still used.
        for name in ["world_file.tif", "world_file.tfw", "world_file.tif.aux.xml", "sidecar_mask.tif", "sidecar_mask.tif.msk"] {
            try FileManager.default.copyItem(atPath: TestRasters.sample(name), toPath: path(name))
        }
        add("world_file.tif", ["world_file.tfw", "world_file.tif.aux.xml"], .imported)
        add("sidecar_mask.tif", ["sidecar_mask.tif.msk"], .imported)
    }
}

/// GDAL's command-line tools and Python bindings (Debian's), for making test inputs.
public enum GDALTools {
    public static func translate(_ arguments: [String]) throws { try run("gdal_translate", ["-q"] + arguments) }
    public static func warp(_ arguments: [String]) throws { try run("gdalwarp", ["-q"] + arguments) }

    /// Runs a Python script with `from osgeo import gdal` already done.
    public static func python(_ script: String) throws {
        try run("python3", ["-c", "from osgeo import gdal\ngdal.UseExceptions()\n" + script])
    }

    /// A GeoTIFF made with GDAL's C API through Python: `width` x `height` x `bands`, georeferenced in
    /// UTM 33N, no pixel written (sparse), with the given creation options.
    public static func emptyGeoTIFF(_ path: String, width: Int, height: Int, bands: Int = 1, type: String = "Byte",
                                    options: [String] = []) throws {
        let list = (["SPARSE_OK=TRUE"] + options).map { "'\($0)'" }.joined(separator: ",")
        try python("""
            ds = gdal.GetDriverByName('GTiff').Create('\(path)', \(width), \(height), \(bands), gdal.GDT_\(type), [\(list)])
            ds.SetGeoTransform([500000, 1, 0, 5000000, 0, -1])
            ds.SetProjection('EPSG:32633')
            ds = None
            """)
    }

    /// Runs `/usr/bin/PROGRAM` (see `GDALTool.run`); a non-zero exit throws with its error output.
    public static func run(_ program: String, _ arguments: [String]) throws {
        try GDALTool.check(program, arguments)
    }
}
