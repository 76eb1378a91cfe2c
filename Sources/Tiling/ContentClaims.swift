import Foundation
import Raster

/// Makes "is this content already in the catalog? if not, store it" one step per (data directory,
/// catalog, SHA-256) within the process: while one import of some content runs, another import of
/// the same content into the same catalog waits, then finds it stored and is skipped. Imports of
/// other content, or into other catalogs, never wait. Blocking: call it on a worker thread.
final class ContentClaims: @unchecked Sendable {
    static let shared = ContentClaims()

    private let condition = NSCondition()
    /// Guarded by `condition`.
    private var held: Set<String> = []

    static func key(root: URL, catalog: String, sha256: String) -> String {
        "\(root.path)\u{0}\(catalog)\u{0}\(sha256)"
    }

    /// Runs `body` holding `key`, after any other holder of `key` has finished. A cancelled wait
    /// throws `RasterError.cancelled`.
    func withClaim<T>(_ key: String, cancellation: CancellationFlag, _ body: () throws -> T) throws -> T {
        condition.lock()
        while held.contains(key) {
            if cancellation.isCancelled {
                condition.unlock()
                throw RasterError.cancelled
            }
            _ = condition.wait(until: Date(timeIntervalSinceNow: 0.2))
        }
        held.insert(key)
        condition.unlock()
        defer {
            condition.lock()
            held.remove(key)
            condition.broadcast()
            condition.unlock()
        }
        return try body()
    }
}
