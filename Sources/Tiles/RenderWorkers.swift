import CGDAL
import Foundation
import Raster

/// A fixed set of threads that render tiles. GDAL calls block and a dataset handle may be used by one
/// thread only, so each thread owns its own cache of open datasets and jobs never leave their thread.
public final class RenderWorkers: @unchecked Sendable {
    private let condition = NSCondition()
    private var jobs: [(DatasetCache) -> Void] = []
    private var stopped = false
    private let running = DispatchGroup()

    /// `count` threads (default: one per core), each keeping up to `handlesPerThread` datasets open.
    public init(count: Int = ProcessInfo.processInfo.activeProcessorCount, handlesPerThread: Int = 64) {
        GDALRuntime.ensureInitialized()
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

    /// Runs `body` on a render thread with that thread's dataset cache.
    public func run<T: Sendable>(_ body: @escaping @Sendable (DatasetCache) throws -> T) async throws -> T {
        try await withCheckedThrowingContinuation { continuation in
            condition.lock()
            defer { condition.unlock() }
            guard !stopped else {
                continuation.resume(throwing: CancellationError())
                return
            }
            jobs.append { cache in continuation.resume(with: Result { try body(cache) }) }
            condition.signal()
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

    private func finishQueue() {
        condition.lock()
        stopped = true
        condition.broadcast()
        condition.unlock()
    }

    private func nextJob() -> ((DatasetCache) -> Void)? {
        condition.lock()
        defer { condition.unlock() }
        while jobs.isEmpty && !stopped { condition.wait() }
        return jobs.isEmpty ? nil : jobs.removeFirst()
    }
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
