import CGDAL
import Foundation

/// What `inspect` sees in a raster: everything later steps and the catalog need, and nothing GDAL
/// would have to read pixels for.
public struct RasterInfo: Codable, Sendable, Equatable {
    public struct BandInfo: Codable, Sendable, Equatable {
        public var index: Int
        public var dataType: String
        public var noData: String?
        public var colorInterpretation: String
        public var maskFlags: [String]
        public var colorTableEntries: Int?
        public var description: String?
        public var overviews: Int
    }

    public enum Georeferencing: String, Codable, Sendable {
        case geoTransform, gcps, none
    }

    public var path: String
    public var driver: String
    public var width: Int
    public var height: Int
    public var bandCount: Int
    public var dataType: String
    public var bands: [BandInfo]
    public var georeferencing: Georeferencing
    public var geoTransform: [Double]?
    public var rotated: Bool
    public var southUp: Bool
    public var gcpCount: Int
    public var crs: String?
    public var crsName: String?
    public var resolution: [Double]?
    public var noData: String?
    /// Where "valid pixel" comes from: "all valid", "nodata", "alpha band", "mask".
    public var validity: String
    public var compression: String?
    public var layout: String?
    public var blockSize: [Int]
    public var files: [String]
}

extension Dataset {
    /// Reads the raster's structure: size, bands, types, CRS, geotransform or GCPs, nodata, masks.
    public func inspect() -> RasterInfo {
        let bands = self.bands
        let bandInfos = bands.enumerated().map { offset, band in
            RasterInfo.BandInfo(
                index: offset + 1,
                dataType: band.dataType,
                noData: band.noDataValue.map(formatNoData),
                colorInterpretation: band.colorInterpretation,
                maskFlags: band.maskFlags.names,
                colorTableEntries: band.hasColorTable ? band.colorTableEntryCount : nil,
                description: band.description.isEmpty ? nil : band.description,
                overviews: band.overviewCount)
        }
        let transform = geoTransform
        let georeferencing: RasterInfo.Georeferencing =
            transform != nil ? .geoTransform : (gcpCount > 0 ? .gcps : .none)
        let srs = transform != nil ? spatialReference : (gcpCount > 0 ? gcpSpatialReference : spatialReference)
        let imageStructure = metadata(domain: "IMAGE_STRUCTURE")
        let firstBlock = bands.first?.blockSize ?? (width: 0, height: 0)
        return RasterInfo(
            path: path,
            driver: driverName,
            width: width,
            height: height,
            bandCount: bandCount,
            dataType: Set(bandInfos.map(\.dataType)).sorted().joined(separator: ","),
            bands: bandInfos,
            georeferencing: georeferencing,
            geoTransform: transform?.coefficients,
            rotated: transform?.isRotated ?? false,
            southUp: transform?.isSouthUp ?? false,
            gcpCount: gcpCount,
            crs: srs?.identifier,
            crsName: srs?.name,
            resolution: transform.map { [$0.resolution.x, $0.resolution.y] },
            noData: bandInfos.first?.noData,
            validity: validitySource(of: dataBands),
            compression: imageStructure["COMPRESSION"],
            layout: imageStructure["LAYOUT"],
            blockSize: [firstBlock.width, firstBlock.height],
            files: fileList)
    }
}

func validitySource(of bands: [Band]) -> String {
    guard let first = bands.first else { return "all valid" }
    if bands.contains(where: { $0.maskFlags.contains(.allValid) }) { return "all valid" }
    let flags = first.maskFlags
    if flags.contains(.alpha) { return "alpha band" }
    if flags.contains(.perDataset) { return "mask" }
    return "nodata"
}

/// Nodata as text: integers without a fraction, NaN as "nan" (JSON has no NaN).
public func formatNoData(_ value: Double) -> String {
    if value.isNaN { return "nan" }
    if value.isInfinite { return value > 0 ? "inf" : "-inf" }
    if value == value.rounded(), abs(value) < 1e15 { return String(Int64(value)) }
    return String(value)
}
