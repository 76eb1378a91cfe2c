import Foundation

/// Adds vertices along footprint edges until reprojecting them to lon/lat bends the outline by no more
/// than `maxErrorPixels` of a source pixel. Straight edges in the raster's grid become curves in
/// EPSG:4326; the error is measured in pixels, so the tolerance means the same on every raster.
struct EdgeDensifier {
    let georeferencer: PixelGeoreferencer
    let toGeographic: CoordinateTransformation
    let maxErrorPixels: Double
    let maxDepth = 10

    /// Maps a ring given in pixel/line coordinates to the native CRS, vertex for vertex.
    func mapToNative(_ ring: [(Double, Double)]) throws -> [(Double, Double)] {
        var xs = ring.map(\.0), ys = ring.map(\.1)
        guard georeferencer.map(xs: &xs, ys: &ys) else {
            throw RasterError.reprojectionFailed(reason: "pixel coordinates could not be georeferenced")
        }
        return Array(zip(xs, ys))
    }

    /// The ring in the native CRS with enough vertices that its lon/lat image is within tolerance.
    func densifiedNative(_ ring: [(Double, Double)]) throws -> [(Double, Double)] {
        guard ring.count > 1 else { return try mapToNative(ring) }
        var pixels: [(Double, Double)] = [ring[0]]
        var start = try geographic(ring[0])
        for next in ring.dropFirst() {
            let end = try geographic(next)
            try subdivide(from: pixels[pixels.count - 1], to: next, start, end, depth: 0, into: &pixels)
            pixels.append(next)
            start = end
        }
        return try mapToNative(pixels)
    }

    private func subdivide(from a: (Double, Double), to b: (Double, Double),
                           _ lonLatA: (Double, Double), _ lonLatB: (Double, Double),
                           depth: Int, into output: inout [(Double, Double)]) throws {
        guard depth < maxDepth else { return }
        let middle = ((a.0 + b.0) / 2, (a.1 + b.1) / 2)
        // The true image of the midpoint, and of one pixel step along each axis from it.
        let points = try geographic([middle, (middle.0 + 1, middle.1), (middle.0, middle.1 + 1)])
        let trueMiddle = points[0]
        let chordMiddle = (lonLatA.0 + longitudeDelta(lonLatB.0, lonLatA.0) / 2, (lonLatA.1 + lonLatB.1) / 2)
        let deviation = (longitudeDelta(chordMiddle.0, trueMiddle.0), chordMiddle.1 - trueMiddle.1)
        // Jacobian columns: lon/lat change per pixel step; solve J * d = deviation for d in pixels.
        let j00 = longitudeDelta(points[1].0, trueMiddle.0), j10 = points[1].1 - trueMiddle.1
        let j01 = longitudeDelta(points[2].0, trueMiddle.0), j11 = points[2].1 - trueMiddle.1
        let determinant = j00 * j11 - j01 * j10
        let errorPixels: Double
        if abs(determinant) < 1e-300 {
            errorPixels = .infinity
        } else {
            let dx = (j11 * deviation.0 - j01 * deviation.1) / determinant
            let dy = (-j10 * deviation.0 + j00 * deviation.1) / determinant
            errorPixels = (dx * dx + dy * dy).squareRoot()
        }
        guard errorPixels > maxErrorPixels else { return }
        try subdivide(from: a, to: middle, lonLatA, trueMiddle, depth: depth + 1, into: &output)
        output.append(middle)
        try subdivide(from: middle, to: b, trueMiddle, lonLatB, depth: depth + 1, into: &output)
    }

    private func geographic(_ pixel: (Double, Double)) throws -> (Double, Double) {
        try geographic([pixel])[0]
    }

    private func geographic(_ pixels: [(Double, Double)]) throws -> [(Double, Double)] {
        var xs = pixels.map(\.0), ys = pixels.map(\.1)
        guard georeferencer.map(xs: &xs, ys: &ys), toGeographic.transform(xs: &xs, ys: &ys) else {
            throw RasterError.reprojectionFailed(
                reason: "part of the raster lies outside the area where its CRS can be converted to lon/lat")
        }
        return Array(zip(xs, ys))
    }
}

/// a - b in degrees of longitude, taking the short way round the antimeridian.
func longitudeDelta(_ a: Double, _ b: Double) -> Double {
    remainder(a - b, 360)
}
