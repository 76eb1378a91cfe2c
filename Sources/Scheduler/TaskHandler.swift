import Catalog
import Raster
import Tiling

/// What the scheduler knows of task types: how to check a request and how to run it.
public protocol TaskHandler: Sendable {
    /// Validates a request; throws `TaskRequestError` (nothing is queued then).
    func prepare(type: String, parameters: JSONValue, owner: String) throws -> any PreparedTask
}

public protocol PreparedTask: Sendable {
    var stepCount: Int { get }
    func run(id: String, cancellation: CancellationFlag,
             onProgress: @escaping @Sendable (TaskProgress) -> Void) async -> TaskProgress
}
