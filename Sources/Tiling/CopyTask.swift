import Catalog
import Foundation
import Raster

/// The body of a `copy` task: catalog items (with their rasters) from one catalog to another.
public struct CopyTask: Codable, Sendable, Equatable {
    public struct Source: Codable, Sendable, Equatable {
        public var serviceName: String
    }

    public var source: Source
    public var target: TilingTask.Target
    /// Only items matching this condition (see `Condition`); all items when absent.
    public var condition: String?
}

public struct ValidatedCopyTask: Sendable {
    public var source: CatalogName
    public var sourceDisplayName: String
    public var target: CatalogName
    public var targetDisplayName: String
    public var condition: String?
    public var creates: AttributesConfiguration?
}

extension TilingExecutor {
    public func validate(_ task: CopyTask, user: String,
                         planned: [CatalogName: AttributesConfiguration] = [:]) throws -> ValidatedCopyTask {
        let source = try library.catalogName(task.source.serviceName, user: user, field: "source.serviceName")
        let target = try library.catalogName(task.target.serviceName, user: user, field: "target.serviceName")
        let storedSource = try library.store.configuration(of: source)
        guard let sourceConfiguration = storedSource ?? planned[source] else {
            throw TaskRequestError.notFound("catalog \(task.source.serviceName) does not exist")
        }
        let existing = try library.store.configuration(of: target) ?? planned[target]
        var creates: AttributesConfiguration?
        if task.target.createNewService == true {
            let requested = task.target.attributesConfiguration ?? sourceConfiguration
            if let existing, existing != requested {
                throw TaskRequestError.conflict("catalog \(task.target.serviceName) already exists with another configuration")
            }
            creates = existing == nil ? requested : nil
            if let creates { try checkNewCatalog(target, configuration: creates, planned: planned) }
        } else if existing == nil {
            throw TaskRequestError.notFound("catalog \(task.target.serviceName) does not exist; set "
                + "target.createNewService to true to create it")
        }
        if let condition = task.condition, storedSource != nil {
            do {
                _ = try library.store.items(in: source, condition: condition, limit: 0)
            } catch let error as CatalogError {
                throw TaskRequestError.badRequest(field: "condition", message: error.description)
            }
        }
        return ValidatedCopyTask(source: source, sourceDisplayName: task.source.serviceName, target: target,
                                 targetDisplayName: task.target.serviceName, condition: task.condition, creates: creates)
    }

    /// Copies the matching items. Items whose content is already in the target are skipped.
    public func run(_ task: ValidatedCopyTask, id: String, cancellation: CancellationFlag = CancellationFlag(),
                    onProgress: @escaping @Sendable (TaskProgress) -> Void = { _ in }) async -> TaskProgress {
        let started = ISO8601.format(Date())
        let library = self.library
        let outcomes: [ImportOutcome]
        do {
            outcomes = try await Blocking.run {
                if let configuration = task.creates { try library.store.createCatalog(task.target, configuration: configuration) }
                guard let targetConfiguration = try library.store.configuration(of: task.target) else {
                    throw CatalogError.notFound("catalog \(task.targetDisplayName)")
                }
                let items = try library.store.items(in: task.source, condition: task.condition)
                return items.map { item -> ImportOutcome in
                    guard !cancellation.isCancelled else {
                        return ImportOutcome(file: item.system.sourceFile, status: .failed, error: "cancelled")
                    }
                    return Self.copy(item, to: task.target, configuration: targetConfiguration, library: library)
                }
            }
        } catch {
            let report = StepReport(stepName: "copy", source: task.sourceDisplayName, target: task.targetDisplayName,
                                    started: started, total: 0)
            return report.progress(id: id, status: .failed, outcomes: [], ended: ISO8601.format(Date()),
                                   message: "copy failed: \(TaskFailureText.describe(error))")
        }
        let ended = ISO8601.format(Date())
        let report = StepReport(stepName: "copy", source: task.sourceDisplayName, target: task.targetDisplayName,
                                started: started, total: outcomes.count)
        if cancellation.isCancelled {
            return report.progress(id: id, status: .canceled, outcomes: outcomes.filter { $0.error != "cancelled" },
                                   ended: ended, message: Self.cancelMessage)
        }
        let failed = !outcomes.isEmpty && outcomes.allSatisfy { $0.status == .failed }
        let progress = report.progress(id: id, status: failed ? .failed : .completed, outcomes: outcomes, ended: ended,
                                       message: failed ? "every item failed to copy; first: \(TaskFailureText.sanitize(outcomes[0].error ?? ""))" : nil)
        onProgress(progress)
        return progress
    }

    private static func copy(_ item: CatalogItem, to target: CatalogName, configuration: AttributesConfiguration,
                             library: RasterLibrary) -> ImportOutcome {
        var outcome = ImportOutcome(file: item.system.sourceFile, status: .failed)
        do {
            if let existing = try library.store.item(sha256: item.system.sha256, in: target) {
                outcome.status = .skipped
                outcome.id = existing.system.id
                return outcome
            }
            var system = item.system
            try library.storeRaster(into: target) { slot in
                try StoredRasterFiles.copy(from: library.absolutePath(of: item.system.path), to: slot.partial)
                system.id = slot.id
                system.path = slot.storedPath
                system.createdAt = ISO8601.format(Date())
                let attributes = item.attributes.filter { configuration.attribute(named: $0.key) != nil }
                let geometry = try Geometry(geoJSON: item.footprintGeoJSON)
                return NewCatalogItem(system: system, attributes: attributes, footprintWKT: geometry.wkt)
            }
            outcome.status = .imported
            outcome.id = system.id
            outcome.path = system.path
            outcome.overviewLevels = system.overviewLevels
        } catch {
            outcome.error = TaskFailureText.describe(error)
        }
        return outcome
    }
}
