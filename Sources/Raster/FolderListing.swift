import Foundation

/// The files of a folder that may be sidecars of a raster in it, from one listing per folder state.
/// Listing the folder for every raster made a batch of n files in one folder cost n² (a 5,000-file
/// folder spent over four minutes listing itself); a listing is reused while the folder's
/// modification time, which any file added, removed or renamed changes, stays the same. A stale
/// listing could only hide a sidecar, never show GDAL one: the staging folder and GDAL's sibling
/// list both come from it.
final class FolderListing: @unchecked Sendable {
    static let shared = FolderListing()

    private struct Entry {
        var modified: timespec
        /// Names by their first part (up to the first "." or "_"), lower case.
        var byStem: [String: [String]]
    }

    private let lock = NSLock()
    private var entries: [String: Entry] = [:]

    /// Names in `folder` that begin like `fileName` (case aside); the raster itself included.
    func candidates(beside fileName: String, in folder: String) -> [String] {
        var status = stat()
        guard stat(folder, &status) == 0 else { return [] }
        let stem = Self.stem(fileName)
        if let entry = lock.withLock({ entries[folder] }),
           entry.modified.tv_sec == status.st_mtim.tv_sec, entry.modified.tv_nsec == status.st_mtim.tv_nsec {
            return entry.byStem[stem] ?? []
        }
        let names = (try? FileManager.default.contentsOfDirectory(atPath: folder)) ?? []
        let entry = Entry(modified: status.st_mtim, byStem: Dictionary(grouping: names, by: Self.stem))
        lock.withLock {
            if entries.count >= 64 { entries.removeAll() }
            entries[folder] = entry
        }
        return entry.byStem[stem] ?? []
    }

    private static func stem(_ name: String) -> String {
        String(name.lowercased().prefix { $0 != "." && $0 != "_" })
    }
}
