import Catalog
import Foundation
#if canImport(FoundationXML)
import FoundationXML
#endif
import TestSupport
import Testing
@testable import Tiles

private let maxLatitude = 85.05112877980659

private extension JSONValue {
    subscript(key: String) -> JSONValue? {
        if case let .object(fields) = self { return fields[key] }
        return nil
    }

    var numbers: [Double] {
        guard case let .array(values) = self else { return [] }
        return values.compactMap {
            switch $0 {
            case let .int(value): return Double(value)
            case let .double(value): return value
            default: return nil
            }
        }
    }
}

/// The latitude halfway between two others on a Web Mercator map.
private func mercatorMiddle(_ south: Double, _ north: Double) -> Double {
    let y = { (latitude: Double) in log(tan(.pi / 4 + latitude * .pi / 360)) }
    return (2 * atan(exp((y(south) + y(north)) / 2)) - .pi / 2) * 180 / .pi
}

@Suite("TileJSON")
struct TileJSONTests {
    let template = "https://tiles.example/layers/dem/tiles/{z}/{x}/{y}.png?access_token=abc&v=2"

    @Test func describesALayer() throws {
        let layer = TileLayerDescription(name: "dem", bounds: [5, 45, 15, 55], minZoom: 2, maxZoom: 14)
        let document = TileJSON.document(layer, tileURLTemplate: template)

        #expect(document["tilejson"] == .string("3.0.0"))
        #expect(document["name"] == .string("dem"))
        #expect(document["tiles"] == .array([.string(template)]))
        #expect(document["scheme"] == .string("xyz"))
        #expect(document["minzoom"] == .int(2))
        #expect(document["maxzoom"] == .int(14))
        #expect(document["tileSize"] == .int(256))
        #expect(document["bounds"]?.numbers == [5, 45, 15, 55])
        #expect(document["vector_layers"] == nil)

        let center = try #require(document["center"]?.numbers)
        #expect(center.count == 3)
        #expect(center[0] == 10)
        // The middle as the map shows it, north of the mean latitude.
        #expect(abs(center[1] - mercatorMiddle(45, 55)) < 1e-6)
        #expect(center[1] > 50.2 && center[1] < 50.3)
        // The box is 714 pixels tall at zoom 6 and 1427 at zoom 7: 6 is the deepest that fits 1024.
        #expect(center[2] == 6)

        // It is plain JSON text a client can read.
        let parsed = try #require(try JSONSerialization.jsonObject(with: Data(document.jsonText.utf8)) as? [String: Any])
        #expect(parsed["tiles"] as? [String] == [template])
    }

    @Test func aLayerAcrossTheAntimeridianIsCentredOnIt() throws {
        let layer = TileLayerDescription(name: "pacific", bounds: [175, -20, -165, -10], minZoom: 0, maxZoom: 10)
        let document = TileJSON.document(layer, tileURLTemplate: template)

        // TileJSON bounds must not wrap around the antimeridian.
        #expect(document["bounds"]?.numbers == [-180, -20, 180, -10])
        let center = try #require(document["center"]?.numbers)
        #expect(center[0] == -175)
        #expect(abs(center[1] - mercatorMiddle(-20, -10)) < 1e-6)
        // 20° of longitude is 1820 pixels wide at zoom 7, 910 at zoom 6.
        #expect(center[2] == 6)

        // The same box written with an east past 180.
        let past = TileJSON.document(TileLayerDescription(name: "pacific", bounds: [175, -20, 195, -10], minZoom: 0, maxZoom: 10),
                                     tileURLTemplate: template)
        #expect(past["bounds"] == document["bounds"])
        #expect(past["center"] == document["center"])
    }

    @Test func boundsAreClampedToTheSquareWorld() throws {
        let layer = TileLayerDescription(name: "poles", bounds: [-10, -89.9, 10, 90], minZoom: 0, maxZoom: 5)
        let document = TileJSON.document(layer, tileURLTemplate: template)
        #expect(document["bounds"]?.numbers == [-10, -maxLatitude, 10, maxLatitude])
        let center = try #require(document["center"]?.numbers)
        #expect(center[0] == 0 && center[1] == 0)
        // The whole square world is 1024 pixels at zoom 2.
        #expect(center[2] == 2)
    }

    @Test(arguments: [[], [1, 2, 3], [.nan, 0, 1, 1], [0, 0, .infinity, 1], [-1e300, -1e300, 1e300, 1e300], [10, 10, 10, 10]])
    func oddInputStillMakesADocument(bounds: [Double]) throws {
        let layer = TileLayerDescription(name: "odd", bounds: bounds, minZoom: 30, maxZoom: -4)
        let document = TileJSON.document(layer, tileURLTemplate: template)
        let box = try #require(document["bounds"]?.numbers)
        #expect(box.count == 4)
        #expect(box.allSatisfy { $0.isFinite })
        #expect(box[0] <= box[2] && box[1] <= box[3])
        #expect(box[0] >= -180 && box[2] <= 180 && box[1] >= -maxLatitude && box[3] <= maxLatitude)
        #expect(document["minzoom"] == .int(0))
        #expect(document["maxzoom"] == .int(0))
        let center = try #require(document["center"]?.numbers)
        #expect(center[0] >= box[0] && center[0] <= box[2] && center[1] >= box[1] && center[1] <= box[3])
        #expect(center[2] == 0)
    }
}

/// An XML document's elements by local name (whatever the namespace prefix).
private func elements(_ name: String, in node: XMLNode) throws -> [XMLElement] {
    try node.nodes(forXPath: ".//*[local-name()='\(name)']").compactMap { $0 as? XMLElement }
}

private func children(_ name: String, of element: XMLElement) -> [XMLElement] {
    (element.children ?? []).compactMap { $0 as? XMLElement }.filter { $0.localName == name }
}

private func child(_ name: String, of element: XMLElement) -> String? {
    children(name, of: element).first?.stringValue
}

/// An attribute's value by its qualified name (on Linux, FoundationXML's `attribute(forName:)` finds
/// no attribute without a prefix in these documents).
private func attribute(_ name: String, of element: XMLElement) -> String? {
    element.attributes?.first { $0.name == name }?.stringValue
}

/// Runs `gdalinfo` with `arguments`; its exit status and everything it printed.
private func gdalinfo(_ arguments: [String]) throws -> (status: Int32, output: String) {
    let process = Process()
    process.executableURL = URL(fileURLWithPath: "/usr/bin/gdalinfo")
    process.arguments = arguments
    let output = Pipe()
    process.standardOutput = output
    process.standardError = output
    try process.run()
    let data = output.fileHandleForReading.readDataToEndOfFile()
    process.waitUntilExit()
    return (process.terminationStatus, String(decoding: data, as: UTF8.self))
}

/// "Size is W, H" and the x pixel size from gdalinfo's output.
private func rasterSize(_ output: String) -> (width: Int, height: Int, pixel: Double)? {
    guard let size = output.firstMatch(of: /Size is (\d+), (\d+)/),
          let pixel = output.firstMatch(of: /Pixel Size = \(([0-9.]+),/),
          let width = Int(size.1), let height = Int(size.2), let metres = Double(pixel.1) else { return nil }
    return (width, height, metres)
}

@Suite("WMTS capabilities")
struct WMTSCapabilitiesTests {
    static let resources = [
        (format: "image/png", template: "http://127.0.0.1:9/layers/x/tiles/{TileMatrix}/{TileCol}/{TileRow}.png?access_token=abc&v=1"),
        (format: "image/jpeg", template: "http://127.0.0.1:9/layers/x/tiles/{TileMatrix}/{TileCol}/{TileRow}.jpg?access_token=abc&v=1"),
    ]
    static let serviceURL = "http://127.0.0.1:9/layers/x/WMTSCapabilities.xml?access_token=abc&v=1"
    /// The latitude of the edge between rows 1 and 2 of zoom 2.
    static let rowEdge = WebMercatorQuad.degrees(x: 0, y: WebMercatorQuad.halfWorld / 2).latitude

    @Test func describesTheLayerAndItsTileMatrixSet() throws {
        let layer = TileLayerDescription(name: "rivers & lakes <2024>", bounds: [0, 0, 90, Self.rowEdge], minZoom: 2, maxZoom: 5)
        let text = WMTSCapabilities.document(layer, resources: Self.resources, serviceURL: Self.serviceURL)

        // Everything the user or the server chose is escaped.
        #expect(text.contains("rivers &amp; lakes &lt;2024&gt;"))
        #expect(text.contains("access_token=abc&amp;v=1"))
        #expect(!text.contains("abc&v=1"))

        let document = try XMLDocument(xmlString: text)
        let root = try #require(document.rootElement())
        #expect(root.localName == "Capabilities")
        #expect(attribute("version", of: root) == "1.0.0")
        #expect(try elements("ServiceType", in: root).first?.stringValue == "OGC WMTS")
        #expect(try elements("ServiceTypeVersion", in: root).first?.stringValue == "1.0.0")
        let metadataURL = try #require(try elements("ServiceMetadataURL", in: root).first)
        #expect(attribute("xlink:href", of: metadataURL) == Self.serviceURL)

        let layerElement = try #require(try elements("Layer", in: root).first)
        #expect(child("Identifier", of: layerElement) == layer.name)
        #expect(child("Title", of: layerElement) == layer.name)
        #expect(try elements("Format", in: layerElement).map(\.stringValue) == ["image/png", "image/jpeg"])
        let style = try #require(try elements("Style", in: layerElement).first)
        #expect(attribute("isDefault", of: style) == "true")
        #expect(child("Identifier", of: style) == "default")
        let box = try #require(try elements("WGS84BoundingBox", in: layerElement).first)
        #expect(child("LowerCorner", of: box) == "0.0 0.0")
        #expect(child("UpperCorner", of: box) == "90.0 \(Self.rowEdge)")

        let urls = try elements("ResourceURL", in: layerElement)
        #expect(urls.map { attribute("template", of: $0) } == Self.resources.map(\.template))
        #expect(urls.map { attribute("format", of: $0) } == ["image/png", "image/jpeg"])
        #expect(urls.allSatisfy { attribute("resourceType", of: $0) == "tile" })

        // The limits cover the box: at zoom 2 it is exactly tile (col 2, row 1).
        let limits = try elements("TileMatrixLimits", in: layerElement).map { limit in
            ["TileMatrix", "MinTileRow", "MaxTileRow", "MinTileCol", "MaxTileCol"].compactMap { child($0, of: limit).flatMap { Int($0) } }
        }
        #expect(limits == [[2, 1, 1, 2, 2], [3, 2, 3, 4, 5], [4, 4, 7, 8, 11], [5, 8, 15, 16, 23]])
        #expect(child("TileMatrixSet", of: try #require(try elements("TileMatrixSetLink", in: layerElement).first)) == "WebMercatorQuad")

        let set = try #require(children("Contents", of: root).first.flatMap { children("TileMatrixSet", of: $0).first })
        #expect(child("Identifier", of: set) == "WebMercatorQuad")
        #expect(child("SupportedCRS", of: set) == "urn:ogc:def:crs:EPSG::3857")
        #expect(child("WellKnownScaleSet", of: set) == "urn:ogc:def:wkss:OGC:1.0:GoogleMapsCompatible")
        let matrices = children("TileMatrix", of: set)
        #expect(matrices.count == 6)
        for (zoom, matrix) in matrices.enumerated() {
            #expect(child("Identifier", of: matrix) == "\(zoom)")
            let scale = try #require(child("ScaleDenominator", of: matrix).flatMap { Double($0) })
            #expect(abs(scale - 559082264.0287178 / pow(2, Double(zoom))) < 1e-6 * scale)
            let corner = try #require(child("TopLeftCorner", of: matrix)).split(separator: " ").compactMap { Double($0) }
            #expect(corner == [-WebMercatorQuad.halfWorld, WebMercatorQuad.halfWorld])
            #expect(child("TileWidth", of: matrix) == "256" && child("TileHeight", of: matrix) == "256")
            #expect(child("MatrixWidth", of: matrix) == "\(1 << zoom)" && child("MatrixHeight", of: matrix) == "\(1 << zoom)")
        }
    }

    @Test func anyNameMakesWellFormedXML() throws {
        #expect(WMTSCapabilities.xmlEscaped("a&b<c>\"d'\te\u{1}f") == "a&amp;b&lt;c&gt;&quot;d&apos;&#9;e\u{FFFD}f")
        let name = "tab\there, bell\u{7} & \"quotes\" ]]> é"
        let layer = TileLayerDescription(name: name, bounds: [0, 0, 1, 1], minZoom: 0, maxZoom: 3)
        let document = try XMLDocument(xmlString: WMTSCapabilities.document(layer, resources: Self.resources, serviceURL: "http://h/?a=1&b=<2>"))
        let layerElement = try #require(try elements("Layer", in: document).first)
        #expect(child("Identifier", of: layerElement) == "tab\there, bell\u{FFFD} & \"quotes\" ]]> é")
    }

    @Test func aLayerAcrossTheAntimeridianTakesEveryColumn() throws {
        let layer = TileLayerDescription(name: "pacific", bounds: [170, -20, -170, -10], minZoom: 1, maxZoom: 6)
        let document = try XMLDocument(xmlString: WMTSCapabilities.document(layer, resources: Self.resources, serviceURL: Self.serviceURL))
        let box = try #require(try elements("WGS84BoundingBox", in: document).first)
        #expect(child("LowerCorner", of: box) == "-180.0 -20.0")
        #expect(child("UpperCorner", of: box) == "180.0 -10.0")
        let limits = try elements("TileMatrixLimits", in: document)
        #expect(limits.count == 6)
        for limit in limits {
            let zoom = try #require(child("TileMatrix", of: limit).flatMap { Int($0) })
            #expect(child("MinTileCol", of: limit) == "0")
            #expect(child("MaxTileCol", of: limit) == "\((1 << zoom) - 1)")
        }
    }

    @Test func gdalOpensIt() throws {
        let directory = TemporaryDirectory("wmts")
        defer { directory.remove() }
        let cases: [(layer: TileLayerDescription, fullWidth: Bool)] = [
            (TileLayerDescription(name: "world & more", bounds: [-180, -90, 180, 90], minZoom: 0, maxZoom: 7), true),
            (TileLayerDescription(name: "pacific", bounds: [170, -20, -170, -10], minZoom: 2, maxZoom: 9), true),
            (TileLayerDescription(name: "alps", bounds: [5, 45, 15, 55], minZoom: 3, maxZoom: 12), false),
            (TileLayerDescription(name: "point", bounds: [10, 10, 10, 10], minZoom: 0, maxZoom: 4), false),
        ]
        for (index, (layer, fullWidth)) in cases.enumerated() {
            let file = directory.file("caps-\(index).xml")
            try WMTSCapabilities.document(layer, resources: Self.resources, serviceURL: Self.serviceURL)
                .write(toFile: file, atomically: true, encoding: .utf8)
            for connection in ["WMTS:\(file)", "WMTS:\(file),layer=\(layer.name)"] {
                let (status, output) = try gdalinfo([connection])
                #expect(status == 0, "\(connection): \(output)")
                #expect(!output.contains("ERROR"), "\(connection): \(output)")
                #expect(output.contains("ID[\"EPSG\",3857]]"), "\(connection): \(output)")
                let size = try #require(rasterSize(output), "\(connection): \(output)")
                // Pixels of the layer's deepest zoom.
                #expect(abs(size.pixel - WebMercatorQuad.resolution(zoom: layer.maxZoom)) < 1e-6)
                if fullWidth {
                    #expect(size.width == 256 << layer.maxZoom)
                } else {
                    // The box's width, give or take GDAL's rounding (and a point's one pixel).
                    let expected = (layer.bounds[2] - layer.bounds[0]) / 360 * Double(256 << layer.maxZoom)
                    #expect(size.width >= 1 && abs(Double(size.width) - expected) <= 2, "\(connection): \(output)")
                }
            }
        }
    }
}

@Suite("colormaps")
struct ColormapTests {
    typealias RGB = Colormap.RGB

    @Test func namesAreSortedAndEachHas256Colours() throws {
        #expect(Colormap.names == ["blues", "cividis", "greys", "inferno", "magma", "plasma", "rdylgn", "reds", "spectral",
                                   "terrain", "viridis"])
        for name in Colormap.names {
            let colormap = try #require(Colormap.named(name))
            #expect(colormap.name == name)
            #expect(colormap.colors.count == 256)
        }
    }

    @Test func endpointsFollowThePublishedRamps() throws {
        let ends: [String: (RGB, RGB)] = [
            "viridis": (RGB(red: 68, green: 1, blue: 84), RGB(red: 253, green: 231, blue: 37)),
            "magma": (RGB(red: 0, green: 0, blue: 4), RGB(red: 252, green: 253, blue: 191)),
            "inferno": (RGB(red: 0, green: 0, blue: 4), RGB(red: 252, green: 255, blue: 164)),
            "plasma": (RGB(red: 13, green: 8, blue: 135), RGB(red: 240, green: 249, blue: 33)),
            "cividis": (RGB(red: 0, green: 34, blue: 78), RGB(red: 254, green: 232, blue: 56)),
            "greys": (RGB(red: 0, green: 0, blue: 0), RGB(red: 255, green: 255, blue: 255)),
            "terrain": (RGB(red: 51, green: 51, blue: 153), RGB(red: 255, green: 255, blue: 255)),
            "rdylgn": (RGB(red: 165, green: 0, blue: 38), RGB(red: 0, green: 104, blue: 55)),
            "spectral": (RGB(red: 158, green: 1, blue: 66), RGB(red: 94, green: 79, blue: 162)),
            "blues": (RGB(red: 247, green: 251, blue: 255), RGB(red: 8, green: 48, blue: 107)),
            "reds": (RGB(red: 255, green: 245, blue: 240), RGB(red: 103, green: 0, blue: 13)),
        ]
        #expect(Set(ends.keys) == Set(Colormap.names))
        for (name, (first, last)) in ends {
            let colors = try #require(Colormap.named(name)).colors
            #expect(colors.first == first, "\(name)")
            #expect(colors.last == last, "\(name)")
        }
        // Diverging ramps pass through ColorBrewer's pale yellow in the middle.
        for name in ["rdylgn", "spectral"] {
            let middle = try #require(Colormap.named(name)).colors[128]
            #expect(middle.red >= 250 && middle.green >= 250 && middle.blue >= 185, "\(name): \(middle)")
        }
    }

    @Test func greysRiseFromBlackToWhite() throws {
        let colors = try #require(Colormap.named("greys")).colors
        for (index, color) in colors.enumerated() {
            #expect(color == RGB(red: UInt8(index), green: UInt8(index), blue: UInt8(index)))
        }
    }

    /// Sequential ramps grow lighter from start to end (relative luminance of sRGB).
    @Test(arguments: ["viridis", "magma", "inferno", "plasma", "cividis", "greys", "blues_r", "reds_r"])
    func sequentialRampsGrowLighter(name: String) throws {
        let colors = try #require(Colormap.named(name)).colors
        func luminance(_ color: RGB) -> Double {
            let linear = { (channel: UInt8) -> Double in
                let value = Double(channel) / 255
                return value <= 0.04045 ? value / 12.92 : pow((value + 0.055) / 1.055, 2.4)
            }
            return 0.2126 * linear(color.red) + 0.7152 * linear(color.green) + 0.0722 * linear(color.blue)
        }
        let samples = stride(from: 0, to: 256, by: 15).map { luminance(colors[$0]) }
        #expect(zip(samples, samples.dropFirst()).allSatisfy { $0 < $1 }, "\(samples)")
    }

    @Test func anRSuffixReversesAndCaseDoesNotMatter() throws {
        let viridis = try #require(Colormap.named("viridis"))
        let reversed = try #require(Colormap.named("viridis_r"))
        #expect(reversed.name == "viridis_r")
        #expect(reversed.colors == Array(viridis.colors.reversed()))
        #expect(reversed.colors.first == RGB(red: 253, green: 231, blue: 37))
        #expect(Colormap.named("Viridis") == viridis)
        #expect(Colormap.named("VIRIDIS_R") == reversed)
        #expect(Colormap.named("Greys_R")?.colors.first == RGB(red: 255, green: 255, blue: 255))
    }

    @Test(arguments: ["jet", "", "_r", "viridis_r_r", "viridis ", "r", "greys_"])
    func unknownNamesAreNil(name: String) {
        #expect(Colormap.named(name) == nil)
    }
}
