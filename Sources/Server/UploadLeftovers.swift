import Foundation

/// Uploads in progress are written as `.upload-*` in the user's folder and renamed when complete, so a
/// file of that name left at start belongs to an upload the process died in the middle of.
enum UploadLeftovers {
    static let prefix = ".upload-"

    /// Removes every unfinished upload in every user's upload folder; returns how many were removed.
    @discardableResult
    static func removeAll(under uploads: URL) -> Int {
        let manager = FileManager.default
        var removed = 0
        for user in (try? manager.contentsOfDirectory(atPath: uploads.path)) ?? [] {
            let folder = uploads.appendingPathComponent(user)
            for name in (try? manager.contentsOfDirectory(atPath: folder.path)) ?? [] where name.hasPrefix(prefix) {
                if (try? manager.removeItem(at: folder.appendingPathComponent(name))) != nil { removed += 1 }
            }
        }
        return removed
    }
}
