import CGDAL
import Foundation
import Raster

/// A fixed set of threads that render tiles. GDAL calls block and a dataset handle may be used by one
/// thread only, so each thread owns its own cache of open datasets and jobs never leave their thread.
///
/// Jobs wait in one queue per owner (a catalog's namespace), served in turn, so one user asking for
/// many heavy tiles delays their own tiles, not everyone's; an owner may have `maxQueuedPerOwner`
/// jobs waiting, and a job whose request was cancelled before it started is dropped.
public final class RenderWorkers: @unchecked Sendable {
    private typealias Job = (DatasetCache) -> Void

    private let condition = NSCondition()
    private var queues: [String: [Job]] = [:]
    /// Owners with waiting jobs, in the order they are served.
    private var turns: [String] = []
    private var stopped = false
    private let running = DispatchGroup()
    public let maxQueuedPerOwner: Int

    /// `count` threads (default: one per core), each keeping up to `handlesPerThread` datasets open.
    public init(count: Int = ProcessInfo.processInfo.activeProcessorCount, handlesPerThread: Int = 64,
                maxQueuedPerOwner: Int = 256) {
        GDALRuntime.ensureInitialized()
        self.maxQueuedPerOwner = maxQueuedPerOwner
        for index in 0..<max(1, count) {
            running.enter()
            let thread = Thread { [self] in
                let cache = DatasetCache(capacity: handlesPerThread)
                while let job = nextJob() { job(cache) }
                cache.removeAll()
                running.leave()
            }
            thread.name = "tile-render-\(index)"
            // Warping and encoding a 512-pixel tile needs more than the default 512 KiB.
            thread.stackSize = 8 << 20
            thread.start()
        }
    }

    /// Runs `body` on a render thread with that thread's dataset cache, in `owner`'s turn.
    public func run<T: Sendable>(for owner: String, _ body: @escaping @Sendable (DatasetCache) throws -> T) async throws -> T {
        let cancelled = CancellationMark()
        return try await withTaskCancellationHandler {
            try await withCheckedThrowingContinuation { continuation in
                let job: Job = { cache in
                    guard !cancelled.isSet else { return continuation.resume(throwing: CancellationError()) }
                    continuation.resume(with: Result { try body(cache) })
                }
                if let refusal = enqueue(job, for: owner) { continuation.resume(throwing: refusal) }
            }
        } onCancel: {
            cancelled.set()
        }
    }

    /// Lets queued jobs finish, ends the threads and waits for them (so nothing they use, such as
    /// the catalog store, is closed under them).
    public func stop() async {
        finishQueue()
        await withCheckedContinuation { continuation in
            running.notify(queue: .global()) { continuation.resume() }
        }
    }

    /// Jobs of `owner` waiting for a thread.
    func waitingJobs(of owner: String) -> Int {
        condition.lock()
        defer { condition.unlock() }
        return queues[owner]?.count ?? 0
    }

    private func enqueue(_ job: @escaping Job, for owner: String) -> (any Error)? {
        condition.lock()
        defer { condition.unlock() }
        if stopped { return CancellationError() }
        let waiting = queues[owner, default: []]
        guard waiting.count < maxQueuedPerOwner else { return RenderWorkersError.busy(owner: owner, waiting: waiting.count) }
        if waiting.isEmpty { turns.append(owner) }
        queues[owner] = waiting + [job]
        condition.signal()
        return nil
    }

    private func finishQueue() {
        condition.lock()
        stopped = true
        condition.broadcast()
        condition.unlock()
    }

    private func nextJob() -> Job? {
        condition.lock()
        defer { condition.unlock() }
        while turns.isEmpty && !stopped { condition.wait() }
        guard !turns.isEmpty else { return nil }
        let owner = turns.removeFirst()
        var waiting = queues[owner] ?? []
        let job = waiting.removeFirst()
        if waiting.isEmpty {
            queues[owner] = nil
        } else {
            queues[owner] = waiting
            turns.append(owner)
        }
        return job
    }
}

public enum RenderWorkersError: Error, CustomStringConvertible {
    case busy(owner: String, waiting: Int)

    public var description: String {
        switch self {
        case let .busy(_, waiting): return "\(waiting) of your tiles are already waiting to be drawn; ask again shortly"
        }
    }
}

/// Set once, read from any thread.
private final class CancellationMark: @unchecked Sendable {
    private let lock = NSLock()
    private var value = false

    var isSet: Bool { lock.withLock { value } }
    func set() { lock.withLock { value = true } }
}

/// Open datasets of one thread, least recently used closed first.
public final class DatasetCache {
    private var handles: [String: GDALDatasetH] = [:]
    private var order: [String] = []
    private var summaries: [String: [BandSummary]] = [:]
    private let capacity: Int

    init(capacity: Int) {
        self.capacity = max(1, capacity)
    }

    /// The dataset at `path`, opened read-only with the GeoTIFF driver (stored rasters are ours).
    func dataset(_ path: String) throws -> GDALDatasetH {
        if let handle = handles[path] {
            if order.last != path, let index = order.firstIndex(of: path) {
                order.remove(at: index)
                order.append(path)
            }
            return handle
        }
        let flags = UInt32(GDAL_OF_RASTER | GDAL_OF_READONLY)
        let drivers = StringList(OpenPolicy.geoTIFFOnly)
        CPLErrorReset()
        guard let handle = withExtendedLifetime(drivers, { GDALOpenEx(path, flags, drivers.constPointer, nil, nil) }) else {
            throw TileRenderError.unreadable(reason: "a stored raster cannot be opened")
        }
        if handles.count >= capacity, let oldest = order.first {
            order.removeFirst()
            handles.removeValue(forKey: oldest).map { GDALClose($0) }
        }
        handles[path] = handle
        order.append(path)
        return handle
    }

    /// Band summaries of a raster whose catalog item has none (stored before they were kept),
    /// computed once per thread.
    func summaries(_ path: String) throws -> [BandSummary] {
        if let known = summaries[path] { return known }
        let computed = try bandSummaries(path: path)
        if summaries.count >= capacity { summaries.removeAll() }
        summaries[path] = computed
        return computed
    }

    func removeAll() {
        handles.values.forEach { GDALClose($0) }
        handles = [:]
        order = []
    }
}

public enum TileRenderError: Error, CustomStringConvertible {
    case unreadable(reason: String)
    case renderFailed(reason: String)

    public var description: String {
        switch self {
        case let .unreadable(reason), let .renderFailed(reason): return reason
        }
    }
}
