import CGDAL
import Foundation
@testable import Raster
import TestSupport
import Testing

@Suite("COG writing and validation")
struct COGTests {
    static let convertible = TestRasters.placeableSamples.map(TestRasters.sample)
        + TestRasters.realNames.map(TestRasters.real)

    @Test("every raster becomes a valid COG with identical pixels, masks and nodata", arguments: convertible)
    func convert(source: String) throws {
        let directory = TemporaryDirectory()
        defer { directory.remove() }
        let output = directory.file("out.tif")
        let dataset = try Dataset.open(source)
        let result = try dataset.writeCOG(to: output, options: COGOptions())

        let structure = COGValidator.validate(path: output)
        #expect(structure.isValid, "\(structure.problems)")
        let (gdalValid, report) = GDALValidator.validate(output)
        #expect(gdalValid, "GDAL's validator: \(report)")
        let expectedLevels = COGOptions.automaticOverviewLevels(width: dataset.width, height: dataset.height, blockSize: 512)
        #expect(result.overviewLevels == expectedLevels && structure.overviewCount == expectedLevels)

        let cog = try Dataset.open(output)
        #expect(cog.bandCount == dataset.bandCount)
        for (original, copy) in zip(dataset.bands, cog.bands) {
            #expect(try original.checksum() == copy.checksum(), "pixels differ in \(source)")
            #expect(original.dataType == copy.dataType)
            #expect(original.noDataValue.map(formatNoData) == copy.noDataValue.map(formatNoData))
            #expect(original.colorTableEntryCount == copy.colorTableEntryCount)
            #expect(original.maskFlags == copy.maskFlags)
        }
        if let band = dataset.bands.first, band.maskFlags.contains(.perDataset) {
            #expect(try band.maskBand.checksum() == cog.band(1).maskBand.checksum(), "mask differs")
        }
        #expect(cog.spatialReference?.identifier == dataset.spatialReference?.identifier)
        #expect(cog.geoTransform == dataset.geoTransform)
    }

    @Test("band descriptions and dataset metadata are carried over")
    func metadata() throws {
        let directory = TemporaryDirectory()
        defer { directory.remove() }
        let output = directory.file("out.tif")
        _ = try Dataset.open(TestRasters.sample("nodata_collar.tif")).writeCOG(to: output, options: COGOptions())
        let cog = try Dataset.open(output)
        #expect(cog.band(1).description == "red")
        #expect(cog.metadataItem("SOURCE") == "scripts/make-sample-rasters")
    }

    @Test("paletted rasters get nearest-neighbour overviews, others average")
    func resamplingChoice() throws {
        let directory = TemporaryDirectory()
        defer { directory.remove() }
        let paletted = try Dataset.open(TestRasters.sample("paletted.tif"))
            .writeCOG(to: directory.file("p.tif"), options: COGOptions(blockSize: 64))
        #expect(paletted.resampling == "NEAREST" && paletted.overviewLevels == 2)
        // Nearest keeps the classes: every overview value is one of the palette's classes or nodata.
        let overview = try Dataset.open(directory.file("p.tif"))
        let values = try overviewValues(overview, level: 0)
        #expect(Set(values).isSubset(of: [0, 1, 2, 3, 4, 255]))
        let scene = try Dataset.open(TestRasters.sample("nodata_collar.tif"))
            .writeCOG(to: directory.file("s.tif"), options: COGOptions())
        #expect(scene.resampling == "AVERAGE")
    }

    @Test("more overview levels than the raster allows are capped and reported")
    func cappedLevels() throws {
        let directory = TemporaryDirectory()
        defer { directory.remove() }
        let dataset = try Dataset.open(TestRasters.sample("nodata_collar.tif"))
        let capped = try dataset.writeCOG(to: directory.file("a.tif"), options: COGOptions(blockSize: 128, overviewLevels: 9))
        #expect(capped.overviewLevels == 3 && capped.cappedFrom == 9)
        #expect(COGValidator.validate(path: directory.file("a.tif")).overviewCount == 3)
        let two = try dataset.writeCOG(to: directory.file("b.tif"), options: COGOptions(blockSize: 128, overviewLevels: 2))
        #expect(two.overviewLevels == 2 && two.cappedFrom == nil)
        #expect(COGValidator.validate(path: directory.file("b.tif")).overviewCount == 2)
    }

    @Test("a damaged tile fails the conversion and leaves no file behind")
    func damaged() throws {
        let directory = TemporaryDirectory()
        defer { directory.remove() }
        let output = directory.file("out.tif")
        #expect {
            try Dataset.open(TestRasters.sample("damaged.tif")).writeCOG(to: output, options: COGOptions())
        } throws: { error in
            guard case .unreadablePixels = error as? RasterError else { return false }
            return true
        }
        #expect(!FileManager.default.fileExists(atPath: output))
    }

    @Test("cancellation stops the conversion and removes the partial file")
    func cancel() throws {
        let directory = TemporaryDirectory()
        defer { directory.remove() }
        let output = directory.file("out.tif")
        let flag = CancellationFlag()
        flag.cancel()
        #expect(throws: RasterError.cancelled) {
            try Dataset.open(TestRasters.sample("nodata_collar.tif"))
                .writeCOG(to: output, options: COGOptions(), progress: ProgressSink(cancellation: flag))
        }
        #expect(!FileManager.default.fileExists(atPath: output))
    }

    @Test("bad options are refused before GDAL runs")
    func badOptions() {
        #expect(throws: RasterError.self) { try COGOptions(compression: "GIF").validate() }
        #expect(throws: RasterError.self) { try COGOptions(blockSize: 500).validate() }
        #expect(throws: RasterError.self) { try COGOptions(resampling: "magic").validate() }
        #expect(throws: RasterError.self) { try COGOptions(overviewLevels: -1).validate() }
        #expect(throws: RasterError.self) { try COGOptions(threads: "many").validate() }
        #expect(throws: Never.self) { try COGOptions(compression: "zstd", level: 9, threads: "2").validate() }
    }

    @Test("the validator rejects striped files and overviews appended after the data")
    func validatorRejects() throws {
        let striped = COGValidator.validate(path: TestRasters.real("RGB.byte.tif"))
        #expect(!striped.isValid && striped.problems.contains { $0.contains("not tiled") })

        let directory = TemporaryDirectory()
        defer { directory.remove() }
        let output = directory.file("tiled.tif")
        GDALRuntime.ensureInitialized()
        let source = try Dataset.open(TestRasters.sample("nodata_collar.tif"))
        let options = ["TILED=YES", "BLOCKXSIZE=128", "BLOCKYSIZE=128"]
        let copied = withCStringList(options) { list in
            GDALCreateCopy(GDALGetDriverByName("GTiff"), output, GDALOpen(source.path, GA_ReadOnly), 0, list, nil, nil)
        }
        var levels: [Int32] = [2, 4]
        #expect(GDALBuildOverviews(copied, "AVERAGE", 2, &levels, 0, nil, nil, nil) == CE_None)
        GDALClose(copied)
        let misordered = COGValidator.validate(path: output)
        #expect(misordered.problems.contains { $0.contains("not stored before the data of the larger level") })
        // Growing the main IFD makes GDAL rewrite it at the end of the file, after the pixels.
        let update = GDALOpen(output, GA_Update)
        GDALSetMetadataItem(update, "NOTE", String(repeating: "x", count: 5000), nil)
        GDALClose(update)
        let appended = COGValidator.validate(path: output)
        #expect(appended.problems.contains { $0.contains("after tile data") })
        #expect(!COGValidator.validate(path: TestRasters.sample("not_a_raster.tif")).isValid)
        #expect(COGValidator.validate(path: TestRasters.real("cog_int16.tif")).isValid)
    }

    private func overviewValues(_ dataset: Dataset, level: Int32) throws -> [UInt8] {
        let overview = try #require(GDALGetOverview(GDALGetRasterBand(dataset.handle, 1), level))
        let width = GDALGetRasterBandXSize(overview), height = GDALGetRasterBandYSize(overview)
        var buffer = [UInt8](repeating: 0, count: Int(width * height))
        let status = GDALRasterIO(overview, GF_Read, 0, 0, width, height, &buffer, width, height, GDT_Byte, 0, 0)
        #expect(status == CE_None)
        return buffer
    }
}

func withCStringList<T>(_ values: [String], _ body: (UnsafeMutablePointer<UnsafeMutablePointer<CChar>?>?) -> T) -> T {
    var list: UnsafeMutablePointer<UnsafeMutablePointer<CChar>?>? = nil
    for value in values { list = CSLAddString(list, value) }
    defer { CSLDestroy(list) }
    return body(list)
}
