import Catalog
import Foundation
import Raster

/// How files are imported: the `tiling` task's switches plus the COG writer's options.
public struct ImportOptions: Sendable, Equatable {
    public var polygonize: Bool
    public var useCOG: Bool
    public var cog: COGOptions
    /// Import a file even when the catalog already holds one with the same SHA-256.
    public var force: Bool
    public var maxFootprintGridSide: Int
    /// The drivers and limits a source file must pass.
    public var policy: OpenPolicy
    /// Sources are uploads: each must be a regular file right in its folder, never a symbolic link.
    public var confineSources: Bool

    public init(polygonize: Bool = false, useCOG: Bool = true, cog: COGOptions = COGOptions(), force: Bool = false,
                maxFootprintGridSide: Int = 2048, policy: OpenPolicy = OpenPolicy(), confineSources: Bool = false) {
        self.polygonize = polygonize
        self.useCOG = useCOG
        self.cog = cog
        self.force = force
        self.maxFootprintGridSide = maxFootprintGridSide
        self.policy = policy
        self.confineSources = confineSources
    }
}

/// What happened to one file.
public struct ImportOutcome: Codable, Sendable, Equatable {
    public enum Status: String, Codable, Sendable { case imported, skipped, failed }

    public var file: String
    public var status: Status
    public var id: String?
    public var path: String?
    public var error: String?
    public var tiles: Int = 0
    public var overviewLevels: Int?
    /// Overview levels asked for when more than the raster allows (the count was capped).
    public var overviewLevelsRequested: Int?
    public var bytesWritten: Int64 = 0
    public var footprintVertices: Int?
    /// Seconds spent in each phase: open, hash, inspect, footprint, cog, register.
    public var seconds: [String: Double] = [:]
}

/// Imports single rasters into a library's catalogs. Blocking: call it on a worker thread.
struct RasterImporter {
    let library: RasterLibrary

    func importFile(at source: String, named file: String, into catalog: CatalogName,
                    attributes: [String: JSONValue], options: ImportOptions, progress: ProgressSink) -> ImportOutcome {
        var outcome = ImportOutcome(file: file, status: .failed)
        do {
            try importFile(source, into: catalog, attributes: attributes, options: options, progress: progress,
                           outcome: &outcome)
        } catch {
            outcome.status = .failed
            outcome.error = withoutServerPaths(String(describing: error), source: source)
        }
        return outcome
    }

    /// Error text names files as the user knows them: GDAL's messages may carry full paths.
    private func withoutServerPaths(_ message: String, source: String) -> String {
        let folder = (source as NSString).deletingLastPathComponent + "/"
        return message.replacingOccurrences(of: folder, with: "")
            .replacingOccurrences(of: library.root.path + "/", with: "")
            .replacingOccurrences(of: #"\.check-[0-9A-Fa-f-]+/"#, with: "", options: .regularExpression)
    }

    private func importFile(_ source: String, into catalog: CatalogName, attributes: [String: JSONValue],
                            options: ImportOptions, progress: ProgressSink, outcome: inout ImportOutcome) throws {
        var clock = PhaseClock()
        // Every GDAL read of the user's file runs isolated (no folder listing, no network); the
        // catalog and the stored raster are the service's own and are handled outside it.
        // Checked and opened first (each isolated itself): a hostile or oversized file is refused
        // before a byte is hashed.
        let file = try GeoTIFFFile.check(source, name: outcome.file, policy: options.policy,
                                         confined: options.confineSources)
        let dataset = try file.open()
        // A compression the raster cannot take fails the file now, blaming the option, not the file.
        if options.useCOG { try dataset.checkCompression(options.cog) }
        clock.lap("open", into: &outcome)
        let sha256 = try FileDigest.sha256(path: file.path)
        clock.lap("hash", into: &outcome)
        guard !options.force else {
            try store(source, file, dataset, sha256: sha256, into: catalog, attributes: attributes, options: options,
                      progress: progress, clock: &clock, outcome: &outcome)
            return
        }
        // The content check and the registration are one step for this content in this catalog: a
        // second file with the same content waits for the first, then finds it and is skipped.
        let key = ContentClaims.key(root: library.root, catalog: catalog.description, sha256: sha256)
        try ContentClaims.shared.withClaim(key, cancellation: progress.cancellation) {
            if let existing = try library.store.item(sha256: sha256, in: catalog) {
                outcome.status = .skipped
                outcome.id = existing.system.id
                outcome.path = existing.system.path
                return
            }
            try store(source, file, dataset, sha256: sha256, into: catalog, attributes: attributes, options: options,
                      progress: progress, clock: &clock, outcome: &outcome)
        }
    }

    /// Inspects, traces, writes and registers one opened file whose content is not in the catalog.
    private func store(_ source: String, _ file: GeoTIFFFile, _ dataset: Dataset, sha256: String, into catalog: CatalogName,
                       attributes: [String: JSONValue], options: ImportOptions, progress: ProgressSink,
                       clock: inout PhaseClock, outcome: inout ImportOutcome) throws {
        try progress.throwIfCancelled()

        let info = UserFileIsolation.run { dataset.inspect() }
        clock.lap("inspect", into: &outcome)
        let footprint = try UserFileIsolation.run {
            try dataset.footprint(FootprintOptions(polygonize: options.polygonize, maxGridSide: options.maxFootprintGridSide),
                                  progress: progress.phase(0.02...0.1))
        }
        clock.lap("footprint", into: &outcome)

        var overviewLevels = info.bands.first?.overviews ?? 0
        var bytes: Int64 = 0
        var stored: SystemFields?
        try library.storeRaster(into: catalog) { slot in
            if options.useCOG {
                let result = try UserFileIsolation.run {
                    try dataset.writeCOG(to: slot.partial, options: options.cog, progress: progress.phase(0.1...0.97))
                }
                let structure = COGValidator.validate(path: slot.partial)
                guard structure.isValid else {
                    throw RasterError.writeFailed(path: "item \(slot.id)", reason: "the COG layout is invalid: "
                        + structure.problems.joined(separator: "; "))
                }
                overviewLevels = result.overviewLevels
                outcome.tiles = structure.tileCount
                outcome.overviewLevelsRequested = result.cappedFrom
            } else {
                try file.copy(to: slot.partial)
            }
            clock.lap("cog", into: &outcome)
            try progress.throwIfCancelled()

            bytes = storedBytes(slot.partial)
            // Statistics of the stored raster (its overviews): what map tiles stretch non-byte data by.
            let bands = try bandSummaries(path: slot.partial)
            clock.lap("statistics", into: &outcome)
            let geographic = footprint.geographic
            let system = SystemFields(
                id: slot.id, sourceFile: outcome.file, path: slot.storedPath, sizeBytes: fileSize(source),
                sha256: sha256, width: info.width, height: info.height, bandCount: info.bandCount,
                dataType: info.dataType, crs: info.crs ?? footprint.nativeCRS.identifier,
                resolutionX: info.resolution?[0], resolutionY: info.resolution?[1], nodata: info.noData,
                overviewLevels: overviewLevels, tiles: outcome.tiles, cog: options.useCOG,
                bbox: geographic.envelope.asArray, nativeCrs: footprint.nativeCRS.wkt,
                nativeBbox: footprint.native.envelope.asArray, nativeFootprint: footprint.native.wkt,
                footprintVertices: geographic.vertexCount, createdAt: ISO8601.format(Date()), bands: bands)
            stored = system
            return NewCatalogItem(system: system, attributes: attributes, footprintWKT: geographic.wkt)
        }
        clock.lap("register", into: &outcome)
        progress.update(1)
        outcome.status = .imported
        outcome.id = stored?.id
        outcome.path = stored?.path
        outcome.overviewLevels = overviewLevels
        outcome.bytesWritten = bytes
        outcome.footprintVertices = stored?.footprintVertices
    }

    private func fileSize(_ path: String) -> Int64 {
        ((try? FileManager.default.attributesOfItem(atPath: path))?[.size] as? NSNumber)?.int64Value ?? 0
    }

    /// Bytes of the stored raster and its sidecars.
    private func storedBytes(_ path: String) -> Int64 {
        let base = (path as NSString).deletingPathExtension
        return [path, path + ".msk", path + ".aux.xml", base + ".tfw", base + ".wld"].reduce(0) { $0 + fileSize($1) }
    }
}

private struct PhaseClock {
    private var last = DispatchTime.now()

    mutating func lap(_ phase: String, into outcome: inout ImportOutcome) {
        let now = DispatchTime.now()
        outcome.seconds[phase] = Double(now.uptimeNanoseconds - last.uptimeNanoseconds) / 1e9
        last = now
    }
}
