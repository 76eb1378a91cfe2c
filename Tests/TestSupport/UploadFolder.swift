import Foundation

/// One user's upload folder inside a server's data directory, hidden files included.
public struct UploadFolder: Sendable {
    public let path: String

    public init(server: ServerProcess, user: String) {
        path = server.dataDirectory + "/uploads/" + user
    }

    public var contents: [String] {
        ((try? FileManager.default.contentsOfDirectory(atPath: path)) ?? []).sorted()
    }

    public var unfinishedUploads: [String] { contents.filter { $0.hasPrefix(".upload-") } }

    /// Polls until the folder is empty (or missing); returns what is left after `seconds`.
    public func waitUntilEmpty(seconds: Double = 30) async throws -> [String] {
        try await waitUntil(seconds: seconds) { $0.isEmpty }
    }

    /// Polls until an upload in progress has created its temporary file.
    public func waitForUnfinishedUpload(seconds: Double = 30) async throws -> [String] {
        try await waitUntil(seconds: seconds) { $0.contains { $0.hasPrefix(".upload-") } }
    }

    private func waitUntil(seconds: Double, _ condition: ([String]) -> Bool) async throws -> [String] {
        let deadline = Date().addingTimeInterval(seconds)
        while !condition(contents), Date() < deadline {
            try await Task.sleep(for: .milliseconds(50))
        }
        return contents
    }
}
