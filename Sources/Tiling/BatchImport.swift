import Catalog
import Dispatch
import Foundation
import Raster
import Synchronization

/// Runs blocking GDAL work on a GCD thread, never on Swift's cooperative pool or an event loop.
public enum Blocking {
    public static func run<T: Sendable>(_ body: @escaping @Sendable () throws -> T) async throws -> T {
        try await withCheckedThrowingContinuation { continuation in
            DispatchQueue.global(qos: .userInitiated).async {
                continuation.resume(with: Result { try body() })
            }
        }
    }
}

/// One raster to import: where it is, and the name it is known by (the uploaded file name).
public struct ImportSource: Sendable, Equatable {
    public var path: String
    public var name: String
    public init(path: String, name: String) {
        self.path = path
        self.name = name
    }
}

/// Where a batch is: files finished (imported, skipped or failed), the overall fraction, the last
/// file finished.
public struct BatchProgress: Sendable {
    public var total: Int
    public var finished: Int
    public var fraction: Double
    public var lastFinished: ImportOutcome?
}

/// Imports many files into one catalog, `jobs` at a time. Memory stays bounded: each job streams its
/// raster through GDAL's block cache, which is shared and capped (GDAL_CACHEMAX).
public struct BatchImport: Sendable {
    public let library: RasterLibrary
    public let jobs: Int

    public init(library: RasterLibrary, jobs: Int = ProcessInfo.processInfo.activeProcessorCount) {
        self.library = library
        self.jobs = max(1, jobs)
    }

    public func run(_ sources: [ImportSource], into catalog: CatalogName, attributes: [String: JSONValue],
                    options: ImportOptions, cancellation: CancellationFlag = CancellationFlag(),
                    onProgress: @escaping @Sendable (BatchProgress) -> Void = { _ in }) async -> [ImportOutcome] {
        let state = SharedBatchState(total: sources.count)
        let importer = RasterImporter(library: library)
        var outcomes = [ImportOutcome?](repeating: nil, count: sources.count)
        await withTaskGroup(of: (Int, ImportOutcome).self) { group in
            var next = 0
            func startNext() {
                guard next < sources.count else { return }
                let index = next
                let source = sources[index]
                next += 1
                group.addTask {
                    let progress = ProgressSink(cancellation: cancellation) { fraction in
                        let snapshot = state.update(index, fraction)
                        onProgress(snapshot)
                    }
                    if cancellation.isCancelled {
                        return (index, ImportOutcome(file: source.name, status: .failed, error: "cancelled"))
                    }
                    let outcome = (try? await Blocking.run {
                        importer.importFile(at: source.path, named: source.name, into: catalog,
                                            attributes: attributes, options: options, progress: progress)
                    }) ?? ImportOutcome(file: source.name, status: .failed, error: "the import did not run")
                    return (index, outcome)
                }
            }
            for _ in 0..<min(jobs, sources.count) { startNext() }
            for await (index, outcome) in group {
                outcomes[index] = outcome
                onProgress(state.finish(index, outcome))
                startNext()
            }
        }
        return outcomes.compactMap { $0 }
    }
}

private final class SharedBatchState: Sendable {
    private let state: Mutex<BatchState>
    init(total: Int) { state = Mutex(BatchState(total: total)) }
    func update(_ index: Int, _ fraction: Double) -> BatchProgress { state.withLock { $0.update(index, fraction) } }
    func finish(_ index: Int, _ outcome: ImportOutcome) -> BatchProgress { state.withLock { $0.finish(index, outcome) } }
}

private struct BatchState {
    var total: Int
    var fractions: [Int: Double] = [:]
    var finished = 0

    init(total: Int) { self.total = total }

    mutating func update(_ index: Int, _ fraction: Double) -> BatchProgress {
        fractions[index] = fraction
        return snapshot(nil)
    }

    mutating func finish(_ index: Int, _ outcome: ImportOutcome) -> BatchProgress {
        fractions[index] = nil
        finished += 1
        return snapshot(outcome)
    }

    private func snapshot(_ outcome: ImportOutcome?) -> BatchProgress {
        let running = fractions.values.reduce(0, +)
        let fraction = total == 0 ? 1 : min(1, (Double(finished) + running) / Double(total))
        return BatchProgress(total: total, finished: finished, fraction: fraction, lastFinished: outcome)
    }
}
