import ArgumentParser
import Catalog
import Foundation
import Raster

struct InfoCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "info", abstract: "What inspect and footprint see in a raster, and whether it is a COG.")

    @Argument(help: "A raster file.") var file: String
    @Flag(help: "Print JSON.") var json = false

    struct Report: Encodable {
        var raster: RasterInfo
        var footprint: JSONValue?
        var footprintTraced: Bool?
        var footprintVertices: Int?
        var footprintError: String?
        var cog: COGStructure
    }

    func run() async throws {
        let dataset: Dataset
        do {
            dataset = try Dataset.open(file)
        } catch {
            Output.error(String(describing: error))
            throw ExitCode.failure
        }
        var report = Report(raster: dataset.inspect(), cog: COGValidator.validate(path: file))
        do {
            let footprint = try dataset.footprint(FootprintOptions(polygonize: true))
            report.footprint = try JSONValue.parse(footprint.geographic.geoJSON())
            report.footprintTraced = footprint.traced
            report.footprintVertices = footprint.geographic.vertexCount
        } catch {
            report.footprintError = String(describing: error)
        }
        if json {
            try Output.printJSON(report)
            return
        }
        let raster = report.raster
        print("\(file): \(raster.driver) \(raster.width)x\(raster.height), \(raster.bandCount) band(s) of \(raster.dataType)")
        print("  CRS: \(raster.crs.map { $0.hasPrefix("EPSG:") ? $0 : raster.crsName ?? "custom" } ?? "none")"
            + "  georeferencing: \(raster.georeferencing.rawValue)"
            + (raster.rotated ? " (rotated)" : "") + (raster.southUp ? " (south-up)" : ""))
        print("  nodata: \(raster.noData ?? "none")  valid pixels from: \(raster.validity)")
        for band in raster.bands {
            print("  band \(band.index): \(band.dataType) \(band.colorInterpretation)"
                + (band.colorTableEntries.map { " palette(\($0))" } ?? "") + " mask: \(band.maskFlags.joined(separator: ","))")
        }
        if let error = report.footprintError {
            print("  footprint: \(error)")
        } else {
            print("  footprint: \(report.footprintTraced == true ? "traced valid pixels" : "bounding outline"), "
                + "\(report.footprintVertices ?? 0) vertices")
        }
        print("  COG: " + (report.cog.isValid ? "valid, \(report.cog.overviewCount) overview level(s)"
            : "no (\(report.cog.problems.first ?? ""))"))
        print("  files: \(raster.files.joined(separator: ", "))")
    }
}

struct ValidateCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "validate",
        abstract: "Check the COG layout of files by reading their TIFF structure.",
        discussion: "Checks: tiled, overviews ordered and decreasing, IFDs before data, tile data ordered "
            + "(smallest overview first). Exit 0 only when every file is a valid COG.")

    @Argument(help: "Files to check.") var files: [String]

    func run() async throws {
        var allValid = true
        for file in files {
            let structure = COGValidator.validate(path: file)
            if structure.isValid {
                print("\(file): valid COG, \(structure.overviewCount) overview level(s), \(structure.tileCount) tiles")
            } else {
                allValid = false
                print("\(file): not a valid COG")
                for problem in structure.problems { print("  - \(problem)") }
            }
        }
        if !allValid { throw ExitCode.failure }
    }
}
