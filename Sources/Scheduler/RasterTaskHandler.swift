import Catalog
import Foundation
import Raster
import Tiling

/// The task types this server runs: `tiling`, `copy`, and `pipeline`s of them.
public struct RasterTaskHandler: TaskHandler {
    public let executor: TilingExecutor

    /// Steps run one after another on one worker: a bound on how long one task can hold it.
    static let maximumPipelineSteps = 100

    /// Types named in the platform's documentation that this server does not run.
    static let unsupported: Set<String> = ["buffer", "filterCopy", "union", "intersect", "clip", "dissolve",
                                           "geocode", "import", "export", "join", "calculate"]

    public init(executor: TilingExecutor) {
        self.executor = executor
    }

    public func prepare(type: String, parameters: JSONValue, owner: String) throws -> any PreparedTask {
        var planned: [CatalogName: AttributesConfiguration] = [:]
        var files = 0
        return try prepare(type: type, parameters: parameters, owner: owner, field: "", planned: &planned,
                           files: &files, allowPipeline: true)
    }

    /// `files` counts the files of the steps prepared so far: a pipeline's tiling steps share one
    /// `maxFilesPerTask`, so splitting a task into steps does not multiply what it may do.
    private func prepare(type: String, parameters: JSONValue, owner: String, field: String,
                         planned: inout [CatalogName: AttributesConfiguration], files: inout Int,
                         allowPipeline: Bool) throws -> any PreparedTask {
        let typeField = field.isEmpty ? "type" : "\(field)type"
        switch type {
        case "tiling":
            let task: ValidatedTilingTask
            do {
                task = try executor.validate(decode(TilingTask.self, parameters, field: field), user: owner,
                                             planned: planned, maxFiles: executor.maxFilesPerTask - files)
            } catch let TaskRequestError.badRequest(inner, message) where inner.hasPrefix("files") && !field.isEmpty {
                throw TaskRequestError.badRequest(field: field + inner, message: message)
            }
            files += task.sources.count
            if let creates = task.creates { planned[task.catalog] = creates }
            return PreparedStep { id, cancellation, onProgress in
                await executor.run(task, id: id, cancellation: cancellation, onProgress: onProgress)
            }
        case "copy":
            let task = try executor.validate(decode(CopyTask.self, parameters, field: field), user: owner,
                                             planned: planned)
            if let creates = task.creates { planned[task.target] = creates }
            return PreparedStep { id, cancellation, onProgress in
                await executor.run(task, id: id, cancellation: cancellation, onProgress: onProgress)
            }
        case "pipeline" where allowPipeline:
            guard case let .object(body) = parameters, case let .array(inner)? = body["innerTasks"], !inner.isEmpty else {
                throw TaskRequestError.badRequest(field: "innerTasks", message: "a pipeline needs a non-empty innerTasks array")
            }
            guard inner.count <= Self.maximumPipelineSteps else {
                throw TaskRequestError.badRequest(field: "innerTasks", message: "a pipeline has at most "
                    + "\(Self.maximumPipelineSteps) steps (it has \(inner.count))")
            }
            var steps: [any PreparedTask] = []
            for (index, task) in inner.enumerated() {
                let path = "innerTasks[\(index)]."
                guard case let .object(fields) = task, case let .string(innerType)? = fields["type"] else {
                    throw TaskRequestError.badRequest(field: "\(path)type", message: "every inner task needs a type")
                }
                steps.append(try prepare(type: innerType, parameters: task, owner: owner, field: path,
                                         planned: &planned, files: &files, allowPipeline: false))
            }
            return PreparedPipeline(steps: steps)
        case "pipeline":
            throw TaskRequestError.badRequest(field: typeField, message: "pipelines cannot be nested")
        default:
            let known = Self.unsupported.contains(type) ? "is a task type of the platform that this server does not run"
                : "is not a known task type"
            throw TaskRequestError.badRequest(field: typeField,
                                              message: "\"\(type)\" \(known); supported: tiling, copy, pipeline")
        }
    }

    private func decode<T: Decodable>(_ type: T.Type, _ value: JSONValue, field: String) throws -> T {
        do {
            return try value.decode(as: type)
        } catch let DecodingError.keyNotFound(key, context) {
            throw TaskRequestError.badRequest(field: field + path(context.codingPath + [key]), message: "is required")
        } catch let DecodingError.typeMismatch(expected, context) {
            throw TaskRequestError.badRequest(field: field + path(context.codingPath),
                                              message: "has the wrong type (expected \(expected))")
        } catch let DecodingError.valueNotFound(_, context) {
            throw TaskRequestError.badRequest(field: field + path(context.codingPath), message: "must not be null")
        } catch let DecodingError.dataCorrupted(context) {
            throw TaskRequestError.badRequest(field: field + path(context.codingPath), message: context.debugDescription)
        }
    }

    private func path(_ keys: [any CodingKey]) -> String {
        keys.reduce("") { path, key in
            if let index = key.intValue { return "\(path)[\(index)]" }
            return path.isEmpty ? key.stringValue : "\(path).\(key.stringValue)"
        }
    }
}

/// A single-step task: a validated `tiling` or `copy` and how to run it.
struct PreparedStep: PreparedTask {
    let body: @Sendable (String, CancellationFlag, @escaping @Sendable (TaskProgress) -> Void) async -> TaskProgress
    var stepCount: Int { 1 }

    init(_ body: @escaping @Sendable (String, CancellationFlag, @escaping @Sendable (TaskProgress) -> Void) async -> TaskProgress) {
        self.body = body
    }

    func run(id: String, cancellation: CancellationFlag,
             onProgress: @escaping @Sendable (TaskProgress) -> Void) async -> TaskProgress {
        await body(id, cancellation, onProgress)
    }
}

/// Inner tasks one after another; the first that does not complete ends the pipeline with its status.
struct PreparedPipeline: PreparedTask {
    let steps: [any PreparedTask]
    var stepCount: Int { steps.count }

    func run(id: String, cancellation: CancellationFlag,
             onProgress: @escaping @Sendable (TaskProgress) -> Void) async -> TaskProgress {
        var finished: [StepResult] = []
        for (index, step) in steps.enumerated() {
            let done = finished
            let result = await step.run(id: id, cancellation: cancellation) { inner in
                onProgress(Self.combine(id: id, status: .executing, finished: done, current: inner, index: index,
                                        count: steps.count, message: nil))
            }
            finished += result.taskResult?.stepResults ?? []
            if result.status != .completed {
                return Self.combine(id: id, status: result.status, finished: finished, current: result, index: index,
                                    count: steps.count, message: result.taskResult?.message)
            }
            if index == steps.count - 1 {
                return Self.combine(id: id, status: .completed, finished: finished, current: result, index: index,
                                    count: steps.count, message: nil)
            }
        }
        return TaskProgress(id: id, status: .completed, taskResult: TaskResult(message: nil, stepResults: finished),
                            stepCount: steps.count, currentStepId: steps.count - 1, currentStepAlreadyDone: 0,
                            currentStepObjectCount: 0)
    }

    private static func combine(id: String, status: TaskStatus, finished: [StepResult], current: TaskProgress,
                                index: Int, count: Int, message: String?) -> TaskProgress {
        let running = status == .executing ? (current.taskResult?.stepResults ?? []) : []
        return TaskProgress(id: id, status: status,
                            taskResult: TaskResult(message: message, stepResults: finished + running),
                            stepCount: count, currentStepId: index,
                            currentStepAlreadyDone: current.currentStepAlreadyDone,
                            currentStepObjectCount: current.currentStepObjectCount)
    }
}
