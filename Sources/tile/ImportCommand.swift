import ArgumentParser
import Catalog
import Dispatch
import Foundation
import Raster
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
        let library = try RasterLibrary(directory: data.dataDir)
        defer { library.close() }
        if !library.recovery.isEmpty { Output.error("recovered an interrupted import: \(library.recovery)") }
        let values = try AttributeArguments.parse(attributes, configuration: try prepareCatalog(library))

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
        if json { try Output.printJSON(ImportReport(outcomes)) }
        if cancellation.isCancelled { throw ExitCode(130) }
        if outcomes.contains(where: { $0.status == .failed }) { throw ExitCode.failure }
    }

    /// The catalog's configuration, creating the catalog first when asked to.
    private func prepareCatalog(_ library: RasterLibrary) throws -> AttributesConfiguration {
        if let existing = try library.store.configuration(of: catalog) { return existing }
        guard create else {
            throw ValidationError("catalog \(catalog) does not exist; add --create (and --config ATTRS.json) to create it")
        }
        let configuration: AttributesConfiguration
        if let config {
            do {
                configuration = try JSONDecoder().decode(AttributesConfiguration.self,
                                                         from: Data(contentsOf: URL(fileURLWithPath: config)))
            } catch {
                throw ValidationError("--config \(config): not an attributesConfiguration JSON file: \(error)")
            }
        } else {
            configuration = AttributesConfiguration(attributes: attributes.compactMap {
                $0.split(separator: "=", maxSplits: 1).first.map { AttributeDefinition(attributeName: String($0)) }
            })
        }
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
