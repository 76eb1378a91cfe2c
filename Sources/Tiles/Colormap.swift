/// A colour ramp for rendering one band: 256 colours, interpolated linearly between control points
/// taken from the ramp's published definition (matplotlib's perceptually uniform maps and terrain,
/// ColorBrewer's schemes).
public struct Colormap: Sendable, Equatable {
    public struct RGB: Sendable, Hashable {
        public var red: UInt8
        public var green: UInt8
        public var blue: UInt8

        public init(red: UInt8, green: UInt8, blue: UInt8) {
            self.red = red
            self.green = green
            self.blue = blue
        }
    }

    /// The name as `colormap=` takes it, lower case, `_r` ending a reversed ramp.
    public let name: String
    /// 256 entries; entry i colours the value stretched to i.
    public let colors: [RGB]

    /// The ramp called `name` (any case), reversed when the name ends in `_r` (`viridis_r`).
    public static func named(_ name: String) -> Colormap? {
        let lowercased = name.lowercased()
        if let colors = ramps[lowercased] {
            return Colormap(name: lowercased, colors: colors)
        }
        if lowercased.hasSuffix("_r"), let colors = ramps[String(lowercased.dropLast(2))] {
            return Colormap(name: lowercased, colors: colors.reversed())
        }
        return nil
    }

    /// Every ramp's name, sorted (each also reversed with `_r`).
    public static var names: [String] { ramps.keys.sorted() }

    private static let ramps: [String: [RGB]] = definitions.mapValues(interpolated)

    /// A control point: where in the ramp (0...1) and its colour as 0xRRGGBB.
    private typealias Stop = (position: Double, color: UInt32)

    private static func evenlySpaced(_ colors: [UInt32]) -> [Stop] {
        colors.enumerated().map { index, color in (Double(index) / Double(colors.count - 1), color) }
    }

    private static let definitions: [String: [Stop]] = [
        // The perceptually uniform maps of matplotlib 2.0 (cividis: Nuñez et al. 2018), every 16th of
        // their 256 colours.
        "viridis": evenlySpaced([
            0x440154, 0x48186A, 0x472D7B, 0x424086, 0x3B528B, 0x33638D, 0x2C728E, 0x26828E, 0x21918C,
            0x1F9F88, 0x27AD81, 0x3DBC74, 0x5CC863, 0x81D34D, 0xAADC32, 0xD5E21A, 0xFDE725,
        ]),
        "magma": evenlySpaced([
            0x000004, 0x0A0822, 0x1D1147, 0x36106B, 0x51127C, 0x6A1C81, 0x832681, 0x9C2E7F, 0xB73779,
            0xCF4070, 0xE55064, 0xF4695C, 0xFB8761, 0xFEA571, 0xFEC287, 0xFDE0A1, 0xFCFDBF,
        ]),
        "inferno": evenlySpaced([
            0x000004, 0x0B0724, 0x210C4A, 0x3D0965, 0x57106E, 0x71196E, 0x8A226A, 0xA32C61, 0xBC3754,
            0xD04545, 0xE35933, 0xF1711F, 0xF98C0A, 0xFCAA0F, 0xF9C932, 0xF2E865, 0xFCFFA4,
        ]),
        "plasma": evenlySpaced([
            0x0D0887, 0x310597, 0x4C02A1, 0x6600A7, 0x7E03A8, 0x9511A1, 0xAA2395, 0xBC3587, 0xCC4778,
            0xD9586A, 0xE56B5D, 0xF07F4F, 0xF89441, 0xFDAB33, 0xFDC328, 0xF9DD25, 0xF0F921,
        ]),
        "cividis": evenlySpaced([
            0x00224E, 0x002E6A, 0x1A386F, 0x32436D, 0x434E6C, 0x535A6D, 0x61656F, 0x6F7073, 0x7D7C78,
            0x8B8778, 0x9A9376, 0xAAA073, 0xBBAD6D, 0xCCBA64, 0xDDC858, 0xEFD748, 0xFEE838,
        ]),
        "greys": evenlySpaced([0x000000, 0xFFFFFF]),
        // matplotlib's terrain: sea blues, lowland greens, yellow, brown, snow.
        "terrain": [
            (0.00, 0x333399), (0.15, 0x0099FF), (0.25, 0x00CC66), (0.50, 0xFFFF99), (0.75, 0x805C54), (1.00, 0xFFFFFF),
        ],
        // ColorBrewer (Cynthia Brewer), the 11-class diverging and 9-class sequential schemes.
        "rdylgn": evenlySpaced([
            0xA50026, 0xD73027, 0xF46D43, 0xFDAE61, 0xFEE08B, 0xFFFFBF, 0xD9EF8B, 0xA6D96A, 0x66BD63, 0x1A9850, 0x006837,
        ]),
        "spectral": evenlySpaced([
            0x9E0142, 0xD53E4F, 0xF46D43, 0xFDAE61, 0xFEE08B, 0xFFFFBF, 0xE6F598, 0xABDDA4, 0x66C2A5, 0x3288BD, 0x5E4FA2,
        ]),
        "blues": evenlySpaced([0xF7FBFF, 0xDEEBF7, 0xC6DBEF, 0x9ECAE1, 0x6BAED6, 0x4292C6, 0x2171B5, 0x08519C, 0x08306B]),
        "reds": evenlySpaced([0xFFF5F0, 0xFEE0D2, 0xFCBBA1, 0xFC9272, 0xFB6A4A, 0xEF3B2C, 0xCB181D, 0xA50F15, 0x67000D]),
    ]

    /// 256 colours; entry i is the ramp at i / 255.
    private static func interpolated(_ stops: [Stop]) -> [RGB] {
        (0..<256).map { index in
            let position = Double(index) / 255
            let upper = stops.firstIndex { $0.position >= position } ?? stops.count - 1
            let lower = max(0, upper - 1)
            let width = stops[upper].position - stops[lower].position
            let fraction = width > 0 ? (position - stops[lower].position) / width : 0
            func channel(_ shift: UInt32) -> UInt8 {
                let from = Double((stops[lower].color >> shift) & 0xFF)
                let to = Double((stops[upper].color >> shift) & 0xFF)
                return UInt8(min(255, max(0, (from + (to - from) * fraction).rounded())))
            }
            return RGB(red: channel(16), green: channel(8), blue: channel(0))
        }
    }
}
