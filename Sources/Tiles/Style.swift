import Raster

/// How one raster's bands become a tile's colours: which bands, the range each is stretched from,
/// and grey, RGB or a colour table (the raster's palette or a named colormap).
struct Style {
    struct Color {
        var red: UInt8
        var green: UInt8
        var blue: UInt8
        var alpha: UInt8
    }

    enum Coloring {
        case rgb
        case grey
        /// 256 colours indexed by the (stretched) value of the one band.
        case lookup([Color])
    }

    /// 1-based numbers among the data bands.
    let bands: [Int]
    let coloring: Coloring
    /// Per drawn band: the range stretched to 0-255, nil to take values as they are (8-bit data and
    /// palette indexes).
    let ranges: [ClosedRange<Double>?]

    /// - Parameters:
    ///   - available: the raster's data bands (alpha bands are not counted).
    ///   - summaries: their summaries, in the same order.
    ///   - statistics: stretch ranges by band number that replace the raster's own (a catalog's).
    init(options: RenderOptions, available: Int, summaries: [BandSummary],
         statistics: [Int: ClosedRange<Double>]?) throws {
        // A colormap colours one band: the first unless `bands` names another.
        let bands = options.bands ?? (available >= 3 && options.colormap == nil ? [1, 2, 3] : [1])
        if let rescale = options.rescale, rescale.count != 1, rescale.count != bands.count {
            throw TileRequestError.invalid(parameter: "rescale",
                                           message: "give one range, or one per drawn band (\(bands.count) here)")
        }
        if let missing = bands.first(where: { $0 > available }) {
            throw TileRequestError.invalid(parameter: "bands",
                                           message: "band \(missing) does not exist: the raster has \(available) data band\(available == 1 ? "" : "s")")
        }
        self.bands = bands
        let summary = { (band: Int) in summaries.indices.contains(band - 1) ? summaries[band - 1] : nil }

        if bands.count == 1, options.rescale == nil, options.colormap == nil, let palette = summary(bands[0])?.palette {
            coloring = .lookup((0..<256).map { index in
                guard index < palette.count, palette[index].count == 4 else { return Color(red: 0, green: 0, blue: 0, alpha: 0) }
                let entry = palette[index].map { UInt8(clamping: $0) }
                return Color(red: entry[0], green: entry[1], blue: entry[2], alpha: entry[3])
            })
            ranges = [nil]
            return
        }
        if let name = options.colormap, let colormap = Colormap.named(name) {
            coloring = .lookup(colormap.colors.map { Color(red: $0.red, green: $0.green, blue: $0.blue, alpha: 255) })
        } else {
            coloring = bands.count == 3 ? .rgb : .grey
        }
        ranges = bands.enumerated().map { position, band in
            if let rescale = options.rescale { return rescale.count == 1 ? rescale[0] : rescale[position] }
            let bandSummary = summary(band)
            if bandSummary?.dataType == "Byte" { return nil }
            if let range = statistics?[band] { return range }
            guard let low = bandSummary?.percentile2 ?? bandSummary?.minimum,
                  let high = bandSummary?.percentile98 ?? bandSummary?.maximum else { return nil }
            return low...(high > low ? high : low + 1)
        }
    }

    /// One band's values stretched by its range to bytes, clamped; NaN is 0.
    func bytes(_ values: [Float], channel: Int) -> [UInt8] {
        let range = ranges[channel] ?? 0...255
        let low = Float(range.lowerBound)
        let scale = 255 / Float(range.upperBound - range.lowerBound)
        return values.map { value in
            let scaled = (value - low) * scale + 0.5
            // Comparisons are false for NaN, which lands on 0.
            return scaled >= 255 ? 255 : scaled >= 0.5 ? UInt8(scaled) : 0
        }
    }
}
