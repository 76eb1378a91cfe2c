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
    /// and skip nodata pixels.
    public func bandSummaries() throws -> [BandSummary] {
        try Raster.bandSummaries(of: handle, owner: self)
    }
}

/// Summaries of the bands of a dataset opened elsewhere (map tiles keep their own handles; the
/// caller keeps the dataset open meanwhile).
package func bandSummaries(of handle: GDALDatasetH, owner: AnyObject = HandleOwnedElsewhere()) throws -> [BandSummary] {
    try (0..<Int(GDALGetRasterCount(handle))).map { index in
        try Band(handle: GDALGetRasterBand(handle, Int32(index + 1)), owner: owner).summary()
    }
}

package final class HandleOwnedElsewhere {
    package init() {}
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
        // Min/max and a histogram leave no trace in the dataset (GDAL's statistics call would
        // write them to a `.aux.xml` beside the raster when it closes).
        var extremes = [0.0, 0.0]
        CPLErrorReset()
        // A band with no valid pixel has no statistics; that is not an error for the summary.
        guard GDALComputeRasterMinMax(handle, 1, &extremes) == CE_None, extremes.allSatisfy(\.isFinite) else {
            return summary
        }
        summary.minimum = extremes[0]
        summary.maximum = extremes[1]
        if let histogram = histogram(minimum: extremes[0], maximum: extremes[1]) {
            summary.mean = histogram.mean
            summary.standardDeviation = histogram.standardDeviation
            summary.percentile2 = histogram.percentile(0.02)
            summary.percentile98 = histogram.percentile(0.98)
        }
        return summary
    }

    /// GDAL's approximate histogram between the band's extremes, one bucket per value for small
    /// integer ranges.
    private func histogram(minimum: Double, maximum: Double) -> Histogram? {
        let span = maximum - minimum
        let integral = gdalDataType != GDT_Float32 && gdalDataType != GDT_Float64
        let bucketCount = integral && span < 4096 ? Int(span) + 1 : 1024
        let step = bucketCount > 1 ? span / Double(bucketCount - 1) : 1
        var counts = [GUIntBig](repeating: 0, count: bucketCount)
        // Half-bucket margins put each extreme in the middle of the first and last buckets.
        let status = counts.withUnsafeMutableBufferPointer { buffer in
            GDALGetRasterHistogramEx(handle, minimum - step / 2, minimum + (Double(bucketCount) - 0.5) * step,
                                     Int32(bucketCount), buffer.baseAddress, 0, 1, nil, nil)
        }
        guard status == CE_None else { return nil }
        return Histogram(minimum: minimum, step: step, counts: counts)
    }
}

private struct Histogram {
    let minimum: Double
    let step: Double
    let counts: [GUIntBig]
    var total: Double { Double(counts.reduce(0, +)) }

    func value(_ index: Int) -> Double { minimum + Double(index) * step }

    var mean: Double? {
        guard total > 0 else { return nil }
        return counts.enumerated().reduce(0) { $0 + Double($1.element) * value($1.offset) } / total
    }

    var standardDeviation: Double? {
        guard let mean else { return nil }
        let variance = counts.enumerated().reduce(0) { $0 + Double($1.element) * pow(value($1.offset) - mean, 2) } / total
        return variance.squareRoot()
    }

    /// The value below which `fraction` of the pixels lie.
    func percentile(_ fraction: Double) -> Double? {
        guard total > 0 else { return nil }
        let target = total * fraction
        var seen = 0.0
        for (index, count) in counts.enumerated() {
            seen += Double(count)
            if seen > target { return value(index) }
        }
        return value(counts.count - 1)
    }
}
