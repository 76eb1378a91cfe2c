import Catalog
import Foundation
import Raster
import Synchronization

/// A `tiling` task that passed validation: everything it names exists and may be written.
public struct ValidatedTilingTask: Sendable {
    public var task: TilingTask
    public var catalog: CatalogName
    /// The catalog as the user named it (`temp.x` rather than its stored name).
    public var displayName: String
    public var sources: [ImportSource]
    public var attributes: [String: JSONValue]
    public var options: ImportOptions
    /// The configuration to create the catalog with, when the task asks for a new one.
    public var creates: AttributesConfiguration?
}

/// Runs `tiling` tasks: validation up front (nothing runs on a bad request), then each file through
/// inspect, footprint, COG and register, with progress in the API's shape.
public struct TilingExecutor: Sendable {
    public let library: RasterLibrary
    public let jobs: Int
    public let cogOptions: COGOptions
    /// What an uploaded file may be: always the GTiff driver alone, within these limits.
    public let policy: OpenPolicy

    public static let cancelMessage = "Cancelled by external request."
    /// Files one task may name, counted over all the steps of a pipeline.
    public var maxFilesPerTask = 10_000

    public init(library: RasterLibrary, jobs: Int = ProcessInfo.processInfo.activeProcessorCount,
                cogOptions: COGOptions = COGOptions(), limits: RasterLimits = RasterLimits()) {
        self.library = library
        self.jobs = jobs
        self.cogOptions = cogOptions
        policy = OpenPolicy(allowedDrivers: OpenPolicy.geoTIFFOnly, limits: limits)
    }

    /// Checks a task for `user`, whose uploads are the files it may name. `planned` holds catalogs that
    /// earlier steps of the same pipeline will create; `maxFiles` is what is left of `maxFilesPerTask`
    /// after the files of those earlier steps.
    public func validate(_ task: TilingTask, user: String,
                         planned: [CatalogName: AttributesConfiguration] = [:],
                         maxFiles: Int? = nil) throws -> ValidatedTilingTask {
        // Counted before anything else is looked at: the size of a request bounds the work it causes.
        let allowed = maxFiles ?? maxFilesPerTask
        guard task.files.count <= allowed else {
            let message = allowed == maxFilesPerTask
                ? "names \(task.files.count) files, at most \(maxFilesPerTask) are allowed in one task"
                : "names \(task.files.count) files, but only \(max(0, allowed)) of the \(maxFilesPerTask) allowed in one task "
                    + "are left after the earlier steps of the pipeline"
            throw TaskRequestError.badRequest(field: "files", message: message)
        }
        var seen = Set<String>()
        for (index, file) in task.files.enumerated() where !seen.insert(file).inserted {
            throw TaskRequestError.badRequest(field: "files[\(index)]", message: "\"\(file)\" is listed twice")
        }
        let catalog = try library.catalogName(task.target.serviceName, user: user, field: "target.serviceName")
        var configuration: AttributesConfiguration
        var creates: AttributesConfiguration?
        let existing = try library.store.configuration(of: catalog) ?? planned[catalog]
        if task.target.createNewService == true {
            guard let requested = task.target.attributesConfiguration else {
                throw TaskRequestError.badRequest(field: "target.attributesConfiguration",
                                                  message: "is required when createNewService is true")
            }
            if let existing, existing != requested {
                throw TaskRequestError.conflict("catalog \(catalog) already exists with another configuration")
            }
            configuration = requested
            creates = existing == nil ? requested : nil
            if let creates { try checkNewCatalog(catalog, configuration: creates, planned: planned) }
        } else {
            guard let existing else {
                throw TaskRequestError.notFound("catalog \(catalog) does not exist; set target.createNewService to "
                    + "true and give target.attributesConfiguration to create it")
            }
            configuration = existing
        }
        guard !task.files.isEmpty else { throw TaskRequestError.badRequest(field: "files", message: "names no file") }
        let uploads = try library.uploadFolder(for: user)
        var sources: [ImportSource] = []
        for (index, file) in task.files.enumerated() {
            let name = try UploadName.sanitize(file, field: "files[\(index)]")
            let path = uploads.appendingPathComponent(name).path
            guard FileManager.default.fileExists(atPath: path) else {
                throw TaskRequestError.badRequest(field: "files[\(index)]",
                                                  message: "\"\(file)\" is not among \(user)'s uploaded files")
            }
            sources.append(ImportSource(path: path, name: name))
        }
        let attributes: [String: JSONValue]
        do {
            attributes = try configuration.validateValues(task.attributes ?? [:])
        } catch let CatalogError.invalidAttribute(field, message) {
            throw TaskRequestError.badRequest(field: field, message: message)
        }
        if let levels = task.maxZoomLevel, levels < 0 {
            throw TaskRequestError.badRequest(field: "maxZoomLevel", message: "must be 0 (automatic) or more")
        }
        var cog = cogOptions
        cog.overviewLevels = task.maxZoomLevel
        let options = ImportOptions(polygonize: task.polygonize ?? false, useCOG: task.useCog ?? true, cog: cog,
                                    policy: policy, confineSources: true)
        return ValidatedTilingTask(task: task, catalog: catalog, displayName: task.target.serviceName, sources: sources,
                                   attributes: attributes, options: options, creates: creates)
    }

    /// Runs a validated task. `onProgress` sees the counts move while files are processed.
    public func run(_ task: ValidatedTilingTask, id: String, cancellation: CancellationFlag = CancellationFlag(),
                    onProgress: @escaping @Sendable (TaskProgress) -> Void = { _ in }) async -> TaskProgress {
        let started = ISO8601.format(Date())
        let report = StepReport(target: task.displayName, started: started, total: task.sources.count)
        if let configuration = task.creates {
            do {
                try library.store.createCatalog(task.catalog, configuration: configuration)
            } catch {
                return report.progress(id: id, status: .failed, outcomes: [], ended: ISO8601.format(Date()),
                                       message: "creating catalog \(task.displayName) failed: \(TaskFailureText.describe(error))")
            }
        }
        onProgress(report.progress(id: id, status: .executing, outcomes: [], ended: nil, message: nil))
        let finished = OutcomeLog()
        let outcomes = await BatchImport(library: library, jobs: jobs).run(
            task.sources, into: task.catalog, attributes: task.attributes, options: task.options,
            cancellation: cancellation
        ) { batch in
            guard let outcome = batch.lastFinished else { return }
            let soFar = finished.append(outcome)
            // Once cancelled, the files left end at once, one after another: a report per file would
            // rebuild the whole list each time. The final report below says it all.
            guard !cancellation.isCancelled else { return }
            onProgress(report.progress(id: id, status: .executing, outcomes: soFar, ended: nil, message: nil))
        }
        let ended = ISO8601.format(Date())
        for outcome in outcomes { outcome.error.map(TaskFailureText.log) }
        if cancellation.isCancelled {
            let kept = outcomes.filter { $0.status != .failed || $0.error != "cancelled" }
            return report.progress(id: id, status: .canceled, outcomes: kept, ended: ended, message: Self.cancelMessage)
        }
        let failures = outcomes.filter { $0.status == .failed }
        if !outcomes.isEmpty, failures.count == outcomes.count {
            let reason = TaskFailureText.sanitize(failures.first?.error ?? "unknown error")
            let message = outcomes.count == 1 ? "\(failures[0].file): \(reason)"
                : "all \(outcomes.count) files failed; first: \(failures[0].file): \(reason)"
            return report.progress(id: id, status: .failed, outcomes: outcomes, ended: ended, message: message)
        }
        return report.progress(id: id, status: .completed, outcomes: outcomes, ended: ended, message: nil)
    }
}

extension TilingExecutor {
    /// Checks a catalog a task will create: a bad configuration is a `400` naming the field; a table
    /// that another catalog has, or that an earlier step of the same pipeline will create, is a `409`.
    func checkNewCatalog(_ catalog: CatalogName, configuration: AttributesConfiguration,
                         planned: [CatalogName: AttributesConfiguration]) throws {
        do {
            try configuration.validate()
            let table = try library.store.tableForNewCatalog(catalog, configuration: configuration)
            for (other, otherConfiguration) in planned where other != catalog {
                if (try? TableName.stored(for: other, requested: otherConfiguration.tableName)) == table {
                    throw CatalogError.alreadyExists("table \(table) is already taken by a catalog that an earlier "
                        + "step of this pipeline creates")
                }
            }
        } catch let CatalogError.invalidConfiguration(field, message) {
            throw TaskRequestError.badRequest(field: field, message: message)
        } catch let CatalogError.alreadyExists(message) {
            throw TaskRequestError.conflict(message)
        } catch let error as CatalogError {
            throw TaskRequestError.badRequest(field: "target.attributesConfiguration", message: error.description)
        }
    }
}

/// Outcomes in the order files finished, shared with the progress callback.
private final class OutcomeLog: Sendable {
    private let outcomes = Mutex<[ImportOutcome]>([])
    func append(_ outcome: ImportOutcome) -> [ImportOutcome] {
        outcomes.withLock {
            $0.append(outcome)
            return $0
        }
    }
}

/// Builds the API's progress object for one step (`tiling` or `copy`) from file outcomes.
struct StepReport: Sendable {
    var stepName = "tiling"
    var source: String?
    let target: String
    let started: String
    let total: Int

    func progress(id: String, status: TaskStatus, outcomes: [ImportOutcome], ended: String?,
                  message: String?) -> TaskProgress {
        let step = stepResult(outcomes: outcomes, ended: ended)
        return TaskProgress(id: id, status: status, taskResult: TaskResult(message: message, stepResults: [step]),
                            stepCount: 1, currentStepId: 0, currentStepAlreadyDone: outcomes.count,
                            currentStepObjectCount: total)
    }

    func stepResult(outcomes: [ImportOutcome], ended: String?) -> StepResult {
        let failures = outcomes.filter { $0.status == .failed }
        let stored = outcomes.filter { $0.status != .failed }
        var details: [String: JSONValue] = [
            "Tiles created": .int(Int64(stored.reduce(0) { $0 + $1.tiles })),
            "Bytes written": .int(stored.reduce(0) { $0 + $1.bytesWritten }),
            "Footprint vertices": .int(Int64(stored.reduce(0) { $0 + ($1.footprintVertices ?? 0) })),
            "Overview levels": .array(stored.compactMap { $0.overviewLevels.map { .int(Int64($0)) } }),
            "Items": .array(stored.compactMap { $0.id.map(JSONValue.string) }),
        ]
        let skipped = outcomes.filter { $0.status == .skipped }
        if !skipped.isEmpty {
            details["Skipped (already in the catalog)"] = .array(skipped.map { .string($0.file) })
        }
        let capped = stored.filter { $0.overviewLevelsRequested != nil }
        if !capped.isEmpty {
            details["Overview levels capped"] = .array(capped.map {
                .string("\($0.file): \($0.overviewLevelsRequested ?? 0) requested, \($0.overviewLevels ?? 0) possible")
            })
        }
        return StepResult(
            stepName: stepName, inputSource: source, outSource: target, startedTime: started,
            endedTime: ended,
            batchErrors: failures.isEmpty ? nil
                : failures.map { .init(file: $0.file, message: $0.error.map(TaskFailureText.sanitize) ?? "failed") },
            batchCount: 1, inputObjectCount: total, errorCount: failures.count, outputObjectCount: stored.count,
            resultDetails: details)
    }
}
