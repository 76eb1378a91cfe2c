import CGDAL
import Foundation

/// Finds the sidecars beside a user's raster and verifies each one. A mask, a PAM `.aux.xml` or a
/// world file that is not what it claims fails the raster (each changes what the raster means); an
/// overview that is not a plain GeoTIFF is left out (the COG's overviews are computed anew); any
/// other file named after the raster (`.aux`, `.prj`, `.imd`, `.rpb`, `_rpc.txt`, ...) is never
/// shown to GDAL.
struct SidecarScan {
    let folder: String
    let fileName: String
    let name: String
    let neighbours: [String]
    let limits: RasterLimits
    private(set) var accepted: [String] = []
    private(set) var ignored: [String: String] = [:]

    init(folder: String, fileName: String, name: String, neighbours: [String], limits: RasterLimits) {
        self.folder = folder
        self.fileName = fileName
        self.name = name
        self.neighbours = neighbours.sorted()
        self.limits = limits
    }

    /// World file names GDAL's GTiff driver looks for: `.tfw` (first and last letter of the extension
    /// and "w"), `.tifw` (the extension and "w"), `.wld`.
    static func worldFileNames(beside fileName: String) -> Set<String> {
        let base = (fileName as NSString).deletingPathExtension.lowercased()
        let ext = (fileName as NSString).pathExtension.lowercased()
        var names: Set<String> = ["\(base).wld"]
        if let first = ext.first, let last = ext.last {
            names.insert("\(base).\(first)\(last)w")
            names.insert("\(base).\(ext)w")
        }
        return names
    }

    /// What a file beside the raster is to GDAL, by its name.
    enum Kind {
        case mask, overview, pam, world, other

        init?(of neighbour: String, beside fileName: String) {
            let lower = neighbour.lowercased(), lowerName = fileName.lowercased()
            let lowerBase = (fileName as NSString).deletingPathExtension.lowercased()
            if lower == lowerName { return nil }
            if lower == lowerName + ".msk" {
                self = .mask
            } else if lower == lowerName + ".ovr" {
                self = .overview
            } else if lower == lowerName + ".aux.xml" {
                self = .pam
            } else if SidecarScan.worldFileNames(beside: fileName).contains(lower) {
                self = .world
            } else if lower.hasPrefix(lowerBase + ".") || lower.hasPrefix(lowerBase + "_") {
                self = .other
            } else {
                return nil
            }
        }

        /// Whether the sidecar is checked and may be shown to GDAL.
        var isRead: Bool { self != .other }
    }

    mutating func run() throws {
        for neighbour in neighbours {
            guard let kind = Kind(of: neighbour, beside: fileName) else { continue }
            let path = (folder as NSString).appendingPathComponent(neighbour)
            switch kind {
            case .mask:
                if let problem = rasterProblem(neighbour) { throw failure(neighbour, problem) }
                accepted.append(neighbour)
            case .overview:
                if let problem = rasterProblem(neighbour) { ignored[neighbour] = problem } else { accepted.append(neighbour) }
            case .pam:
                if let problem = textProblem(path, maxBytes: 16 << 20, check: PAMDocument.problem) {
                    throw failure(neighbour, problem)
                }
                accepted.append(neighbour)
            case .world:
                if let problem = textProblem(path, maxBytes: 4096, check: WorldFile.problem) {
                    throw failure(neighbour, problem)
                }
                accepted.append(neighbour)
            case .other:
                ignored[neighbour] = "not used: only .msk, .ovr, .aux.xml and world files are read"
            }
        }
    }

    private func failure(_ sidecar: String, _ problem: String) -> RasterError {
        .badSidecar(file: name, sidecar: sidecar, reason: problem)
    }

    /// Why a `.msk` or `.ovr` cannot be used, or nil: it must be a plain GeoTIFF, read by the GTiff
    /// driver alone, within the limits, with no sidecars of its own.
    private func rasterProblem(_ sidecar: String) -> String? {
        let path = (folder as NSString).appendingPathComponent(sidecar)
        guard PathCheck.isPlainFile(path) else { return "is a symbolic link or not a regular file" }
        if let own = neighbours.first(where: { $0.lowercased().hasPrefix(sidecar.lowercased() + ".") }) {
            return "has a sidecar of its own (\(own))"
        }
        // GDAL opens a mask or overview with every driver; VRT and DERIVED, the only ones it asks
        // before GTiff, are among those asked here.
        let detected = FormatSniffer.driver(of: path, siblings: [sidecar])
        guard detected == "GTiff" else {
            return "is not a GeoTIFF (" + (detected.map { "GDAL reads it as \($0)" } ?? "GDAL does not recognise its format") + ")"
        }
        do {
            let dataset = try Dataset.open(path, drivers: OpenPolicy.geoTIFFOnly, siblings: [sidecar], name: sidecar)
            try limits.check(dataset)
        } catch {
            return "cannot be used: \(error)"
        }
        return nil
    }

    private func textProblem(_ path: String, maxBytes: Int, check: (String) -> String?) -> String? {
        guard PathCheck.isPlainFile(path) else { return "is a symbolic link or not a regular file" }
        guard let handle = FileHandle(forReadingAtPath: path) else { return "cannot be read" }
        defer { try? handle.close() }
        guard let data = try? handle.read(upToCount: maxBytes + 1), data.count <= maxBytes else {
            return "is larger than \(maxBytes) bytes"
        }
        guard let text = String(data: data, encoding: .utf8) else { return "is not UTF-8 text" }
        return check(text)
    }
}

/// A world file: six numbers, one per line (pixel size x, rotations, pixel size y, upper-left centre).
/// GDAL reads the first six lines, so nothing else may come before or between them.
enum WorldFile {
    static func problem(_ text: String) -> String? {
        var lines = text.split(omittingEmptySubsequences: false, whereSeparator: \.isNewline)
            .map { $0.trimmingCharacters(in: .whitespaces) }
        while lines.last?.isEmpty == true { lines.removeLast() }
        guard lines.count == 6, lines.allSatisfy({ Double($0)?.isFinite == true }) else {
            return "is not a world file (six numbers, one per line)"
        }
        return nil
    }
}

/// A PAM `.aux.xml` GDAL may read: a `PAMDataset` of georeferencing, metadata and band descriptions,
/// and nothing that names a file, a URL or another dataset.
enum PAMDocument {
    /// Each allowed element and the elements allowed inside it.
    static let allowed: [String: Set<String>] = [
        "PAMDataset": ["SRS", "GeoTransform", "Metadata", "GCPList", "PAMRasterBand", "Description"],
        "Metadata": ["MDI"],
        "GCPList": ["GCP"],
        "PAMRasterBand": ["Description", "NoDataValue", "NoDataValueInt64", "NoDataValueUInt64", "Offset", "Scale",
                          "UnitType", "ColorInterp", "CategoryNames", "ColorTable", "Histograms", "Metadata",
                          "GDALRasterAttributeTable"],
        "CategoryNames": ["Category"],
        "ColorTable": ["Entry"],
        "Histograms": ["HistItem"],
        "HistItem": ["HistMin", "HistMax", "BucketCount", "IncludeOutOfRange", "Approximate", "HistCounts"],
        "GDALRasterAttributeTable": ["FieldDefn", "Row"],
        "FieldDefn": ["Name", "Type", "Usage"],
        "Row": ["F"],
    ]
    static let leaves: Set<String> = [
        "SRS", "GeoTransform", "MDI", "GCP", "Description", "NoDataValue", "NoDataValueInt64", "NoDataValueUInt64",
        "Offset", "Scale", "UnitType", "ColorInterp", "Category", "Entry", "HistMin", "HistMax", "BucketCount",
        "IncludeOutOfRange", "Approximate", "HistCounts", "Name", "Type", "Usage", "F",
    ]

    static func problem(_ text: String) -> String? {
        GDALRuntime.ensureInitialized()
        guard let root = CPLParseXMLString(text) else { return "is not well-formed XML" }
        defer { CPLDestroyXMLNode(root) }
        var sawDataset = false
        var node: UnsafeMutablePointer<CPLXMLNode>? = root
        while let current = node {
            let element = current.pointee
            if element.eType == CXT_Element {
                let name = String(cString: element.pszValue)
                if name == "PAMDataset", !sawDataset {
                    sawDataset = true
                    if let problem = check(current, name: name) { return problem }
                } else if !name.hasPrefix("?") {
                    return "is not a plain PAM file: unexpected <\(name)>"
                }
            }
            node = element.psNext
        }
        return sawDataset ? nil : "is not a PAM file (no <PAMDataset>)"
    }

    private static func check(_ node: UnsafeMutablePointer<CPLXMLNode>, name: String) -> String? {
        var child = node.pointee.psChild
        while let current = child {
            let value = current.pointee.pszValue.map { String(cString: $0) } ?? ""
            switch current.pointee.eType {
            case CXT_Element:
                guard allowed[name]?.contains(value) == true else {
                    return "is not a plain PAM file: <\(value)> is not allowed in <\(name)>"
                }
                if let problem = leaves.contains(value) && allowed[value] == nil ? checkLeaf(current, name: value)
                    : check(current, name: value) { return problem }
            default:
                if let problem = textProblem(current.pointee, in: name) { return problem }
            }
            child = current.pointee.psNext
        }
        return nil
    }

    /// A leaf element holds text and attributes only.
    private static func checkLeaf(_ node: UnsafeMutablePointer<CPLXMLNode>, name: String) -> String? {
        var child = node.pointee.psChild
        while let current = child {
            let value = current.pointee.pszValue.map { String(cString: $0) } ?? ""
            switch current.pointee.eType {
            case CXT_Element:
                return "is not a plain PAM file: <\(value)> is not allowed in <\(name)>"
            default:
                if let problem = textProblem(current.pointee, in: name) { return problem }
            }
            child = current.pointee.psNext
        }
        return nil
    }

    /// An attribute's or a text's problem: `<SRS>` text and a `Projection` attribute must be CRS
    /// definitions, and no text may name a file or a URL.
    private static func textProblem(_ node: CPLXMLNode, in element: String) -> String? {
        switch node.eType {
        case CXT_Attribute:
            let name = node.pszValue.map { String(cString: $0) } ?? ""
            let text = node.psChild.flatMap { $0.pointee.pszValue.map { String(cString: $0) } } ?? ""
            if name == "Projection", let problem = SRSText.problem(text) { return problem }
            return SRSText.namesResource(text)
        case CXT_Text:
            let text = node.pszValue.map { String(cString: $0) } ?? ""
            if element == "SRS", let problem = SRSText.problem(text) { return problem }
            return SRSText.namesResource(text)
        default:
            return nil
        }
    }
}

/// A CRS written as text in a sidecar. GDAL hands it to `OSRSetFromUserInput`, which also accepts
/// file names and URLs: only definitions (WKT, PROJJSON, AUTHORITY:CODE, a PROJ string without
/// files) are accepted.
enum SRSText {
    static func problem(_ text: String) -> String? {
        let value = text.trimmingCharacters(in: .whitespacesAndNewlines)
        if let problem = namesResource(value) { return problem }
        let isWKT = value.range(of: #"^[A-Z][A-Z0-9_]*\s*\["#, options: .regularExpression) != nil
        let isAuthorityCode = value.range(of: #"^[A-Za-z][A-Za-z0-9_]*:[A-Za-z0-9_.:]+$"#, options: .regularExpression) != nil
            && !["file", "http", "https", "ftp"].contains(value.split(separator: ":")[0].lowercased())
        let isJSON = value.hasPrefix("{")
        let isPROJ = value.hasPrefix("+") && !value.contains("/")
        guard isWKT || isAuthorityCode || isJSON || isPROJ else {
            return "names a CRS that is not a definition (WKT, PROJJSON or AUTHORITY:CODE)"
        }
        return nil
    }

    /// Why `text` may make GDAL or PROJ reach a file or the network, or nil.
    static func namesResource(_ text: String) -> String? {
        let lower = text.lowercased()
        if lower.contains("/vsi") || lower.contains("://") {
            return "names a file or URL (\(text.prefix(80)))"
        }
        if let reference = CRSFileReferences.find(in: text) {
            return "names a file through its CRS (\(reference))"
        }
        return nil
    }
}
