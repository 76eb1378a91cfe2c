import ArgumentParser
import Catalog
import Foundation
import Tiling

enum Output {
    static func json<T: Encodable>(_ value: T) throws -> String {
        let encoder = JSONEncoder()
        encoder.outputFormatting = [.prettyPrinted, .sortedKeys, .withoutEscapingSlashes]
        return String(decoding: try encoder.encode(value), as: UTF8.self)
    }

    static func printJSON<T: Encodable>(_ value: T) throws {
        print(try json(value))
    }

    static func error(_ message: String) {
        FileHandle.standardError.write(Data((message + "\n").utf8))
    }

    static var stderrIsTerminal: Bool { isatty(STDERR_FILENO) != 0 }
}

/// A one-line progress bar on a terminal's stderr; silent elsewhere.
final class ProgressBar: @unchecked Sendable {
    private let lock = NSLock()
    private let enabled = Output.stderrIsTerminal
    private var lastDrawn = 0.0
    private var lastFraction = -1.0

    func draw(fraction: Double, finished: Int, total: Int) {
        guard enabled else { return }
        lock.lock()
        defer { lock.unlock() }
        let now = Date().timeIntervalSince1970
        guard now - lastDrawn > 0.1 || finished == total, abs(fraction - lastFraction) > 0.001 else { return }
        lastDrawn = now
        lastFraction = fraction
        let width = 30
        let filled = Int(fraction * Double(width))
        let bar = String(repeating: "#", count: filled) + String(repeating: ".", count: width - filled)
        let line = "\r[\(bar)] \(String(format: "%3.0f", fraction * 100))%  \(finished)/\(total) files"
        FileHandle.standardError.write(Data(line.utf8))
    }

    /// Prints a message above the bar.
    func message(_ text: String) {
        lock.lock()
        defer { lock.unlock() }
        let prefix = enabled && lastFraction >= 0 ? "\r\u{1B}[K" : ""
        FileHandle.standardError.write(Data((prefix + text + "\n").utf8))
        lastFraction = -1
    }

    func finish() {
        guard enabled, lastFraction >= 0 else { return }
        FileHandle.standardError.write(Data("\n".utf8))
    }
}

/// Options every command that works on a data directory takes.
struct DataDirectoryOption: ParsableArguments {
    @Option(name: .long, help: "The data directory: catalog.gpkg, rasters/, uploads/.")
    var dataDir: String

    /// Opens the library, creating the data directory if needed: for commands that add to it
    /// (`import`, `users add`, `serve`).
    func library() throws -> RasterLibrary { try RasterLibrary(directory: dataDir) }

    /// Opens the library of a data directory that exists and holds a catalog: for commands that only
    /// read or remove, so a mistyped --data-dir is an error instead of a new, empty directory.
    func existingLibrary() throws -> RasterLibrary {
        guard let library = try existingLibraryIfStarted() else {
            throw ValidationError("no data directory at \(dataDir): it has no catalog.gpkg")
        }
        return library
    }

    /// For listing commands: nil (nothing to list, nothing created) when the directory is a data
    /// directory nothing was stored in yet (empty, or only the folders an interrupted first command
    /// made), the library when it has a catalog; any other directory is refused.
    func existingLibraryIfStarted() throws -> RasterLibrary? {
        try requireDirectory()
        let manager = FileManager.default
        guard manager.fileExists(atPath: (dataDir as NSString).appendingPathComponent("catalog.gpkg")) else {
            let entries = try manager.contentsOfDirectory(atPath: dataDir)
            guard Set(entries).isSubset(of: ["rasters", "uploads", "journal"]) else {
                throw ValidationError("no data directory at \(dataDir): it has no catalog.gpkg")
            }
            return nil
        }
        return try RasterLibrary(directory: dataDir)
    }

    /// Refuses a data directory that does not exist (or is not a directory).
    func requireDirectory() throws {
        var isDirectory: ObjCBool = false
        guard FileManager.default.fileExists(atPath: dataDir, isDirectory: &isDirectory), isDirectory.boolValue else {
            throw ValidationError("no data directory at \(dataDir)")
        }
    }
}

extension CatalogName: ExpressibleByArgument {
    public init?(argument: String) {
        guard let name = try? CatalogName(argument) else { return nil }
        self = name
    }
}
