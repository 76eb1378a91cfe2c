import Catalog

/// The body of a `tiling` task, exactly as `API.md` writes it.
public struct TilingTask: Codable, Sendable, Equatable {
    public struct Target: Codable, Sendable, Equatable {
        public var type: String?
        public var serviceName: String
        public var createNewService: Bool?
        public var attributesConfiguration: AttributesConfiguration?

        public init(type: String? = "tileFeatureLayerTaskDataStorage", serviceName: String,
                    createNewService: Bool? = nil, attributesConfiguration: AttributesConfiguration? = nil) {
            self.type = type
            self.serviceName = serviceName
            self.createNewService = createNewService
            self.attributesConfiguration = attributesConfiguration
        }
    }

    public var type: String?
    public var target: Target
    public var files: [String]
    public var attributes: [String: JSONValue]?
    public var maxZoomLevel: Int?
    public var polygonize: Bool?
    public var useCog: Bool?

    public init(target: Target, files: [String], attributes: [String: JSONValue]? = nil, maxZoomLevel: Int? = nil,
                polygonize: Bool? = nil, useCog: Bool? = nil) {
        self.target = target
        self.files = files
        self.attributes = attributes
        self.maxZoomLevel = maxZoomLevel
        self.polygonize = polygonize
        self.useCog = useCog
    }
}

/// Why a task request is refused before anything is queued. Each maps to one HTTP status.
public enum TaskRequestError: Error, Equatable, Sendable, CustomStringConvertible {
    /// 400: a field is missing, malformed or names something that is not there.
    case badRequest(field: String, message: String)
    /// 403: the caller may not write there.
    case forbidden(String)
    /// 404: the target catalog does not exist (and was not to be created).
    case notFound(String)
    /// 409: the catalog exists with another configuration.
    case conflict(String)

    public var description: String {
        switch self {
        case let .badRequest(field, message): return "\(field): \(message)"
        case let .forbidden(message), let .notFound(message), let .conflict(message): return message
        }
    }
}

/// The progress object of `GET /scheduler/{id}/progress`, and what `tile run-task` prints.
public struct TaskProgress: Codable, Sendable, Equatable {
    public var id: String
    public var status: TaskStatus
    public var taskResult: TaskResult?
    public var stepCount: Int
    public var currentStepId: Int
    public var currentStepAlreadyDone: Int
    public var currentStepObjectCount: Int
    public var resultDetails: JSONValue?

    public init(id: String, status: TaskStatus, taskResult: TaskResult?, stepCount: Int, currentStepId: Int,
                currentStepAlreadyDone: Int, currentStepObjectCount: Int, resultDetails: JSONValue? = nil) {
        self.id = id
        self.status = status
        self.taskResult = taskResult
        self.stepCount = stepCount
        self.currentStepId = currentStepId
        self.currentStepAlreadyDone = currentStepAlreadyDone
        self.currentStepObjectCount = currentStepObjectCount
        self.resultDetails = resultDetails
    }

    // Optional fields are written as null, as the API shows them, not left out.
    public func encode(to encoder: Encoder) throws {
        var container = encoder.container(keyedBy: CodingKeys.self)
        try container.encode(id, forKey: .id)
        try container.encode(status, forKey: .status)
        try container.encode(taskResult, forKey: .taskResult)
        try container.encode(stepCount, forKey: .stepCount)
        try container.encode(currentStepId, forKey: .currentStepId)
        try container.encode(currentStepAlreadyDone, forKey: .currentStepAlreadyDone)
        try container.encode(currentStepObjectCount, forKey: .currentStepObjectCount)
        try container.encode(resultDetails, forKey: .resultDetails)
    }
}

public enum TaskStatus: String, Codable, Sendable, CaseIterable {
    case scheduled = "Scheduled", planning = "Planning", executing = "Executing", completed = "Completed"
    case failed = "Failed", canceled = "Canceled", timeout = "Timeout"

    public var isFinal: Bool { [.completed, .failed, .canceled, .timeout].contains(self) }
}

public struct TaskResult: Codable, Sendable, Equatable {
    public var message: String?
    public var stepResults: [StepResult]
    public var inputObjectCount: Int
    public var errorCount: Int
    public var outputObjectCount: Int

    public init(message: String?, stepResults: [StepResult]) {
        self.message = message
        self.stepResults = stepResults
        inputObjectCount = stepResults.reduce(0) { $0 + $1.inputObjectCount }
        errorCount = stepResults.reduce(0) { $0 + $1.errorCount }
        outputObjectCount = stepResults.reduce(0) { $0 + $1.outputObjectCount }
    }

    public func encode(to encoder: Encoder) throws {
        var container = encoder.container(keyedBy: CodingKeys.self)
        try container.encode(message, forKey: .message)
        try container.encode(stepResults, forKey: .stepResults)
        try container.encode(inputObjectCount, forKey: .inputObjectCount)
        try container.encode(errorCount, forKey: .errorCount)
        try container.encode(outputObjectCount, forKey: .outputObjectCount)
    }
}

public struct StepResult: Codable, Sendable, Equatable {
    /// One file that failed, and why.
    public struct BatchError: Codable, Sendable, Equatable {
        public var file: String
        public var message: String
    }

    public var stepName: String
    public var inputSource: String?
    public var outSource: String?
    public var startedTime: String?
    public var endedTime: String?
    public var batchErrors: [BatchError]?
    public var batchCount: Int
    public var inputObjectCount: Int
    public var errorCount: Int
    public var outputObjectCount: Int
    public var resultDetails: [String: JSONValue]?

    public func encode(to encoder: Encoder) throws {
        var container = encoder.container(keyedBy: CodingKeys.self)
        try container.encode(stepName, forKey: .stepName)
        try container.encode(inputSource, forKey: .inputSource)
        try container.encode(outSource, forKey: .outSource)
        try container.encode(startedTime, forKey: .startedTime)
        try container.encode(endedTime, forKey: .endedTime)
        try container.encode(batchErrors, forKey: .batchErrors)
        try container.encode(batchCount, forKey: .batchCount)
        try container.encode(inputObjectCount, forKey: .inputObjectCount)
        try container.encode(errorCount, forKey: .errorCount)
        try container.encode(outputObjectCount, forKey: .outputObjectCount)
        try container.encode(resultDetails, forKey: .resultDetails)
    }
}
