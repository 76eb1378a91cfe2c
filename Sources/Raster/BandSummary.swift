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

    private enum CodingKeys: String, CodingKey {
        case dataType, colorInterpretation, nodata, minimum, maximum, mean, standardDeviation, percentile2,
             percentile98, palette
    }

    // JSON has no NaN or infinity: nodata is then "nan", "inf" or "-inf", as STAC's raster extension writes it.
    public init(from decoder: Decoder) throws {
        let container = try decoder.container(keyedBy: CodingKeys.self)
        dataType = try container.decode(String.self, forKey: .dataType)
        colorInterpretation = try container.decode(String.self, forKey: .colorInterpretation)
        if let text = try? container.decodeIfPresent(String.self, forKey: .nodata) {
            nodata = ["nan": Double.nan, "inf": .infinity, "-inf": -.infinity][text]
        } else {
            nodata = try container.decodeIfPresent(Double.self, forKey: .nodata)
        }
        minimum = try container.decodeIfPresent(Double.self, forKey: .minimum)
        maximum = try container.decodeIfPresent(Double.self, forKey: .maximum)
        mean = try container.decodeIfPresent(Double.self, forKey: .mean)
        standardDeviation = try container.decodeIfPresent(Double.self, forKey: .standardDeviation)
        percentile2 = try container.decodeIfPresent(Double.self, forKey: .percentile2)
        percentile98 = try container.decodeIfPresent(Double.self, forKey: .percentile98)
        palette = try container.decodeIfPresent([[Int]].self, forKey: .palette)
    }

    public func encode(to encoder: Encoder) throws {
        var container = encoder.container(keyedBy: CodingKeys.self)
        try container.encode(dataType, forKey: .dataType)
        try container.encode(colorInterpretation, forKey: .colorInterpretation)
        switch nodata {
        case let value? where value.isNaN: try container.encode("nan", forKey: .nodata)
        case let value? where value.isInfinite: try container.encode(value > 0 ? "inf" : "-inf", forKey: .nodata)
        case let value?: try container.encode(value, forKey: .nodata)
        case nil: break
        }
        try container.encodeIfPresent(minimum, forKey: .minimum)
        try container.encodeIfPresent(maximum, forKey: .maximum)
        try container.encodeIfPresent(mean, forKey: .mean)
        try container.encodeIfPresent(standardDeviation, forKey: .standardDeviation)
        try container.encodeIfPresent(percentile2, forKey: .percentile2)
        try container.encodeIfPresent(percentile98, forKey: .percentile98)
        try container.encodeIfPresent(palette, forKey: .palette)
    }

    /// NaN compares unequal to itself; two summaries with NaN nodata are still the same summary.
    public static func == (a: BandSummary, b: BandSummary) -> Bool {
        let sameNodata = a.nodata == b.nodata || (a.nodata?.isNaN == true && b.nodata?.isNaN == true)
        return sameNodata && a.dataType == b.dataType && a.colorInterpretation == b.colorInterpretation
            && a.minimum == b.minimum && a.maximum == b.maximum && a.mean == b.mean
            && a.standardDeviation == b.standardDeviation && a.percentile2 == b.percentile2
            && a.percentile98 == b.percentile98 && a.palette == b.palette
    }
}

/// A summary of every band of the raster at `path` (opened with the GTiff driver). Statistics are
/// approximate (GDAL reads an overview when there is one) and skip nodata pixels. GDAL keeps a computed
/// histogram in its `.aux.xml` sidecar, written when the dataset closes: the file is opened without
/// that, so nothing is written beside a stored raster.
public func bandSummaries(path: String) throws -> [BandSummary] {
    try GDALRuntime.withThreadLocalOptions([("GDAL_PAM_ENABLED", "NO")]) {
        let dataset = try Dataset.open(path)
        return try dataset.bands.map { try $0.summary() }
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
