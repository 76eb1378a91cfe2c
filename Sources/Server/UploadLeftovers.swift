import Foundation
import Raster

/// Uploads in progress are written as `.upload-*` in the user's folder and renamed when complete, and
/// an import reads its files through a `.check-*` folder of links; either name left at start belongs
/// to work the process died in the middle of.
enum UploadLeftovers {
    static let uploadPrefix = ".upload-"
    static let prefixes = [uploadPrefix, StagingFolder.prefix]

    /// Removes every unfinished upload and staging folder in every user's upload folder; returns how
    /// many were removed.
    @discardableResult
    static func removeAll(under uploads: URL) -> Int {
        let manager = FileManager.default
        var removed = 0
        for user in (try? manager.contentsOfDirectory(atPath: uploads.path)) ?? [] {
            let folder = uploads.appendingPathComponent(user)
            for name in (try? manager.contentsOfDirectory(atPath: folder.path)) ?? [] where prefixes.contains(where: name.hasPrefix) {
                if (try? manager.removeItem(at: folder.appendingPathComponent(name))) != nil { removed += 1 }
            }
        }
        return removed
    }
}
