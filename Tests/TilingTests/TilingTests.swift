import Catalog
import Foundation
import Raster
import TestSupport
import Testing
@testable import Tiling

/// A data directory with a user's uploads, for one test.
struct Workspace {
    let directory = TemporaryDirectory("tiling")
    let library: RasterLibrary
    let user = "alice"

    init(uploads: [String: String] = [:]) throws {
        library = try RasterLibrary(directory: directory.path)
        let folder = try library.uploadFolder(for: user)
        for (name, source) in uploads {
            try FileManager.default.copyItem(atPath: source, toPath: folder.appendingPathComponent(name).path)
        }
    }

    /// Uploads a sample with its sidecars.
    func upload(sample name: String) throws {
        let folder = try library.uploadFolder(for: user)
        let base = (name as NSString).deletingPathExtension
        for file in try FileManager.default.contentsOfDirectory(atPath: TestRasters.sample("")) where file.hasPrefix(base + ".") {
            try FileManager.default.copyItem(atPath: TestRasters.sample(file), toPath: folder.appendingPathComponent(file).path)
        }
    }

    /// Every stored raster has its item and every item its raster; no partial file or journal entry is left.
    func assertConsistent() throws {
        #expect(try FileManager.default.contentsOfDirectory(atPath: directory.file("journal")).isEmpty)
        let stored = Set(try library.store.allStoredPaths().map(library.absolutePath(of:)))
        for path in stored { #expect(FileManager.default.fileExists(atPath: path), "item without raster: \(path)") }
        let rasters = library.root.appendingPathComponent("rasters")
        let enumerator = FileManager.default.enumerator(atPath: rasters.path)
        while let relative = enumerator?.nextObject() as? String {
            let path = rasters.appendingPathComponent(relative).path
            #expect(!relative.contains(".partial."), "partial or temporary file left: \(relative)")
            if relative.hasSuffix(".tif") { #expect(stored.contains(path), "raster without item: \(relative)") }
        }
    }

    static let configuration = AttributesConfiguration(attributes: [
        AttributeDefinition(attributeName: "name", type: .string),
        AttributeDefinition(attributeName: "dateofimage", type: .dateTime),
    ])

    func task(_ files: [String], catalog: String = "alice.images", create: Bool = true, polygonize: Bool = true,
              attributes: [String: JSONValue] = ["name": .string("scene")], maxZoomLevel: Int? = nil,
              useCog: Bool? = nil) -> TilingTask {
        TilingTask(target: .init(serviceName: catalog, createNewService: create,
                                 attributesConfiguration: create ? Self.configuration : nil),
                   files: files, attributes: attributes, maxZoomLevel: maxZoomLevel, polygonize: polygonize,
                   useCog: useCog)
    }
}

@Suite("tiling task")
struct TilingTaskTests {
    @Test("a task imports its files, reports tiles, and lists the bad ones in batchErrors")
    func mixedBatch() async throws {
        let workspace = try Workspace()
        defer { workspace.directory.remove() }
        for name in ["nodata_collar.tif", "damaged.tif", "world_file.tif", "no_georef.tif"] {
            try workspace.upload(sample: name)
        }
        let executor = TilingExecutor(library: workspace.library, jobs: 2)
        let task = try executor.validate(workspace.task(["nodata_collar.tif", "damaged.tif", "world_file.tif", "no_georef.tif"]),
                                         user: "alice")
        let updates = UpdateLog()
        let progress = await executor.run(task, id: "t1") { updates.append($0) }
        #expect(progress.status == .completed)
        let step = try #require(progress.taskResult?.stepResults.first)
        #expect(step.stepName == "tiling" && step.outSource == "alice.images")
        #expect(step.inputObjectCount == 4 && step.outputObjectCount == 2 && step.errorCount == 2)
        #expect(Set(step.batchErrors?.map(\.file) ?? []) == ["damaged.tif", "no_georef.tif"])
        #expect(step.batchErrors?.first { $0.file == "damaged.tif" }?.message.contains("cannot be read") == true)
        guard case let .int(tiles)? = step.resultDetails?["Tiles created"] else { Issue.record("no tile count"); return }
        #expect(tiles == 5 + 1)
        #expect(progress.currentStepAlreadyDone == 4 && progress.currentStepObjectCount == 4)
        // Progress moved through the files rather than jumping from nothing to done.
        let done = updates.values.map(\.currentStepAlreadyDone)
        #expect(done.contains(1) && done.contains(2) && done.contains(3))

        let items = try workspace.library.store.items(in: CatalogName("alice.images"))
        #expect(items.count == 2 && items.allSatisfy { $0.attributes["name"] == .string("scene") })
        let collar = try #require(items.first { $0.system.sourceFile == "nodata_collar.tif" })
        #expect(collar.system.overviewLevels == 1 && collar.system.tiles == 5 && collar.system.cog)
        #expect(collar.system.crs == "EPSG:32633" && collar.system.nodata == "0" && collar.system.bandCount == 3)
        #expect(collar.system.sha256 == (try FileDigest.sha256(path: TestRasters.sample("nodata_collar.tif"))))
        let source = try Dataset.open(TestRasters.sample("nodata_collar.tif"))
        let collarPath = workspace.library.absolutePath(of: collar.system.path)
        let stored = try Dataset.open(collarPath)
        #expect(try source.band(2).checksum() == stored.band(2).checksum())
        #expect(COGValidator.validate(path: collarPath).isValid)
        try workspace.assertConsistent()
    }

    @Test("when every file fails the task fails, saying why")
    func allFail() async throws {
        let workspace = try Workspace()
        defer { workspace.directory.remove() }
        try workspace.upload(sample: "all_nodata.tif")
        let executor = TilingExecutor(library: workspace.library)
        let progress = await executor.run(try executor.validate(workspace.task(["all_nodata.tif"]), user: "alice"), id: "t")
        #expect(progress.status == .failed)
        #expect(progress.taskResult?.message?.contains("no valid data") == true)
        #expect(try workspace.library.store.items(in: CatalogName("alice.images")).isEmpty)
    }

    @Test("bad requests are refused before anything runs, naming the field")
    func validation() throws {
        let workspace = try Workspace()
        defer { workspace.directory.remove() }
        try workspace.upload(sample: "rotated.tif")
        let executor = TilingExecutor(library: workspace.library)
        func refusal(_ task: TilingTask) -> TaskRequestError? {
            do {
                _ = try executor.validate(task, user: "alice")
                return nil
            } catch {
                return error as? TaskRequestError
            }
        }
        let ok = workspace.task(["rotated.tif"])
        #expect(refusal(ok) == nil)
        #expect(refusal(workspace.task(["rotated.tif"], catalog: "bob.images")).map { if case .forbidden = $0 { true } else { false } } == true)
        #expect(refusal(workspace.task(["rotated.tif"], catalog: "temp.scratch")) == nil)
        #expect(refusal(workspace.task(["rotated.tif"], create: false)).map { if case .notFound = $0 { true } else { false } } == true)
        #expect(refusal(workspace.task(["rotated.tif"], catalog: "images")) == .badRequest(field: "target.serviceName",
            message: "catalog name \"images\" must be namespace.name, each part letters, digits and underscores, starting with a letter or underscore (e.g. alice.landsat_images)"))
        for (files, field) in [(["missing.tif"], "files[0]"), (["../rotated.tif"], "files[0]"), (["rotated.tif", "/etc/passwd"], "files[1]"), ([], "files")] {
            guard case let .badRequest(reported, _)? = refusal(workspace.task(files)) else {
                Issue.record("\(files) was not refused")
                continue
            }
            #expect(reported == field)
        }
        guard case let .badRequest(field, _)? = refusal(workspace.task(["rotated.tif"], attributes: ["colour": .string("x")])) else {
            Issue.record("unknown attribute accepted")
            return
        }
        #expect(field == "attributes.colour")
        guard case let .badRequest(dateField, _)? = refusal(workspace.task(["rotated.tif"], attributes: ["dateofimage": .int(3)])) else {
            Issue.record("wrong type accepted")
            return
        }
        #expect(dateField == "attributes.dateofimage")
        guard case let .badRequest(zoomField, _)? = refusal(workspace.task(["rotated.tif"], maxZoomLevel: -1)) else {
            Issue.record("negative zoom accepted")
            return
        }
        #expect(zoomField == "maxZoomLevel")
        // A catalog that exists with another configuration is a conflict.
        try workspace.library.store.createCatalog(CatalogName("alice.images"), configuration: AttributesConfiguration())
        #expect(refusal(ok).map { if case .conflict = $0 { true } else { false } } == true)
        #expect(try workspace.library.store.catalogs().count == 1)
    }

    @Test("cancelling mid-file leaves nothing half-written; finished files stay")
    func cancelMidFile() async throws {
        let workspace = try Workspace()
        defer { workspace.directory.remove() }
        try workspace.upload(sample: "rotated.tif")
        try workspace.upload(sample: "nodata_collar.tif")
        let name = try CatalogName("alice.images")
        try workspace.library.store.createCatalog(name, configuration: Workspace.configuration)
        let flag = CancellationFlag()
        let folder = try workspace.library.uploadFolder(for: "alice")
        let sources = ["rotated.tif", "nodata_collar.tif"].map { ImportSource(path: folder.appendingPathComponent($0).path, name: $0) }
        let outcomes = await BatchImport(library: workspace.library, jobs: 1).run(
            sources, into: name, attributes: [:], options: ImportOptions(cog: COGOptions(blockSize: 64)), cancellation: flag
        ) { progress in
            // Cancel while the second file's COG is being written.
            if progress.finished == 1, progress.fraction > 0.7 { flag.cancel() }
        }
        #expect(outcomes.map(\.status) == [.imported, .failed])
        #expect(outcomes[1].error == "cancelled")
        #expect(try workspace.library.store.items(in: name).map(\.system.sourceFile) == ["rotated.tif"])
        try workspace.assertConsistent()
    }

    @Test("the same content is skipped on a second import; force imports it again")
    func deduplication() async throws {
        let workspace = try Workspace()
        defer { workspace.directory.remove() }
        let name = try CatalogName("alice.images")
        try workspace.library.store.createCatalog(name, configuration: AttributesConfiguration())
        let source = [ImportSource(path: TestRasters.sample("rotated.tif"), name: "rotated.tif")]
        let batch = BatchImport(library: workspace.library)
        let first = await batch.run(source, into: name, attributes: [:], options: ImportOptions())
        let second = await batch.run(source, into: name, attributes: [:], options: ImportOptions())
        #expect(first[0].status == .imported && second[0].status == .skipped && second[0].id == first[0].id)
        let forced = await batch.run(source, into: name, attributes: [:], options: ImportOptions(force: true))
        #expect(forced[0].status == .imported && forced[0].id != first[0].id)
        #expect(try workspace.library.store.items(in: name).count == 2)
    }

    @Test("useCog=false stores the file as uploaded, sidecars included")
    func storeAsUploaded() async throws {
        let workspace = try Workspace()
        defer { workspace.directory.remove() }
        try workspace.upload(sample: "world_file.tif")
        let executor = TilingExecutor(library: workspace.library)
        let progress = await executor.run(
            try executor.validate(workspace.task(["world_file.tif"], useCog: false), user: "alice"), id: "t")
        #expect(progress.status == .completed)
        let item = try #require(try workspace.library.store.items(in: CatalogName("alice.images")).first)
        #expect(!item.system.cog && item.system.tiles == 0)
        let itemPath = workspace.library.absolutePath(of: item.system.path)
        #expect(try FileDigest.sha256(path: itemPath) == FileDigest.sha256(path: TestRasters.sample("world_file.tif")))
        // The world file came along, so the stored raster is still georeferenced.
        let stored = try Dataset.open(itemPath).inspect()
        #expect(stored.georeferencing == .geoTransform && stored.crs == "EPSG:32633")
        try workspace.assertConsistent()
    }

    @Test("more overview levels than possible are capped and the result says so")
    func cappedZoom() async throws {
        let workspace = try Workspace()
        defer { workspace.directory.remove() }
        try workspace.upload(sample: "nodata_collar.tif")
        let executor = TilingExecutor(library: workspace.library)
        let progress = await executor.run(
            try executor.validate(workspace.task(["nodata_collar.tif"], maxZoomLevel: 7), user: "alice"), id: "t")
        let details = try #require(progress.taskResult?.stepResults.first?.resultDetails)
        #expect(details["Overview levels"] == .array([.int(1)]))
        #expect(details["Overview levels capped"] == .array([.string("nodata_collar.tif: 7 requested, 1 possible")]))
    }

    @Test("every real raster imports, or is rejected for the right reason",
          arguments: TestRasters.realNames)
    func realCorpus(name: String) async throws {
        let workspace = try Workspace()
        defer { workspace.directory.remove() }
        let catalog = try CatalogName("alice.real")
        try workspace.library.store.createCatalog(catalog, configuration: AttributesConfiguration())
        let outcome = await BatchImport(library: workspace.library).run(
            [ImportSource(path: TestRasters.real(name), name: name)], into: catalog, attributes: [:],
            options: ImportOptions(polygonize: true))[0]
        if TestRasters.unplaceableReal.contains(name) {
            #expect(outcome.status == .failed && outcome.error?.contains("no georeferencing") == true)
            return
        }
        #expect(outcome.status == .imported, "\(outcome.error ?? "")")
        let path = workspace.library.absolutePath(of: try #require(outcome.path))
        #expect(COGValidator.validate(path: path).isValid)
        let (valid, report) = GDALValidator.validate(path)
        #expect(valid, "\(report)")
        let source = try Dataset.open(TestRasters.real(name)), stored = try Dataset.open(path)
        for (a, b) in zip(source.bands, stored.bands) { #expect(try a.checksum() == b.checksum()) }
        try workspace.assertConsistent()
    }
}

@Suite("recovery after an interrupted import")
struct RecoveryTests {
    @Test("the journal's work is finished or undone at the next open; nothing it does not name is touched")
    func recovery() throws {
        let directory = TemporaryDirectory("recovery")
        defer { directory.remove() }
        let name = try CatalogName("alice.images")
        let folder: URL
        let live: WorkJournal.Ticket
        do {
            let library = try RasterLibrary(directory: directory.path)
            try library.store.createCatalog(name, configuration: AttributesConfiguration())
            folder = library.rasterFolder(for: name)
            try FileManager.default.createDirectory(at: folder, withIntermediateDirectories: true)
            let copy = { (file: String) in
                try FileManager.default.copyItem(atPath: TestRasters.sample("rotated.tif"),
                                                 toPath: folder.appendingPathComponent(file).path)
            }
            // 1. Died after commit, before rename: the row exists, the raster is still partial.
            try copy("committed.partial.tif")
            try library.store.insert(item(id: "committed", path: "rasters/alice.images/committed.tif"), into: name)
            abandon(library, .store(catalog: "alice.images", id: "committed",
                                    partial: "rasters/alice.images/committed.partial.tif",
                                    final: "rasters/alice.images/committed.tif"))
            // 2. Died while GDAL wrote the COG: the partial and its temporary overviews, no row.
            try copy("orphan.partial.tif")
            try copy("orphan.partial.tif.ovr.tmp")
            try copy("orphan.partial.tif.msk.ovr.tmp")
            try copy("orphan.partial.tfw")
            try copy("orphan.partial.tif.aux.xml")
            abandon(library, .store(catalog: "alice.images", id: "orphan", partial: "rasters/alice.images/orphan.partial.tif",
                                    final: "rasters/alice.images/orphan.tif"))
            // 3. Died after commit while the partial was being removed: a row without raster.
            try library.store.insert(item(id: "dangling", path: "rasters/alice.images/dangling.tif"), into: name)
            abandon(library, .store(catalog: "alice.images", id: "dangling",
                                    partial: "rasters/alice.images/dangling.partial.tif",
                                    final: "rasters/alice.images/dangling.tif"))
            // 4. Died deleting an item: the row is gone, its raster is not.
            try copy("deleted.tif")
            abandon(library, .deleteItem(catalog: "alice.images", id: "deleted", path: "rasters/alice.images/deleted.tif"))
            // 6. Died renaming a raster stored with sidecars: the raster moved, two sidecars did not.
            try copy("halfway.tif")
            try copy("halfway.partial.tif.msk")
            try copy("halfway.partial.tfw")
            try copy("halfway.partial.tif.ovr.tmp")
            try library.store.insert(item(id: "halfway", path: "rasters/alice.images/halfway.tif"), into: name)
            abandon(library, .store(catalog: "alice.images", id: "halfway",
                                    partial: "rasters/alice.images/halfway.partial.tif",
                                    final: "rasters/alice.images/halfway.tif"))
            // 5. Work another process is still doing: its entry is locked and must be left alone.
            try copy("busy.partial.tif")
            live = try library.journal.begin(.store(catalog: "alice.images", id: "busy",
                                                    partial: "rasters/alice.images/busy.partial.tif",
                                                    final: "rasters/alice.images/busy.tif"))
            library.close()
        }
        defer { live.end() }
        let reopened = try RasterLibrary(directory: directory.path)
        defer { reopened.close() }
        #expect(Set(reopened.recovery.completedRenames) == Set(["committed.tif", "halfway.tif.msk", "halfway.tfw"]
            .map { "rasters/alice.images/\($0)" }))
        #expect(Set(reopened.recovery.removedPartials) == Set(["orphan.partial.tif", "orphan.partial.tif.ovr.tmp",
                                                               "orphan.partial.tif.msk.ovr.tmp", "orphan.partial.tfw",
                                                               "orphan.partial.tif.aux.xml",
                                                               "halfway.partial.tif.ovr.tmp"].map { "rasters/alice.images/\($0)" }))
        #expect(reopened.recovery.removedDanglingItems == ["alice.images/dangling"])
        #expect(reopened.recovery.removedOrphans == ["rasters/alice.images/deleted.tif"])
        #expect(try Set(reopened.store.items(in: name).map(\.system.id)) == ["committed", "halfway"])
        #expect(try Set(FileManager.default.contentsOfDirectory(atPath: folder.path))
            == ["committed.tif", "halfway.tif", "halfway.tif.msk", "halfway.tfw", "busy.partial.tif"])
        // Only the live entry is left in the journal; opening again changes nothing.
        #expect(try FileManager.default.contentsOfDirectory(atPath: directory.file("journal")).count == 1)
        let again = try RasterLibrary(directory: directory.path)
        #expect(again.recovery.isEmpty)
        again.close()
    }

    /// Records an entry and drops it unfinished, as a process that died would.
    private func abandon(_ library: RasterLibrary, _ entry: WorkJournal.Entry) {
        _ = try? library.journal.begin(entry)
    }

    private func item(id: String, path: String) -> NewCatalogItem {
        NewCatalogItem(system: SystemFields(
            id: id, sourceFile: "\(id).tif", path: path, sizeBytes: 1, sha256: id, width: 1, height: 1, bandCount: 1,
            dataType: "Byte", crs: "EPSG:4326", resolutionX: 1, resolutionY: 1, nodata: nil, overviewLevels: 0,
            tiles: 1, cog: true, bbox: [0, 0, 1, 1], nativeCrs: "", nativeBbox: [0, 0, 1, 1], nativeFootprint: "",
            footprintVertices: 5, createdAt: "2024-01-01T00:00:00Z"),
                       attributes: [:], footprintWKT: "POLYGON ((0 0,1 0,1 1,0 1,0 0))")
    }
}

final class UpdateLog: @unchecked Sendable {
    private let lock = NSLock()
    private var stored: [TaskProgress] = []
    func append(_ progress: TaskProgress) {
        lock.lock()
        stored.append(progress)
        lock.unlock()
    }
    var values: [TaskProgress] {
        lock.lock()
        defer { lock.unlock() }
        return stored
    }
}
