import Foundation

/// OGC WMTS 1.0.0 capabilities (RESTful) of one layer in WebMercatorQuad.
public enum WMTSCapabilities {
    static let tileMatrixSet = "WebMercatorQuad"
    /// The top left corner to full precision: with the 7 decimals of the GoogleMapsCompatible scale
    /// set, ±180° falls a fraction of a millimetre outside the matrix and GDAL (from zoom 9 on) adds
    /// a column of pixels to a layer that spans all longitudes.
    static let topLeftCorner = "\(-WebMercatorQuad.halfWorld) \(WebMercatorQuad.halfWorld)"

    /// The capabilities document of `layer`. `resources` are (MIME type, URL template) pairs, e.g.
    /// ("image/png", "http://host/layers/x/tiles/{TileMatrix}/{TileCol}/{TileRow}.png?access_token=abc"),
    /// one Format and one tile ResourceURL each; `serviceURL` is where this document is served.
    ///
    /// The tile matrix set has the levels 0 to the layer's maximum zoom; the layer's limits cover
    /// its bounds (all columns when it crosses the antimeridian) from its minimum zoom on.
    public static func document(_ layer: TileLayerDescription, resources: [(format: String, template: String)],
                                serviceURL: String) -> String {
        let bounds = MercatorBounds(layer.bounds)
        let zooms = layer.zoomRange
        let name = xmlEscaped(layer.name)
        let box = boundingBox(of: bounds, zoom: zooms.upperBound)
        var xml = """
            <?xml version="1.0" encoding="UTF-8"?>
            <Capabilities xmlns="http://www.opengis.net/wmts/1.0" xmlns:ows="http://www.opengis.net/ows/1.1" \
            xmlns:xlink="http://www.w3.org/1999/xlink" xmlns:xsi="http://www.w3.org/2001/XMLSchema-instance" \
            xsi:schemaLocation="http://www.opengis.net/wmts/1.0 http://schemas.opengis.net/wmts/1.0/wmtsGetCapabilities_response.xsd" \
            version="1.0.0">
              <ows:ServiceIdentification>
                <ows:Title>\(name)</ows:Title>
                <ows:ServiceType>OGC WMTS</ows:ServiceType>
                <ows:ServiceTypeVersion>1.0.0</ows:ServiceTypeVersion>
              </ows:ServiceIdentification>
              <Contents>
                <Layer>
                  <ows:Title>\(name)</ows:Title>
                  <ows:WGS84BoundingBox crs="urn:ogc:def:crs:OGC:2:84">
                    <ows:LowerCorner>\(box.west) \(box.south)</ows:LowerCorner>
                    <ows:UpperCorner>\(box.east) \(box.north)</ows:UpperCorner>
                  </ows:WGS84BoundingBox>
                  <ows:Identifier>\(name)</ows:Identifier>
                  <Style isDefault="true">
                    <ows:Identifier>default</ows:Identifier>
                  </Style>

            """
        for resource in resources {
            xml += "      <Format>\(xmlEscaped(resource.format))</Format>\n"
        }
        xml += """
                  <TileMatrixSetLink>
                    <TileMatrixSet>\(tileMatrixSet)</TileMatrixSet>
                    <TileMatrixSetLimits>

            """
        for zoom in zooms {
            let limits = tileLimits(of: bounds, zoom: zoom)
            xml += """
                          <TileMatrixLimits>
                            <TileMatrix>\(zoom)</TileMatrix>
                            <MinTileRow>\(limits.rows.lowerBound)</MinTileRow>
                            <MaxTileRow>\(limits.rows.upperBound)</MaxTileRow>
                            <MinTileCol>\(limits.columns.lowerBound)</MinTileCol>
                            <MaxTileCol>\(limits.columns.upperBound)</MaxTileCol>
                          </TileMatrixLimits>

                """
        }
        xml += """
                    </TileMatrixSetLimits>
                  </TileMatrixSetLink>

            """
        for resource in resources {
            xml += """
                      <ResourceURL format="\(xmlEscaped(resource.format))" resourceType="tile" \
                template="\(xmlEscaped(resource.template))"/>

                """
        }
        xml += """
                </Layer>
                <TileMatrixSet>
                  <ows:Identifier>\(tileMatrixSet)</ows:Identifier>
                  <ows:SupportedCRS>urn:ogc:def:crs:EPSG::3857</ows:SupportedCRS>
                  <WellKnownScaleSet>urn:ogc:def:wkss:OGC:1.0:GoogleMapsCompatible</WellKnownScaleSet>

            """
        for zoom in 0...zooms.upperBound {
            let matrixSize = 1 << zoom
            xml += """
                      <TileMatrix>
                        <ows:Identifier>\(zoom)</ows:Identifier>
                        <ScaleDenominator>\(scaleDenominator(zoom: zoom))</ScaleDenominator>
                        <TopLeftCorner>\(topLeftCorner)</TopLeftCorner>
                        <TileWidth>\(WebMercatorQuad.tileSize)</TileWidth>
                        <TileHeight>\(WebMercatorQuad.tileSize)</TileHeight>
                        <MatrixWidth>\(matrixSize)</MatrixWidth>
                        <MatrixHeight>\(matrixSize)</MatrixHeight>
                      </TileMatrix>

                """
        }
        xml += """
                </TileMatrixSet>
              </Contents>
              <ServiceMetadataURL xlink:href="\(xmlEscaped(serviceURL))"/>
            </Capabilities>

            """
        return xml
    }

    /// The layer's WGS84BoundingBox: all longitudes when it crosses the antimeridian, and at least a
    /// pixel of `zoom` on each side, as GDAL opens the layer as a raster of this box at the deepest
    /// level and fails on one of no pixels.
    static func boundingBox(of bounds: MercatorBounds, zoom: Int) -> (west: Double, south: Double, east: Double, north: Double) {
        let pixel = WebMercatorQuad.resolution(zoom: zoom)
        /// `low...high` (metres) grown about its middle to a pixel, within the world.
        func grown(_ low: Double, _ high: Double) -> (Double, Double) {
            let start = min(WebMercatorQuad.halfWorld - pixel, max(-WebMercatorQuad.halfWorld, (low + high - pixel) / 2))
            return (start, start + pixel)
        }
        var (west, east) = (bounds.unwrappedWest, bounds.unwrappedEast)
        var (south, north) = (bounds.south, bounds.north)
        let southWest = WebMercatorQuad.metres(longitude: west, latitude: south)
        let northEast = WebMercatorQuad.metres(longitude: east, latitude: north)
        if northEast.x - southWest.x < pixel {
            let x = grown(southWest.x, northEast.x)
            (west, east) = (WebMercatorQuad.degrees(x: x.0, y: 0).longitude, WebMercatorQuad.degrees(x: x.1, y: 0).longitude)
        }
        if northEast.y - southWest.y < pixel {
            let y = grown(southWest.y, northEast.y)
            (south, north) = (WebMercatorQuad.degrees(x: 0, y: y.0).latitude, WebMercatorQuad.degrees(x: 0, y: y.1).latitude)
        }
        return (west, south, east, north)
    }

    static func scaleDenominator(zoom: Int) -> Double {
        WebMercatorQuad.scaleDenominatorAtZero / Double(1 << zoom)
    }

    /// The rows and columns of tiles at `zoom` that `bounds` touches.
    static func tileLimits(of bounds: MercatorBounds, zoom: Int) -> (rows: ClosedRange<Int>, columns: ClosedRange<Int>) {
        let count = Double(1 << zoom)
        let world = 2 * WebMercatorQuad.halfWorld
        let northWest = WebMercatorQuad.metres(longitude: bounds.west, latitude: bounds.north)
        let southEast = WebMercatorQuad.metres(longitude: bounds.east, latitude: bounds.south)
        let rows = span((WebMercatorQuad.halfWorld - northWest.y) / world * count,
                        (WebMercatorQuad.halfWorld - southEast.y) / world * count, count: count)
        let columns = bounds.crossesAntimeridian
            ? 0...Int(count) - 1
            : span((northWest.x + WebMercatorQuad.halfWorld) / world * count,
                   (southEast.x + WebMercatorQuad.halfWorld) / world * count, count: count)
        return (rows, columns)
    }

    /// The tiles from `start` to `end` (in tiles from the matrix's edge, `start` ≤ `end`). An edge
    /// that falls on a tile boundary, give or take rounding, takes no tile beyond it.
    private static func span(_ start: Double, _ end: Double, count: Double) -> ClosedRange<Int> {
        let tolerance = 1e-6
        let first = min(count - 1, max(0, (start + tolerance).rounded(.down)))
        let last = min(count - 1, max(first, (end - tolerance).rounded(.up) - 1))
        return Int(first)...Int(last)
    }

    /// Text made safe for XML element content and attribute values alike. Characters XML 1.0 cannot
    /// hold at all (most control characters) become U+FFFD.
    static func xmlEscaped(_ text: String) -> String {
        var escaped = ""
        escaped.reserveCapacity(text.utf8.count)
        for scalar in text.unicodeScalars {
            switch scalar {
            case "&": escaped += "&amp;"
            case "<": escaped += "&lt;"
            case ">": escaped += "&gt;"
            case "\"": escaped += "&quot;"
            case "'": escaped += "&apos;"
            // Kept as references so attribute value normalisation does not turn them into spaces.
            case "\t": escaped += "&#9;"
            case "\n": escaped += "&#10;"
            case "\r": escaped += "&#13;"
            case "\u{0}"..."\u{1F}", "\u{FFFE}", "\u{FFFF}": escaped += "\u{FFFD}"
            default: escaped.unicodeScalars.append(scalar)
            }
        }
        return escaped
    }
}
