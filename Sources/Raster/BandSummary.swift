import CGDAL
import Foundation

/// What a map needs to draw one band the same way on every tile: its type, validity and value
/// statistics computed once over the whole raster (from an overview, approximately, as QGIS does),
/// and the colour table of a paletted band.
public struct BandSummary: Codable, Sendable, Equatable {
    public var dataType: String
    public var colorInterpretation: String
    public var nodata: Double?
    public var minimum: Double?
    public var maximum: Double?
    public var mean: Double?
    public var standardDeviation: Double?
    /// The 2nd and 98th percentiles: the default stretch of non-byte data (QGIS's cumulative cut).
    public var percentile2: Double?
    public var percentile98: Double?
    /// The colour table as [red, green, blue, alpha] entries, for a paletted band.
    public var palette: [[Int]]?

    public init(dataType: String, colorInterpretation: String, nodata: Double? = nil, minimum: Double? = nil,
                maximum: Double? = nil, mean: Double? = nil, standardDeviation: Double? = nil,
                percentile2: Double? = nil, percentile98: Double? = nil, palette: [[Int]]? = nil) {
        self.dataType = dataType
        self.colorInterpretation = colorInterpretation
        self.nodata = nodata
        self.minimum = minimum
        self.maximum = maximum
        self.mean = mean
        self.standardDeviation = standardDeviation
        self.percentile2 = percentile2
        self.percentile98 = percentile98
        self.palette = palette
    }

    public var isAlpha: Bool { colorInterpretation == "Alpha" }
}

extension Dataset {
    /// A summary of every band. Statistics are approximate (GDAL reads an overview when there is one)
    /// and skip nodata and masked pixels; nothing is written beside the file.
    public func bandSummaries() throws -> [BandSummary] {
        try withoutAuxiliaryFiles {
            try bands.map { try $0.summary() }
        }
    }

    /// GDAL keeps computed statistics in a `.aux.xml` written when the dataset closes: not beside a
    /// stored raster.
    private func withoutAuxiliaryFiles<T>(_ body: () throws -> T) rethrows -> T {
        let saved = CPLGetThreadLocalConfigOption("GDAL_PAM_ENABLED", nil).map { String(cString: $0) }
        CPLSetThreadLocalConfigOption("GDAL_PAM_ENABLED", "NO")
        defer { CPLSetThreadLocalConfigOption("GDAL_PAM_ENABLED", saved) }
        return try body()
    }
}

extension Band {
    func summary() throws -> BandSummary {
        var summary = BandSummary(dataType: dataType, colorInterpretation: colorInterpretation, nodata: noDataValue)
        if let table = GDALGetRasterColorTable(handle) {
            summary.palette = (0..<GDALGetColorEntryCount(table)).map { index in
                guard let entry = GDALGetColorEntry(table, index)?.pointee else { return [0, 0, 0, 0] }
                return [Int(entry.c1), Int(entry.c2), Int(entry.c3), Int(entry.c4)]
            }
        }
        guard !isAlpha else { return summary }
        var minimum = 0.0, maximum = 0.0, mean = 0.0, deviation = 0.0
        CPLErrorReset()
        let status = GDALComputeRasterStatistics(handle, 1, &minimum, &maximum, &mean, &deviation, nil, nil)
        // A band with no valid pixel has no statistics; that is not an error for the summary.
        guard status == CE_None, minimum.isFinite, maximum.isFinite else { return summary }
        summary.minimum = minimum
        summary.maximum = maximum
        summary.mean = mean
        summary.standardDeviation = deviation
        (summary.percentile2, summary.percentile98) = percentiles(minimum: minimum, maximum: maximum)
        return summary
    }

    /// The 2nd and 98th percentiles from GDAL's approximate histogram between the band's extremes.
    private func percentiles(minimum: Double, maximum: Double) -> (Double?, Double?) {
        guard maximum > minimum else { return (minimum, maximum) }
        let bucketCount = 1024
        var counts = [GUIntBig](repeating: 0, count: bucketCount)
        // Half-bucket margins keep the extremes inside the first and last buckets.
        let step = (maximum - minimum) / Double(bucketCount - 1)
        let status = counts.withUnsafeMutableBufferPointer { buffer in
            GDALGetRasterHistogramEx(handle, minimum - step / 2, maximum + step / 2, Int32(bucketCount),
                                     buffer.baseAddress, 0, 1, nil, nil)
        }
        let total = counts.reduce(0, +)
        guard status == CE_None, total > 0 else { return (nil, nil) }
        func value(at fraction: Double) -> Double {
            let target = GUIntBig((Double(total) * fraction).rounded(.down))
            var seen: GUIntBig = 0
            for (index, count) in counts.enumerated() {
                seen += count
                if seen > target { return minimum + Double(index) * step }
            }
            return maximum
        }
        return (value(at: 0.02), value(at: 0.98))
    }
}
