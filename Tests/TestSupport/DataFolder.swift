import Foundation

/// What is in a data folder: every file and folder under it, by relative path, with its permission bits.
public enum DataFolder {
    public static func walk(_ root: String) -> [String: Int] {
        var entries: [String: Int] = [:]
        let enumerator = FileManager.default.enumerator(atPath: root)
        while let relative = enumerator?.nextObject() as? String {
            let attributes = try? FileManager.default.attributesOfItem(atPath: (root as NSString).appendingPathComponent(relative))
            entries[relative] = (attributes?[.posixPermissions] as? NSNumber)?.intValue ?? -1
        }
        return entries
    }

    /// Regular files only, by relative path.
    public static func files(_ root: String) -> Set<String> {
        Set(walk(root).keys.filter { relative in
            var isDirectory: ObjCBool = false
            let exists = FileManager.default.fileExists(atPath: (root as NSString).appendingPathComponent(relative),
                                                        isDirectory: &isDirectory)
            return exists && !isDirectory.boolValue
        })
    }

    /// A copy of the data folder written by the first release (see Tests/Fixtures/README.md), unpacked
    /// at a new temporary path, so it is also a moved folder.
    public static func firstReleaseCopy() throws -> TemporaryDirectory {
        let directory = TemporaryDirectory("fixture")
        let archive = TestRasters.projectRoot.appendingPathComponent("Tests/Fixtures/release-1-data.tar.gz").path
        let tar = Process()
        tar.executableURL = URL(fileURLWithPath: "/bin/tar")
        tar.arguments = ["-xzf", archive, "-C", directory.path]
        try tar.run()
        tar.waitUntilExit()
        guard tar.terminationStatus == 0 else { throw ServerProcess.ServerError.setup("cannot unpack \(archive)") }
        return directory
    }

    /// Runs SQL on an SQLite file with Debian's Python (for tests that forge a state no release writes).
    public static func sqlite(_ file: String, _ sql: String) throws {
        let python = Process()
        python.executableURL = URL(fileURLWithPath: "/usr/bin/python3")
        python.arguments = ["-c", "import sqlite3, sys; c = sqlite3.connect(sys.argv[1]); c.executescript(sys.argv[2]); c.commit()",
                            file, sql]
        try python.run()
        python.waitUntilExit()
        guard python.terminationStatus == 0 else { throw ServerProcess.ServerError.setup("sqlite failed: \(sql)") }
    }
}

extension DataFolder {
    /// The first column of a query's rows, as text.
    public static func sqliteQuery(_ file: String, _ sql: String) throws -> [String] {
        let python = Process()
        python.executableURL = URL(fileURLWithPath: "/usr/bin/python3")
        python.arguments = ["-c", "import sqlite3, sys\nfor row in sqlite3.connect(sys.argv[1]).execute(sys.argv[2]): print(row[0])",
                            file, sql]
        let pipe = Pipe()
        python.standardOutput = pipe
        try python.run()
        let output = String(decoding: pipe.fileHandleForReading.readDataToEndOfFile(), as: UTF8.self)
        python.waitUntilExit()
        guard python.terminationStatus == 0 else { throw ServerProcess.ServerError.setup("sqlite failed: \(sql)") }
        return output.split(separator: "\n").map(String.init)
    }
}

/// A `tile serve` whose exit status and standard error are kept, for shutdown and crash tests.
public final class ServeRun: @unchecked Sendable {
    public let baseURL: String
    public let stderrFile: String
    private let process: Process

    public init(dataDirectory: String, arguments: [String] = []) throws {
        stderrFile = FileManager.default.temporaryDirectory.appendingPathComponent("serve-\(UUID().uuidString).err").path
        _ = FileManager.default.createFile(atPath: stderrFile, contents: nil)
        let process = Process()
        process.executableURL = URL(fileURLWithPath: TileBinary.path)
        process.arguments = ["serve", "--data-dir", dataDirectory, "--port", "0"] + arguments
        let output = Pipe()
        process.standardOutput = output
        process.standardError = FileHandle(forWritingAtPath: stderrFile)
        try process.run()
        self.process = process
        var line = Data()
        while !line.contains(UInt8(ascii: "\n")) {
            let chunk = output.fileHandleForReading.availableData
            guard !chunk.isEmpty else { throw ServerProcess.ServerError.setup("the server exited before listening") }
            line.append(chunk)
        }
        let text = String(decoding: line, as: UTF8.self)
        guard let range = text.range(of: "http://") else { throw ServerProcess.ServerError.setup(text) }
        baseURL = String(text[range.lowerBound...]).trimmingCharacters(in: .whitespacesAndNewlines)
    }

    /// Sends `signal` and waits; returns the exit status (a signal's number if it died of one) and stderr.
    public func stop(_ signal: Int32 = SIGTERM) -> (status: Int32, uncaughtSignal: Bool, stderr: String) {
        if process.isRunning { kill(process.processIdentifier, signal) }
        process.waitUntilExit()
        let stderr = (try? String(contentsOfFile: stderrFile, encoding: .utf8)) ?? ""
        try? FileManager.default.removeItem(atPath: stderrFile)
        return (process.terminationStatus, process.terminationReason == .uncaughtSignal, stderr)
    }

    public func login(_ user: String) async throws -> APIClient {
        let reply = try await APIClient(baseURL: baseURL).send(
            "POST", "/account/login", json: ["username": user, "password": "password-\(user)"])
        guard let token = reply.object["token"] as? String else { throw ServerProcess.ServerError.setup("login failed") }
        return APIClient(baseURL: baseURL, token: token)
    }

    deinit { if process.isRunning { process.terminate(); process.waitUntilExit() } }
}
