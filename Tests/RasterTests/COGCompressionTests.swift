import Foundation
@testable import Raster
import TestSupport
import Testing

/// Compressions are checked against the raster before GDAL writes, and whatever GDAL reports while
/// writing fails the conversion.
@Suite("COG compression against the raster")
struct COGCompressionTests {
    @Test("WEBP, JPEG and LERC refuse rasters they cannot encode, blaming the option")
    func rules() throws {
        func message(_ compression: String, _ types: [String], paletted: Bool = false) -> String? {
            do {
                try COGOptions(compression: compression)
                    .validate(for: COGOptions.RasterShape(bandTypes: types, isPaletted: paletted), file: "x.tif")
                return nil
            } catch let RasterError.invalidOption(text) {
                return text
            } catch {
                return "unexpected \(error)"
            }
        }
        #expect(message("WEBP", ["Float32"])
            == "--compression WEBP needs Byte data with 3 or 4 bands; x.tif has 1 Float32 band; choose another --compression for it")
        #expect(message("webp", ["Byte"])?.contains("x.tif has 1 Byte band") == true)
        #expect(message("WEBP", ["Byte", "Byte"]) != nil)
        #expect(message("WEBP", ["Byte", "Byte", "Byte", "Byte", "Byte"]) != nil)
        #expect(message("WEBP", ["UInt16", "UInt16", "UInt16"])?.contains("3 UInt16 bands") == true)
        #expect(message("WEBP", ["Byte", "Byte", "Byte"]) == nil)
        #expect(message("WEBP", ["Byte", "Byte", "Byte", "Byte"]) == nil)
        #expect(message("JPEG", ["Int16"])?.hasPrefix("--compression JPEG needs Byte data") == true)
        #expect(message("JPEG", ["UInt16"]) != nil)
        #expect(message("JPEG", ["Byte", "Byte", "UInt16"])?.contains("3 bands (Byte, Byte, UInt16)") == true)
        #expect(message("JPEG", ["Byte"], paletted: true)?.contains("paletted") == true)
        #expect(message("JPEG", Array(repeating: "Byte", count: 5)) != nil)
        for count in 1...4 { #expect(message("JPEG", Array(repeating: "Byte", count: count)) == nil) }
        #expect(message("LERC", ["CFloat32"]) != nil)
        #expect(message("LERC_ZSTD", ["CInt16"]) != nil)
        for type in ["Byte", "Int16", "UInt16", "Int32", "UInt32", "Float32", "Float64"] {
            #expect(message("LERC", [type]) == nil)
            #expect(message("DEFLATE", [type]) == nil)
        }
    }

    @Test("a refused compression writes nothing: WEBP on 1-band Float32, JPEG on Int16, JPEG on a palette",
          arguments: [("WEBP", "nan_nodata.tif", "1 Float32 band"), ("JPEG", "real:cog_int16.tif", "1 Int16 band"),
                      ("JPEG", "paletted.tif", "1 paletted Byte band"), ("WEBP", "rotated.tif", "1 Byte band")])
    func refusedBeforeWriting(compression: String, raster: String, described: String) throws {
        let directory = TemporaryDirectory()
        defer { directory.remove() }
        let output = directory.file("out.tif")
        let source = raster.hasPrefix("real:") ? TestRasters.real(String(raster.dropFirst(5))) : TestRasters.sample(raster)
        do {
            _ = try Dataset.open(source).writeCOG(to: output, options: COGOptions(compression: compression))
            Issue.record("\(compression) on \(raster) was written")
        } catch let RasterError.invalidOption(text) {
            #expect(text.hasPrefix("--compression \(compression) "), "\(text)")
            #expect(text.contains(described), "\(text)")
        }
        #expect(try FileManager.default.contentsOfDirectory(atPath: directory.path).isEmpty)
    }

    @Test("an error GDAL reports while encoding fails the write, as a write failure, and leaves no file",
          arguments: [("WEBP", "rotated.tif"), ("WEBP", "nan_nodata.tif"), ("JPEG", "real:cog_int16.tif")])
    func encodingErrorsAreNotSwallowed(compression: String, raster: String) throws {
        let directory = TemporaryDirectory()
        defer { directory.remove() }
        let output = directory.file("out.tif")
        let source = raster.hasPrefix("real:") ? TestRasters.real(String(raster.dropFirst(5))) : TestRasters.sample(raster)
        for threads in ["1", "ALL_CPUS"] {
            // Past the up-front check, straight to GDAL: what it reports must not become a success.
            do {
                _ = try Dataset.open(source).createCOG(at: output, options: COGOptions(compression: compression, threads: threads),
                                                       progress: ProgressSink())
                Issue.record("\(compression) on \(raster) (threads \(threads)) reported success")
            } catch let RasterError.writeFailed(path, reason) {
                #expect(path.contains("COMPRESS=\(compression)"), "\(path)")
                #expect(!reason.isEmpty)
            }
            #expect(try FileManager.default.contentsOfDirectory(atPath: directory.path).isEmpty)
        }
    }

    @Test("WEBP on RGB and RGBA Byte, JPEG on RGB, LERC on Float32 still write valid COGs",
          arguments: [("WEBP", "real:RGB.byte.tif"), ("WEBP", "real:cog_rgba.tif"), ("JPEG", "nodata_collar.tif"),
                      ("JPEG", "rotated.tif"), ("LERC", "nan_nodata.tif"), ("LERC_ZSTD", "real:cog_int16.tif")])
    func accepted(compression: String, raster: String) throws {
        let directory = TemporaryDirectory()
        defer { directory.remove() }
        let output = directory.file("out.tif")
        let source = raster.hasPrefix("real:") ? TestRasters.real(String(raster.dropFirst(5))) : TestRasters.sample(raster)
        let result = try Dataset.open(source).writeCOG(to: output, options: COGOptions(compression: compression))
        #expect(result.compression == compression)
        #expect(COGValidator.validate(path: output).isValid)
        let (valid, report) = GDALValidator.validate(output)
        #expect(valid, "\(report)")
    }
}
