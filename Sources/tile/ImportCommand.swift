import ArgumentParser
import Catalog
import Dispatch
import Foundation
import Raster
import Tiles
import Tiling

struct ImportCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "import",
        abstract: "Import rasters into a catalog: footprint, COG, one catalog item per file.",
        discussion: "PATHs are GeoTIFF files or folders, searched recursively for .tif/.tiff. Sidecars beside a "
            + "raster (.msk, .aux.xml, .tfw/.wld) are used. A file whose content (SHA-256) is already in the "
            + "catalog is skipped unless --force. With --create and no --config, every --attr becomes a String "
            + "attribute. Files are read with GDAL's GTiff driver only (widen with --allow-driver); sidecars are "
            + "used only once verified, and GDAL never reaches the network for them.")

    @OptionGroup var data: DataDirectoryOption

    @Option(help: "The catalog, namespace.name.")
    var catalog: CatalogName

    @Flag(help: "Create the catalog if it does not exist.")
    var create = false

    @Option(help: "An attributesConfiguration JSON file for --create.")
    var config: String?

    @Option(name: .customLong("attr"), help: "An attribute value for every file, NAME=VALUE (repeatable).")
    var attributes: [String] = []

    @Flag(help: "Trace the outline of the valid pixels instead of taking the bounding box.")
    var polygonize = false

    @Option(help: "Overview levels in the COG (0: down to one tile).")
    var maxZoom: Int = 0

    @Flag(help: "Store the files as they are instead of rewriting them as COGs.")
    var noCog = false

    @Option(help: "Files processed at once (defaults to the number of cores).")
    var jobs: Int = ProcessInfo.processInfo.activeProcessorCount

    @Flag(help: "Import files even when the catalog already holds the same content.")
    var force = false

    @Flag(help: "Print the result as JSON.")
    var json = false

    @OptionGroup var cog: COGArguments

    @OptionGroup var limits: RasterLimitArguments

    @Option(name: .customLong("allow-driver"),
            help: "Also accept files GDAL reads with this driver, e.g. VRT or JP2OpenJPEG (repeatable; GTiff always).")
    var allowedDrivers: [String] = []

    @Argument(help: "GeoTIFF files or folders.")
    var paths: [String]

    func validate() throws {
        guard jobs >= 1 else { throw ValidationError("--jobs must be at least 1") }
        guard maxZoom >= 0 else { throw ValidationError("--max-zoom cannot be negative") }
        if config != nil, !create { throw ValidationError("--config goes with --create") }
        do {
            try policy.validate()
        } catch let error as RasterError {
            throw ValidationError("--allow-driver: \(error.description)")
        }
    }

    /// GTiff plus the drivers a local user chose to trust.
    var policy: OpenPolicy {
        OpenPolicy(allowedDrivers: OpenPolicy.geoTIFFOnly + allowedDrivers, limits: limits.limits)
    }

    func run() async throws {
        let sources = try RasterFiles.find(paths)
        guard !sources.isEmpty else { throw ValidationError("no .tif or .tiff files in \(paths.joined(separator: ", "))") }
        let library = try data.library()
        defer { library.close() }
        if !library.recovery.isEmpty { Output.error("recovered an interrupted import: \(library.recovery)") }
        let requested = try config.map(AttributesConfigFile.load)
        let values = try AttributeArguments.parse(attributes, configuration: try prepareCatalog(library, requested: requested))

        let cancellation = CancellationFlag()
        let interrupt = SignalTrap(SIGINT) {
            Output.error("\ninterrupted: finishing cleanly, nothing half-written is kept")
            cancellation.cancel()
        }
        let bar = ProgressBar()
        let options = ImportOptions(polygonize: polygonize, useCOG: !noCog, cog: try cog.options(levels: maxZoom),
                                    force: force, policy: policy)
        let outcomes = await BatchImport(library: library, jobs: jobs).run(
            sources, into: catalog, attributes: values, options: options, cancellation: cancellation
        ) { progress in
            if let outcome = progress.lastFinished {
                if outcome.status == .failed {
                    bar.message("failed \(outcome.file): \(outcome.error ?? "unknown error")")
                } else if !json {
                    bar.message(Self.describe(outcome))
                }
            }
            bar.draw(fraction: progress.fraction, finished: progress.finished, total: progress.total)
        }
        bar.finish()
        withExtendedLifetime(interrupt) {}
        if !cancellation.isCancelled, outcomes.contains(where: { $0.status == .imported }) {
            try buildMapOverview(library)
        }
        if json { try Output.printJSON(ImportReport(outcomes)) }
        if cancellation.isCancelled { throw ExitCode(130) }
        if outcomes.contains(where: { $0.status == .failed }) { throw ExitCode.failure }
    }

    /// The catalog's low-resolution mosaic for map tiles, so that low zooms are fast as soon as the
    /// import ends (a running `tile serve` would build it too).
    private func buildMapOverview(_ library: RasterLibrary) throws {
        let overviews = CatalogOverviews(folder: library.overviewFolder)
        let drawn = try overviews.build(catalog, store: library.store) { library.absolutePath(of: $0) }
        if drawn > 0, !json { Output.error("map overview: \(drawn) items drawn") }
    }

    /// The catalog's configuration, creating the catalog first when asked to. `requested` is the
    /// --config file's: an existing catalog must have that configuration, as the API's 409 says.
    private func prepareCatalog(_ library: RasterLibrary, requested: AttributesConfiguration?) throws -> AttributesConfiguration {
        if let existing = try library.store.configuration(of: catalog) {
            if let requested, requested != existing, let config {
                throw ValidationError("catalog \(catalog) already exists with another configuration than --config "
                    + "\(config); nothing was imported (leave out --create and --config to import into it as it is)")
            }
            return existing
        }
        guard create else {
            throw ValidationError("catalog \(catalog) does not exist; add --create (and --config ATTRS.json) to create it")
        }
        let configuration = requested ?? AttributesConfiguration(attributes: attributes.compactMap {
            $0.split(separator: "=", maxSplits: 1).first.map { AttributeDefinition(attributeName: String($0)) }
        })
        do {
            return try library.store.createCatalog(catalog, configuration: configuration).configuration
        } catch let error as CatalogError {
            throw ValidationError(error.description)
        }
    }

    static func describe(_ outcome: ImportOutcome) -> String {
        switch outcome.status {
        case .imported:
            var line = "imported \(outcome.file) -> \(outcome.id ?? "") (\(outcome.overviewLevels ?? 0) overview levels, \(outcome.tiles) tiles)"
            if let requested = outcome.overviewLevelsRequested {
                line += "; \(requested) levels requested, capped"
            }
            return line
        case .skipped:
            return "skipped \(outcome.file): already in the catalog as \(outcome.id ?? "")"
        case .failed:
            return "failed \(outcome.file): \(outcome.error ?? "")"
        }
    }
}

/// A `--config` file: the catalog's attributesConfiguration, bare (`{"attributes": [...]}`) or
/// wrapped as a task's target has it (`{"attributesConfiguration": {"attributes": [...]}}`).
enum AttributesConfigFile {
    static let wrapperKey = "attributesConfiguration"
    static let keys = ["idAttribute", "titleAttribute", "geometryAttribute", "tableName", "attributes", "tableReferences"]

    static func load(_ path: String) throws -> AttributesConfiguration {
        let data = try read(path)
        let top: Any
        do {
            top = try JSONSerialization.jsonObject(with: data)
        } catch {
            throw ValidationError("--config \(path) is not valid JSON: \(jsonSyntaxProblem(error, in: data))")
        }
        let allowed = "allowed at the top: \(wrapperKey) (holding the others), " + keys.joined(separator: ", ")
        guard let object = top as? [String: Any] else {
            throw ValidationError("--config \(path) must hold a JSON object (\(allowed))")
        }
        let configuration: AttributesConfiguration
        do {
            if object.keys.contains(wrapperKey) {
                let others = object.keys.filter { $0 != wrapperKey }.sorted()
                guard others.isEmpty else {
                    throw ValidationError("--config \(path): unknown top-level " + (others.count == 1 ? "key " : "keys ")
                        + others.map { "\"\($0)\"" }.joined(separator: ", ") + " beside \"\(wrapperKey)\" (\(allowed))")
                }
                guard let inner = object[wrapperKey] as? [String: Any] else {
                    throw ValidationError("--config \(path): \"\(wrapperKey)\" must be a JSON object")
                }
                try checkKeys(inner, path: path, where: " in \"\(wrapperKey)\"")
                configuration = try JSONDecoder().decode([String: AttributesConfiguration].self, from: data)[wrapperKey]!
            } else {
                try checkKeys(object, path: path, kind: "top-level ", allowed: allowed)
                configuration = try JSONDecoder().decode(AttributesConfiguration.self, from: data)
            }
        } catch let error as DecodingError {
            throw ValidationError("--config \(path): \(describe(error))")
        }
        do {
            try configuration.validate()
        } catch let error as CatalogError {
            throw ValidationError("--config \(path): \(error.description)")
        }
        return configuration
    }

    private static func checkKeys(_ object: [String: Any], path: String, kind: String = "", where place: String = "",
                                  allowed: String? = nil) throws {
        let unknown = object.keys.filter { !keys.contains($0) }.sorted()
        guard !unknown.isEmpty else { return }
        throw ValidationError("--config \(path): unknown \(kind)" + (unknown.count == 1 ? "key " : "keys ")
            + unknown.map { "\"\($0)\"" }.joined(separator: ", ") + place + " ("
            + (allowed ?? "allowed: " + keys.joined(separator: ", ")) + ")")
    }

    /// The file's bytes, or why they cannot be read in a few words.
    private static func read(_ path: String) throws -> Data {
        var isDirectory: ObjCBool = false
        guard FileManager.default.fileExists(atPath: path, isDirectory: &isDirectory) else {
            throw ValidationError("cannot read --config \(path): no such file")
        }
        guard !isDirectory.boolValue else { throw ValidationError("cannot read --config \(path): it is a folder") }
        guard FileManager.default.isReadableFile(atPath: path), let data = FileManager.default.contents(atPath: path) else {
            throw ValidationError("cannot read --config \(path): permission denied")
        }
        return data
    }

    /// Where the JSON goes wrong, in words: line and column when the parser says where.
    static func jsonSyntaxProblem(_ error: Error, in data: Data) -> String {
        if String(decoding: data, as: UTF8.self).allSatisfy(\.isWhitespace) { return "the file is empty" }
        let detail = ((error as NSError).userInfo[NSDebugDescriptionErrorKey] as? String) ?? ""
        if detail.localizedCaseInsensitiveContains("end of file") {
            return "it ends before the JSON is complete (a missing ] or }, an unfinished string or value)"
        }
        // Foundation says "Invalid value around character 88": a 0-based byte offset.
        if let range = detail.range(of: #"around character (\d+)"#, options: .regularExpression),
           let offset = Int(detail[range].split(separator: " ").last ?? "") {
            let before = data.prefix(offset)
            let line = before.reduce(1) { $1 == UInt8(ascii: "\n") ? $0 + 1 : $0 }
            let lineStart = before.lastIndex(of: UInt8(ascii: "\n")).map { $0 + 1 } ?? data.startIndex
            let column = String(decoding: data[lineStart..<(data.startIndex + min(offset, data.count))], as: UTF8.self).count + 1
            let what = detail[..<range.lowerBound].trimmingCharacters(in: .whitespaces).lowercased()
            return "\(what.isEmpty ? "unexpected text" : what) at line \(line), column \(column)"
        }
        return detail.isEmpty ? "it cannot be parsed" : (detail.hasSuffix(".") ? String(detail.dropLast()) : detail)
    }

    /// A decoding error in plain words: where (a path like attributes[1].type) and what is wrong.
    static func describe(_ error: DecodingError) -> String {
        func place(_ path: [CodingKey]) -> String {
            var text = ""
            for key in path {
                if let index = key.intValue { text += "[\(index)]" } else { text += (text.isEmpty ? "" : ".") + key.stringValue }
            }
            return text.isEmpty ? "the top level" : text
        }
        func kind(_ type: Any.Type) -> String {
            switch type {
            case is String.Type: return "a string"
            case is Bool.Type: return "true or false"
            case is Int.Type, is Int64.Type, is Int32.Type, is Double.Type: return "a number"
            default: return String(describing: type).hasPrefix("Array") ? "an array" : "an object"
            }
        }
        switch error {
        case let .typeMismatch(type, context):
            return "\(place(context.codingPath)) must be \(kind(type))"
        case let .valueNotFound(type, context):
            return "\(place(context.codingPath)) must be \(kind(type)), not null"
        case let .keyNotFound(key, context):
            let container = place(context.codingPath)
            return "\"\(key.stringValue)\" is missing" + (context.codingPath.isEmpty ? "" : " in \(container)")
        case let .dataCorrupted(context):
            return "\(place(context.codingPath)): \(context.debugDescription)"
        @unknown default:
            return "\(error)"
        }
    }
}

/// The `--json` report of an import.
struct ImportReport: Encodable {
    var imported: [ImportOutcome]
    var skipped: [ImportOutcome]
    var failed: [Failure]

    struct Failure: Encodable {
        var file: String
        var error: String
    }

    init(_ outcomes: [ImportOutcome]) {
        imported = outcomes.filter { $0.status == .imported }
        skipped = outcomes.filter { $0.status == .skipped }
        failed = outcomes.filter { $0.status == .failed }.map { Failure(file: $0.file, error: $0.error ?? "") }
    }
}

/// COG writer options shared by the commands that write COGs.
struct COGArguments: ParsableArguments {
    @Option(help: "COG compression: DEFLATE (default), LZW, ZSTD, LZMA, NONE, LERC, JPEG, WEBP (lossy).")
    var compression: String = "DEFLATE"

    @Option(help: "Internal tile size in pixels (multiple of 16).")
    var blockSize: Int = 512

    @Option(help: "Overview resampling (default: NEAREST for paletted data, AVERAGE otherwise).")
    var resampling: String?

    @Option(help: "Threads for compression per file: a number or ALL_CPUS.")
    var threads: String = "ALL_CPUS"

    func validate() throws {
        do {
            try options(levels: 0).validate()
        } catch let error as RasterError {
            throw ValidationError(error.description)
        }
    }

    func options(levels: Int) throws -> COGOptions {
        COGOptions(compression: compression, blockSize: blockSize, resampling: resampling, overviewLevels: levels,
                   threads: threads)
    }
}

enum RasterFiles {
    /// The GeoTIFFs named by `paths`: files as given, folders searched recursively, sorted.
    static func find(_ paths: [String]) throws -> [ImportSource] {
        var found: [ImportSource] = []
        let manager = FileManager.default
        for path in paths {
            var isDirectory: ObjCBool = false
            guard manager.fileExists(atPath: path, isDirectory: &isDirectory) else {
                throw ValidationError("\(path): no such file or folder")
            }
            guard isDirectory.boolValue else {
                found.append(ImportSource(path: path, name: (path as NSString).lastPathComponent))
                continue
            }
            let root = URL(fileURLWithPath: path)
            let enumerator = manager.enumerator(at: root, includingPropertiesForKeys: nil)
            var inFolder: [ImportSource] = []
            while let url = enumerator?.nextObject() as? URL {
                guard ["tif", "tiff"].contains(url.pathExtension.lowercased()) else { continue }
                inFolder.append(ImportSource(path: url.path, name: url.lastPathComponent))
            }
            found += inFolder.sorted { $0.path < $1.path }
        }
        return found
    }
}

enum AttributeArguments {
    /// Parses NAME=VALUE pairs, typing each value by the catalog's attribute type.
    static func parse(_ pairs: [String], configuration: AttributesConfiguration) throws -> [String: JSONValue] {
        var values: [String: JSONValue] = [:]
        for pair in pairs {
            let parts = pair.split(separator: "=", maxSplits: 1).map(String.init)
            guard parts.count == 2, !parts[0].isEmpty else { throw ValidationError("--attr \(pair): expected NAME=VALUE") }
            let (name, text) = (parts[0], parts[1])
            guard let definition = configuration.attribute(named: name) else {
                throw ValidationError("--attr \(name): the catalog has no such attribute (it has: "
                    + configuration.attributes.map(\.attributeName).joined(separator: ", ") + ")")
            }
            switch definition.type {
            case .int32, .int64:
                guard let number = Int64(text) else { throw ValidationError("--attr \(name): \(text) is not an integer") }
                values[name] = .int(number)
            case .double:
                guard let number = Double(text) else { throw ValidationError("--attr \(name): \(text) is not a number") }
                values[name] = .double(number)
            case .boolean:
                guard let flag = Bool(text.lowercased()) else { throw ValidationError("--attr \(name): use true or false") }
                values[name] = .bool(flag)
            case .json:
                values[name] = (try? JSONValue.parse(text)) ?? .string(text)
            case .string, .dateTime:
                values[name] = .string(text)
            }
        }
        do {
            return try configuration.validateValues(values, field: "--attr")
        } catch let error as CatalogError {
            throw ValidationError(error.description)
        }
    }
}

/// Runs `handler` when the process receives `signal`, instead of dying.
final class SignalTrap {
    private let source: DispatchSourceSignal

    init(_ signalNumber: Int32, handler: @escaping @Sendable () -> Void) {
        signal(signalNumber, SIG_IGN)
        source = DispatchSource.makeSignalSource(signal: signalNumber, queue: .global())
        source.setEventHandler(handler: handler)
        source.resume()
    }

    deinit {
        source.cancel()
        signal(SIGINT, SIG_DFL)
    }
}
