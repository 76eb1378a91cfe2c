import Catalog
import Foundation

/// What a task's message and batch errors may say about a failure. A catalog store error carries the
/// store's own text (SQL, table DDL, server paths): the task says only that the store failed and gives
/// a reference, and the detail goes to the server's standard error with the same reference.
public enum TaskFailureText {
    /// `error` as a task may show it; a store error's detail is logged.
    public static func describe(_ error: any Error) -> String {
        if let error = error as? CatalogError, case .storage = error {
            log(error.description)
            return sanitize(error.description)
        }
        return String(describing: error)
    }

    /// An error text already made (a file's outcome) as a task may show it. Pure: the same text always
    /// gets the same reference, so progress can be rebuilt any number of times; `log` records the detail.
    public static func sanitize(_ message: String) -> String {
        guard isStoreFailure(message) else { return message }
        return "the catalog store failed (reference \(reference(for: message))); the server log has the details"
    }

    /// Writes the detail of a store failure to the server log (standard error), once per call.
    public static func log(_ message: String) {
        guard isStoreFailure(message) else { return }
        FileHandle.standardError.write(Data("task error (reference \(reference(for: message))): \(message)\n".utf8))
    }

    private static let storagePrefix = CatalogError.storage("").description

    static func isStoreFailure(_ message: String) -> Bool { message.hasPrefix(storagePrefix) }

    /// FNV-1a of the detail, as 8 hex digits.
    static func reference(for message: String) -> String {
        var hash: UInt32 = 2_166_136_261
        for byte in message.utf8 {
            hash = (hash ^ UInt32(byte)) &* 16_777_619
        }
        let hex = String(hash, radix: 16)
        return String(repeating: "0", count: 8 - hex.count) + hex
    }
}
