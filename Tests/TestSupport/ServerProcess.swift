import Foundation
#if canImport(FoundationNetworking)
import FoundationNetworking
#endif

/// A real `tile serve` on 127.0.0.1 with a random port and its own data directory.
public final class ServerProcess: @unchecked Sendable {
    public let dataDirectory: String
    public private(set) var baseURL = ""
    private var process: Process?
    private let extraArguments: [String]

    /// Creates the data directory with the given users (password = "password-" + name), then starts.
    public init(users: [String] = ["alice", "bob"], arguments: [String] = [], dataDirectory: String? = nil) throws {
        self.dataDirectory = dataDirectory ?? TemporaryDirectory("server").path
        extraArguments = arguments
        for user in users {
            let result = try TileBinary.run(["users", "add", "--data-dir", self.dataDirectory, user, "--password-stdin"],
                                            stdin: "password-\(user)\n")
            guard result.status == 0 else { throw ServerError.setup(result.stderr) }
        }
        try start()
    }

    public func start() throws {
        let process = Process()
        process.executableURL = URL(fileURLWithPath: TileBinary.path)
        process.arguments = ["serve", "--data-dir", dataDirectory, "--port", "0"] + extraArguments
        let output = Pipe()
        process.standardOutput = output
        process.standardError = FileHandle(forWritingAtPath: "/dev/null")
        try process.run()
        self.process = process
        // The first line is "listening on http://127.0.0.1:PORT".
        var line = Data()
        while !line.contains(UInt8(ascii: "\n")) {
            let chunk = output.fileHandleForReading.availableData
            guard !chunk.isEmpty else { throw ServerError.setup("the server exited before listening") }
            line.append(chunk)
        }
        let text = String(decoding: line, as: UTF8.self)
        guard let range = text.range(of: "http://") else { throw ServerError.setup(text) }
        baseURL = String(text[range.lowerBound...]).trimmingCharacters(in: .whitespacesAndNewlines)
    }

    /// Stops the server: SIGTERM (graceful) or SIGKILL (a crash).
    public func stop(kill: Bool = false) {
        guard let process, process.isRunning else { return }
        if kill {
            Foundation.kill(process.processIdentifier, SIGKILL)
        } else {
            process.terminate()
        }
        process.waitUntilExit()
        self.process = nil
    }

    public var processIdentifier: Int32 { process?.processIdentifier ?? 0 }

    deinit {
        stop()
    }

    public func removeData() { try? FileManager.default.removeItem(atPath: dataDirectory) }

    public enum ServerError: Error { case setup(String) }
}

/// A small HTTP client for the tests: JSON in and out, a bearer token once logged in.
public struct APIClient: Sendable {
    public struct Reply: Sendable {
        public var status: Int
        public var data: Data
        public var headers: [String: String]
        public var json: Any? { try? JSONSerialization.jsonObject(with: data) }
        public var object: [String: Any] { json as? [String: Any] ?? [:] }
        public var errorCode: String? { object["error"] as? String }
    }

    public let baseURL: String
    public var token: String?

    /// No shared cookie jar: cookies ignore ports, so a login to one test's server would otherwise
    /// send its cookie to every other server on 127.0.0.1.
    private static let session: URLSession = {
        let configuration = URLSessionConfiguration.ephemeral
        configuration.httpCookieStorage = nil
        configuration.httpShouldSetCookies = false
        // Tests see exactly what the server sends (a 304 stays a 304).
        configuration.urlCache = nil
        configuration.requestCachePolicy = .reloadIgnoringLocalCacheData
        return URLSession(configuration: configuration)
    }()

    public init(baseURL: String, token: String? = nil) {
        self.baseURL = baseURL
        self.token = token
    }

    /// Logs in as `user` (password "password-USER") and returns a client that sends the token.
    public static func login(_ server: ServerProcess, as user: String) async throws -> APIClient {
        let anonymous = APIClient(baseURL: server.baseURL)
        let reply = try await anonymous.send("POST", "/account/login", json: ["username": user, "password": "password-\(user)"])
        guard let token = reply.object["token"] as? String else { throw ServerProcess.ServerError.setup("login failed: \(reply.status)") }
        return APIClient(baseURL: server.baseURL, token: token)
    }

    public func send(_ method: String, _ path: String, json: Any? = nil, body: Data? = nil,
                     headers: [String: String] = [:]) async throws -> Reply {
        var request = URLRequest(url: URL(string: baseURL + path)!)
        request.httpMethod = method
        request.timeoutInterval = 120
        if let token { request.setValue("Bearer \(token)", forHTTPHeaderField: "Authorization") }
        if let json {
            request.httpBody = try JSONSerialization.data(withJSONObject: json)
            request.setValue("application/json", forHTTPHeaderField: "Content-Type")
        } else if let body {
            request.httpBody = body
        }
        for (name, value) in headers { request.setValue(value, forHTTPHeaderField: name) }
        let (data, response) = try await Self.session.data(for: request)
        let http = response as! HTTPURLResponse
        var fields: [String: String] = [:]
        for (key, value) in http.allHeaderFields { fields[String(describing: key).lowercased()] = String(describing: value) }
        return Reply(status: http.statusCode, data: data, headers: fields)
    }

    /// Uploads a file as multipart/form-data under `name`.
    public func upload(_ path: String, as name: String) async throws -> Reply {
        let boundary = "tile-test-\(UUID().uuidString)"
        var body = Data("--\(boundary)\r\nContent-Disposition: form-data; name=\"file\"; filename=\"\(name)\"\r\n".utf8)
        body += Data("Content-Type: image/tiff\r\n\r\n".utf8)
        body += try Data(contentsOf: URL(fileURLWithPath: path))
        body += Data("\r\n--\(boundary)--\r\n".utf8)
        return try await send("POST", "/upload", body: body, headers: ["Content-Type": "multipart/form-data; boundary=\(boundary)"])
    }

    /// Polls a task's progress until it reaches a final status; returns the last progress object.
    public func waitForTask(_ id: String, seconds: Double = 120) async throws -> [String: Any] {
        let deadline = Date().addingTimeInterval(seconds)
        while Date() < deadline {
            let progress = try await send("GET", "/scheduler/tasks/\(id)/progress").object
            if let status = progress["status"] as? String, ["Completed", "Failed", "Canceled", "Timeout"].contains(status) {
                return progress
            }
            try await Task.sleep(for: .milliseconds(100))
        }
        throw ServerProcess.ServerError.setup("task \(id) did not finish in \(seconds) s")
    }
}

/// A raster large enough that converting it takes a few seconds: for cancel, timeout and restart tests.
public enum LargeRaster {
    public static func make(in directory: String, name: String = "large.tif") throws -> String {
        let output = (directory as NSString).appendingPathComponent(name)
        let process = Process()
        process.executableURL = URL(fileURLWithPath: "/usr/bin/gdal_translate")
        process.arguments = ["-q", "-outsize", "700%", "700%", "-r", "bilinear", TestRasters.real("RGB.byte.tif"), output]
        try process.run()
        process.waitUntilExit()
        guard process.terminationStatus == 0 else { throw ServerProcess.ServerError.setup("gdal_translate failed") }
        return output
    }
}
