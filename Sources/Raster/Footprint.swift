import CGDAL
import Foundation

public struct FootprintOptions: Sendable, Equatable {
    /// Trace the outline of the valid pixels (true) or take the raster's corner outline (false).
    public var polygonize: Bool
    /// The valid-pixel mask is read decimated so that its longer side has at most this many cells.
    public var maxGridSide: Int
    /// Simplification tolerance, in cells of that grid (so "about one pixel" of what was traced).
    public var simplifyCells: Double
    /// Densify edges until the reprojected outline is within this many pixels of the true one.
    public var maxReprojectionErrorPixels: Double

    public init(polygonize: Bool, maxGridSide: Int = 2048, simplifyCells: Double = 1,
                maxReprojectionErrorPixels: Double = 0.5) {
        self.polygonize = polygonize
        self.maxGridSide = maxGridSide
        self.simplifyCells = simplifyCells
        self.maxReprojectionErrorPixels = maxReprojectionErrorPixels
    }

    /// The exact outline of the valid pixels at full resolution, unsimplified: the reference that
    /// reduced-resolution footprints are measured against.
    public static let fullResolutionTruth = FootprintOptions(polygonize: true, maxGridSide: .max, simplifyCells: 0)
}

/// A raster's footprint: in EPSG:4326 for the catalog and in the raster's own CRS for metadata.
public struct Footprint {
    public let geographic: Geometry
    public let native: Geometry
    public let nativeCRS: SpatialReference
    /// True when the outline was traced from valid pixels, false when it is the corner outline.
    public let traced: Bool
    /// Source pixels per cell of the grid the outline was traced on (1 = full resolution).
    public let gridScale: Double
}

extension Dataset {
    public func footprint(_ options: FootprintOptions, progress: ProgressSink = ProgressSink()) throws -> Footprint {
        let georeferencer = try PixelGeoreferencer(dataset: self)
        var pixelOutline: Geometry
        var traced = false
        var gridScale = 1.0
        if options.polygonize, let outline = try validPixelOutline(options, progress: progress.phase(0...0.9)) {
            pixelOutline = outline.geometry
            gridScale = outline.scale
            traced = true
        } else {
            let w = Double(width), h = Double(height)
            pixelOutline = Geometry(polygonRings: [[(0, 0), (w, 0), (w, h), (0, h), (0, 0)]])
        }
        try progress.throwIfCancelled()
        let wgs84 = SpatialReference.wgs84()
        let toWGS84 = try CoordinateTransformation(from: georeferencer.spatialReference, to: wgs84)
        let densifier = EdgeDensifier(georeferencer: georeferencer, toGeographic: toWGS84,
                                      maxErrorPixels: options.maxReprojectionErrorPixels)
        var nativeParts: [Geometry] = []
        var densifiedParts: [Geometry] = []
        for polygon in pixelOutline.polygons {
            let rings = polygon.rings
            nativeParts.append(Geometry(polygonRings: try rings.map { try densifier.mapToNative($0) }))
            densifiedParts.append(Geometry(polygonRings: try rings.map { try densifier.densifiedNative($0) }))
        }
        let native = nativeParts.count == 1 ? nativeParts[0] : Geometry(multiPolygonOf: nativeParts)
        let densified = densifiedParts.count == 1 ? densifiedParts[0] : Geometry(multiPolygonOf: densifiedParts)
        let geographic = try densified.transformed(with: toWGS84, wrapDateline: true)
        progress.update(1)
        return Footprint(geographic: geographic, native: native, nativeCRS: georeferencer.spatialReference,
                         traced: traced, gridScale: gridScale)
    }

    /// The outline of the valid pixels in pixel/line coordinates, or nil when every pixel is valid.
    /// Throws `noValidData` when no pixel is.
    func validPixelOutline(_ options: FootprintOptions,
                           progress: ProgressSink) throws -> (geometry: Geometry, scale: Double)? {
        let longerSide = max(width, height)
        let scale = max(1, Double(longerSide) / Double(max(1, options.maxGridSide)))
        let gridWidth = max(1, Int((Double(width) / scale).rounded(.up)))
        let gridHeight = max(1, Int((Double(height) / scale).rounded(.up)))
        guard let grid = try validityGrid(width: gridWidth, height: gridHeight, progress: progress.phase(0...0.6))
        else { return nil }
        if !grid.contains(where: { $0 != 0 }) { throw RasterError.noValidData(path: name) }
        if !grid.contains(0) { return nil }

        let cellWidth = Double(width) / Double(gridWidth)
        let cellHeight = Double(height) / Double(gridHeight)
        let traced = try polygonize(grid: grid, width: gridWidth, height: gridHeight,
                                    cellWidth: cellWidth, cellHeight: cellHeight,
                                    progress: progress.phase(0.6...0.95))
        guard options.simplifyCells > 0 else { return (traced, max(cellWidth, cellHeight)) }
        let tolerance = options.simplifyCells * max(cellWidth, cellHeight)
        let simplified = try traced.simplifiedPreservingTopology(tolerance: tolerance).madeValid()
        return (simplified.isEmpty ? traced : simplified, max(cellWidth, cellHeight))
    }

    /// Union of the valid pixels of all bands on a `width` x `height` grid (nearest sampling);
    /// nil when some band has no invalid pixels at all (the union is then the whole raster).
    private func validityGrid(width gridWidth: Int, height gridHeight: Int,
                              progress: ProgressSink) throws -> [UInt8]? {
        let bands = dataBands
        guard let first = bands.first else { throw RasterError.cannotOpen(path: name, reason: "it has no data bands") }
        if bands.contains(where: { $0.maskFlags.contains(.allValid) }) { return nil }
        let masks = first.maskFlags.contains(.perDataset) ? [first.maskBand] : bands.map(\.maskBand)
        var grid = [UInt8](repeating: 0, count: gridWidth * gridHeight)
        var scratch = grid
        for (index, mask) in masks.enumerated() {
            try progress.throwIfCancelled()
            CPLErrorReset()
            let target = index == 0 ? 0 : 1
            let ok = target == 0
                ? mask.readBytes(x: 0, y: 0, width: width, height: height,
                                 bufferWidth: gridWidth, bufferHeight: gridHeight, into: &grid)
                : mask.readBytes(x: 0, y: 0, width: width, height: height,
                                 bufferWidth: gridWidth, bufferHeight: gridHeight, into: &scratch)
            guard ok, CPLGetLastErrorType() != CE_Failure else {
                throw RasterError.unreadablePixels(path: name, reason: lastGDALErrorMessage() ?? "read failed")
            }
            if target == 1 {
                for cell in grid.indices where scratch[cell] != 0 { grid[cell] = 255 }
            }
            progress.update(Double(index + 1) / Double(masks.count))
        }
        return grid
    }

    /// Traces the non-zero cells of `grid` with GDALPolygonize into polygons in source pixel units.
    private func polygonize(grid: [UInt8], width gridWidth: Int, height gridHeight: Int,
                            cellWidth: Double, cellHeight: Double, progress: ProgressSink) throws -> Geometry {
        guard let memDriver = GDALGetDriverByName("MEM"), let vectorDriver = GDALGetDriverByName("Memory") else {
            throw RasterError.gdal("finding GDAL's in-memory drivers")
        }
        guard let gridHandle = GDALCreate(memDriver, "", Int32(gridWidth), Int32(gridHeight), 1, GDT_Byte, nil) else {
            throw RasterError.gdal("creating the validity grid")
        }
        let gridDataset = Dataset.adopt(gridHandle, path: "validity grid")
        try gridDataset.setGeoTransform(GeoTransform([0, cellWidth, 0, 0, 0, cellHeight]))
        let band = gridDataset.band(1)
        var cells = grid
        let written = cells.withUnsafeMutableBytes { raw in
            GDALRasterIO(band.handle, GF_Write, 0, 0, Int32(gridWidth), Int32(gridHeight), raw.baseAddress,
                         Int32(gridWidth), Int32(gridHeight), GDT_Byte, 0, 0)
        }
        guard written == CE_None else { throw RasterError.gdal("writing the validity grid") }

        guard let vectorHandle = GDALCreate(vectorDriver, "outline", 0, 0, 0, GDT_Unknown, nil) else {
            throw RasterError.gdal("creating an in-memory layer")
        }
        let vector = Dataset.adopt(vectorHandle, path: "outline")
        guard let layer = GDALDatasetCreateLayer(vectorHandle, "valid", nil, wkbPolygon, nil) else {
            throw RasterError.gdal("creating an in-memory layer")
        }
        let field = OGR_Fld_Create("value", OFTInteger)
        OGR_L_CreateField(layer, field, 1)
        OGR_Fld_Destroy(field)

        // The band is its own mask: only the valid (non-zero) cells become polygons.
        let result = ProgressBox(progress).withCallback { callback, argument in
            GDALPolygonize(band.handle, band.handle, layer, 0, nil, callback, argument)
        }
        guard result == CE_None else {
            try progress.throwIfCancelled()
            throw RasterError.gdal("tracing the valid pixels")
        }
        var parts: [Geometry] = []
        OGR_L_ResetReading(layer)
        while let feature = OGR_L_GetNextFeature(layer) {
            if let geometry = OGR_F_GetGeometryRef(feature) { parts.append(Geometry(copying: geometry)) }
            OGR_F_Destroy(feature)
        }
        withExtendedLifetime(vector) {}
        return parts.count == 1 ? parts[0] : Geometry(multiPolygonOf: parts)
    }
}
