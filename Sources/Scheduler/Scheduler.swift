import Catalog
import Foundation
import Logging
import Raster
import Tiling

public enum SchedulerError: Error, Equatable, Sendable {
    /// No such task for this user (another user's task looks exactly the same).
    case notFound
    /// The task has already finished.
    case alreadyFinished(TaskStatus)
    /// The user already has this many unfinished (Scheduled, Planning, Executing) tasks.
    case tooManyUnfinishedTasks(limit: Int)
}

/// Accepts tasks, queues them, runs them on a bounded number of workers, and keeps their status and
/// progress durable. Knows task types only through `TaskHandler`; knows nothing of HTTP.
public actor Scheduler {
    public struct Settings: Sendable {
        public var workers: Int
        /// Tasks running longer than this end as `Timeout`.
        public var taskTimeLimit: Duration
        /// Progress of a running task is written to the store at most this often.
        public var persistInterval: Duration
        /// Unfinished tasks (Scheduled, Planning, Executing) one user may have; a pipeline is one task.
        public var maxUnfinishedTasksPerUser: Int

        public init(workers: Int = ProcessInfo.processInfo.activeProcessorCount, taskTimeLimit: Duration = .seconds(3600),
                    persistInterval: Duration = .milliseconds(500), maxUnfinishedTasksPerUser: Int = 20) {
            self.workers = max(1, workers)
            self.taskTimeLimit = taskTimeLimit
            self.persistInterval = persistInterval
            self.maxUnfinishedTasksPerUser = max(1, maxUnfinishedTasksPerUser)
        }
    }

    /// Why a running task is being stopped.
    private enum StopReason { case cancel, timeout, shutdown }

    private struct Running {
        var cancellation: CancellationFlag
        var stopReason: StopReason?
        var timer: Task<Void, Never>?
        var lastPersist: ContinuousClock.Instant
    }

    public struct Metrics: Sendable {
        public var tasksByStatus: [TaskStatus: Int]
        public var durationSecondsSum: Double
        public var durationCount: Int
        public var bytesWritten: Int64
        public var running: Int
        public var queued: Int
    }

    public let store: TaskStore
    private let handler: any TaskHandler
    private let settings: Settings
    private let logger: Logger
    private var queue: [String] = []
    private var prepared: [String: any PreparedTask] = [:]
    private var running: [String: Running] = [:]
    private var live: [String: TaskRecord] = [:]
    private var waiters: [String: [CheckedContinuation<Void, Never>]] = [:]
    private var durationSum = 0.0
    private var durationCount = 0
    private var bytesWritten: Int64 = 0
    private var accepting = true

    public init(store: TaskStore, handler: any TaskHandler, settings: Settings = Settings(),
                logger: Logger = Logger(label: "tile.scheduler")) {
        self.store = store
        self.handler = handler
        self.settings = settings
        self.logger = logger
    }

    /// Re-queues what was unfinished when the process last stopped, then starts workers.
    public func start() throws {
        for var record in try store.unfinished() {
            // Files already imported are skipped (same content), partial files were removed by the
            // library's recovery, so running the task again continues with its unfinished file.
            record.status = .planning
            record.progress = record.progress.map {
                var progress = $0
                progress.status = .planning
                progress.taskResult?.message = "Re-queued after a server restart."
                return progress
            }
            try store.update(record)
            live[record.id] = record
            queue.append(record.id)
            logger.info("re-queued task after restart", metadata: ["task": "\(record.id)"])
        }
        pump()
    }

    /// Validates and queues a task. Throws `TaskRequestError` for a bad request, and
    /// `SchedulerError.tooManyUnfinishedTasks` when the owner has as many unfinished tasks as allowed.
    public func submit(type: String, parameters: JSONValue, owner: String) throws -> TaskRecord {
        // Checked first, before any validation work; the actor makes check and insert one step.
        guard unfinishedCount(of: owner) < settings.maxUnfinishedTasksPerUser else {
            throw SchedulerError.tooManyUnfinishedTasks(limit: settings.maxUnfinishedTasksPerUser)
        }
        let task = try handler.prepare(type: type, parameters: parameters, owner: owner)
        let id = UUID().uuidString.lowercased()
        var record = TaskRecord(id: id, owner: owner, type: type, parameters: parameters, status: .scheduled,
                                progress: nil, createdDate: ISO8601.format(Date()))
        try store.insert(record)
        let accepted = record
        record.status = .planning
        record.progress = TaskProgress(id: id, status: .planning, taskResult: nil, stepCount: task.stepCount,
                                       currentStepId: 0, currentStepAlreadyDone: 0, currentStepObjectCount: 0)
        try store.update(record)
        live[id] = record
        prepared[id] = task
        queue.append(id)
        logger.info("task accepted", metadata: ["task": "\(id)", "type": "\(type)", "owner": "\(owner)"])
        pump()
        return accepted
    }

    /// Every unfinished task is in `live` from submission (or re-queueing at start) until it ends.
    private func unfinishedCount(of owner: String) -> Int {
        live.values.reduce(0) { $0 + ($1.owner == owner && !$1.status.isFinal ? 1 : 0) }
    }

    public func record(_ id: String, owner: String) throws -> TaskRecord {
        guard let record = try live[id] ?? store.task(id), record.owner == owner else { throw SchedulerError.notFound }
        return record
    }

    public func progress(_ id: String, owner: String) throws -> TaskProgress {
        let record = try record(id, owner: owner)
        return record.progress ?? Self.emptyProgress(record)
    }

    public func list(owner: String, status: TaskStatus?, limit: Int, offset: Int) throws -> [TaskRecord] {
        try store.tasks(owner: owner, status: status, limit: limit, offset: offset).map { live[$0.id] ?? $0 }
    }

    /// Cancels a queued or running task and returns its progress once it has stopped (a running
    /// task's GDAL call is interrupted through its progress callback, within about a second).
    public func cancel(_ id: String, owner: String) async throws -> TaskProgress {
        let record = try record(id, owner: owner)
        guard !record.status.isFinal else { throw SchedulerError.alreadyFinished(record.status) }
        if let index = queue.firstIndex(of: id) {
            queue.remove(at: index)
            prepared[id] = nil
            let progress = Self.endedProgress(record, status: .canceled, message: TilingExecutor.cancelMessage)
            try finish(id, progress: progress, status: .canceled)
            return progress
        }
        if running[id] != nil {
            running[id]?.stopReason = .cancel
            running[id]?.cancellation.cancel()
            await withCheckedContinuation { continuation in waiters[id, default: []].append(continuation) }
        }
        return try progress(id, owner: owner)
    }

    /// Stops accepting work and re-queues running tasks (they run again at the next start).
    public func shutdown() async {
        accepting = false
        for id in running.keys {
            running[id]?.stopReason = .shutdown
            running[id]?.cancellation.cancel()
        }
        while let id = running.keys.first {
            await withCheckedContinuation { continuation in waiters[id, default: []].append(continuation) }
        }
    }

    public func metrics() throws -> Metrics {
        Metrics(tasksByStatus: try store.countsByStatus(), durationSecondsSum: durationSum, durationCount: durationCount,
                bytesWritten: bytesWritten, running: running.count, queued: queue.count)
    }

    // MARK: Running

    private func pump() {
        while accepting, running.count < settings.workers, let id = nextQueued() {
            guard var record = live[id] else { continue }
            let task: any PreparedTask
            if let ready = prepared.removeValue(forKey: id) {
                task = ready
            } else {
                do {
                    task = try handler.prepare(type: record.type, parameters: record.parameters, owner: record.owner)
                } catch {
                    let progress = Self.endedProgress(record, status: .failed,
                                                      message: "cannot be run again after a restart: \(TaskFailureText.describe(error))")
                    try? finish(id, progress: progress, status: .failed)
                    continue
                }
            }
            record.status = .executing
            record.startedDate = record.startedDate ?? ISO8601.format(Date())
            record.progress?.status = .executing
            live[id] = record
            try? store.update(record)
            let cancellation = CancellationFlag()
            let limit = settings.taskTimeLimit
            let scheduler = self
            let timer = Task {
                try? await Task.sleep(for: limit)
                guard !Task.isCancelled else { return }
                await scheduler.timeOut(id)
            }
            running[id] = Running(cancellation: cancellation, timer: timer, lastPersist: .now)
            logger.info("task started", metadata: ["task": "\(id)"])
            Task {
                let progress = await task.run(id: id, cancellation: cancellation) { progress in
                    Task { await scheduler.update(id, progress) }
                }
                await scheduler.completed(id, progress)
            }
        }
    }

    /// Takes the next task to run off the queue: the oldest of the user with the fewest running
    /// tasks, so one user's long queue does not keep the workers from everyone else.
    private func nextQueued() -> String? {
        guard !queue.isEmpty else { return nil }
        var runningByOwner: [String: Int] = [:]
        for id in running.keys {
            if let owner = live[id]?.owner { runningByOwner[owner, default: 0] += 1 }
        }
        var best = 0
        var fewest = Int.max
        for (index, id) in queue.enumerated() {
            let count = live[id].map { runningByOwner[$0.owner, default: 0] } ?? 0
            if count < fewest {
                best = index
                fewest = count
                if count == 0 { break }
            }
        }
        return queue.remove(at: best)
    }

    private func timeOut(_ id: String) {
        guard running[id] != nil, running[id]?.stopReason == nil else { return }
        running[id]?.stopReason = .timeout
        running[id]?.cancellation.cancel()
    }

    private func update(_ id: String, _ progress: TaskProgress) {
        guard var state = running[id], var record = live[id], !record.status.isFinal else { return }
        record.progress = progress
        record.progress?.status = .executing
        live[id] = record
        if state.lastPersist.duration(to: .now) >= settings.persistInterval {
            state.lastPersist = .now
            running[id] = state
            try? store.update(record)
        }
    }

    private func completed(_ id: String, _ result: TaskProgress) {
        guard let state = running.removeValue(forKey: id) else { return }
        state.timer?.cancel()
        var progress = result
        var status = result.status
        switch state.stopReason {
        case .cancel:
            status = .canceled
            progress.taskResult?.message = TilingExecutor.cancelMessage
        case .timeout:
            status = .timeout
            progress.taskResult?.message = "Ran past the task time limit of \(settings.taskTimeLimit)."
        case .shutdown:
            status = .planning
            progress.taskResult?.message = "Interrupted by a server shutdown; it runs again at the next start."
        case nil:
            break
        }
        progress.status = status
        if status == .planning, var record = live[id] {
            record.status = .planning
            record.progress = progress
            try? store.update(record)
        } else {
            try? finish(id, progress: progress, status: status)
        }
        for waiter in waiters.removeValue(forKey: id) ?? [] { waiter.resume() }
        pump()
    }

    private func finish(_ id: String, progress: TaskProgress, status: TaskStatus) throws {
        guard var record = try (live.removeValue(forKey: id) ?? store.task(id)) else { return }
        record.status = status
        record.progress = progress
        record.completedDate = ISO8601.format(Date())
        try store.update(record)
        if let started = record.startedDate.flatMap(ISO8601.parse) {
            durationSum += Date().timeIntervalSince(started)
            durationCount += 1
        }
        for step in progress.taskResult?.stepResults ?? [] {
            if case let .int(bytes)? = step.resultDetails?["Bytes written"] { bytesWritten += bytes }
        }
        logger.info("task finished", metadata: ["task": "\(id)", "status": "\(status.rawValue)"])
    }

    private static func emptyProgress(_ record: TaskRecord) -> TaskProgress {
        TaskProgress(id: record.id, status: record.status, taskResult: nil, stepCount: 1, currentStepId: 0,
                     currentStepAlreadyDone: 0, currentStepObjectCount: 0)
    }

    /// The last progress of a task ended without running (cancelled in the queue, or no longer valid).
    private static func endedProgress(_ record: TaskRecord, status: TaskStatus, message: String) -> TaskProgress {
        var progress = record.progress ?? emptyProgress(record)
        progress.status = status
        progress.taskResult = TaskResult(message: message, stepResults: progress.taskResult?.stepResults ?? [])
        return progress
    }
}
