import Catalog
import Foundation
#if canImport(Glibc)
import Glibc
#elseif canImport(Darwin)
import Darwin
#endif

/// Work on the data folder that a crash could leave half-done, one file per piece of work in
/// `DIR/journal/`. An entry is written before the work touches anything and removed once the work is
/// finished or undone; opening the library settles whatever entries are left (see
/// `LibraryRecovery.settle`), so start-up never has to look at every item.
///
/// The process doing the work holds an exclusive `flock` on its entry, so a second process opening
/// the same folder (a `tile import` beside a running server) leaves live work alone. A process that
/// dies loses its locks with it.
struct WorkJournal: Sendable {
    /// One piece of work. Paths are relative to the data folder.
    enum Entry: Codable, Sendable, Equatable {
        /// A raster being written at `partial` (with GDAL's temporary files beside it: every name in its
        /// folder that starts with the partial's base name and a dot), then registered as item `id` and
        /// renamed to `final`.
        case store(catalog: String, id: String, partial: String, final: String)
        /// An item being deleted: its raster goes once its row is gone.
        case deleteItem(catalog: String, id: String, path: String)
        /// A catalog being deleted: its raster folder goes once it is no longer registered.
        case deleteCatalog(catalog: String, folder: String)
    }

    let folder: URL

    init(folder: URL) { self.folder = folder }

    /// Records `entry`; the returned ticket keeps it locked until `end()`.
    func begin(_ entry: Entry) throws -> Ticket {
        let name = UUID().uuidString.lowercased()
        let writing = folder.appendingPathComponent(".\(name).new").path
        let final = folder.appendingPathComponent("\(name).json").path
        let descriptor = open(writing, O_CREAT | O_EXCL | O_WRONLY | O_CLOEXEC, 0o600)
        guard descriptor >= 0 else { throw JournalError.cannotWrite(errno) }
        guard flock(descriptor, LOCK_EX) == 0 else {
            close(descriptor)
            unlink(writing)
            throw JournalError.cannotWrite(errno)
        }
        let data = try JSONEncoder().encode(entry)
        let written = data.withUnsafeBytes { write(descriptor, $0.baseAddress, $0.count) }
        // Renamed only once complete: a `.json` entry is always whole. The lock stays with the file.
        guard written == data.count, rename(writing, final) == 0 else {
            let failure = errno
            unlink(writing)
            close(descriptor)
            throw JournalError.cannotWrite(failure)
        }
        return Ticket(path: final, descriptor: descriptor)
    }

    /// A recorded entry, locked by this process until `end()`.
    final class Ticket: @unchecked Sendable {
        private let path: String
        private var descriptor: Int32

        fileprivate init(path: String, descriptor: Int32) {
            self.path = path
            self.descriptor = descriptor
        }

        /// The work is finished or undone: removes the entry. Later calls do nothing.
        func end() {
            guard descriptor >= 0 else { return }
            unlink(path)
            close(descriptor)
            descriptor = -1
        }

        /// Dropped without `end()` (a path that forgot to settle its work): the lock goes, the entry
        /// stays for the next open to settle.
        deinit { if descriptor >= 0 { close(descriptor) } }
    }

    /// Entries no live process holds: left by a process that died. `settle` is called with each one
    /// (still locked); when it returns without throwing, the entry is removed.
    func settleAbandoned(_ settle: (Entry) throws -> Void) throws {
        let names = (try? FileManager.default.contentsOfDirectory(atPath: folder.path)) ?? []
        for name in names.sorted() {
            let path = folder.appendingPathComponent(name).path
            let descriptor = open(path, O_RDONLY | O_CLOEXEC)
            guard descriptor >= 0 else { continue }
            defer { close(descriptor) }
            guard flock(descriptor, LOCK_EX | LOCK_NB) == 0 else { continue }
            // Gone meanwhile: finished by its owner between listing and locking.
            guard FileManager.default.fileExists(atPath: path) else { continue }
            if name.hasSuffix(".json"), let data = FileManager.default.contents(atPath: path),
               let entry = try? JSONDecoder().decode(Entry.self, from: data) {
                try settle(entry)
            }
            // Anything else is an entry that died while being written, before its work began.
            unlink(path)
        }
    }

    enum JournalError: Error, CustomStringConvertible {
        case cannotWrite(Int32)
        var description: String {
            switch self {
            case let .cannotWrite(code): return "cannot write to the work journal: \(String(cString: strerror(code)))"
            }
        }
    }
}
