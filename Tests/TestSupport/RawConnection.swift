import Foundation
#if canImport(Glibc)
import Glibc
#endif

/// A bare TCP connection to the server, for clients no HTTP library would be: silent, slow, cut off
/// half-way, or coming from another loopback address (127.0.0.X).
public final class RawConnection: @unchecked Sendable {
    public enum Failure: Error, CustomStringConvertible {
        case system(String, Int32)
        case timedOut(String)
        case malformed(String)

        public var description: String {
            switch self {
            case let .system(call, code): return "\(call) failed: \(String(cString: strerror(code)))"
            case let .timedOut(what): return "timed out waiting for \(what)"
            case let .malformed(what): return "malformed response: \(what)"
            }
        }
    }

    public struct Response: Sendable {
        public var status: Int
        public var headers: [String: String]
        public var body: Data
        public var text: String { String(decoding: body, as: UTF8.self) }
    }

    fileprivate let fd: Int32
    private var buffered = Data()
    private var closed = false

    /// Connects to 127.0.0.1:`port`, from `source` (another loopback address) when given.
    public init(port: Int, from source: String? = nil) throws {
        fd = socket(AF_INET, Int32(SOCK_STREAM.rawValue), 0)
        guard fd >= 0 else { throw Failure.system("socket", errno) }
        if let source {
            var local = Self.address(source, port: 0)
            let bound = withUnsafePointer(to: &local) {
                $0.withMemoryRebound(to: sockaddr.self, capacity: 1) { bind(fd, $0, socklen_t(MemoryLayout<sockaddr_in>.size)) }
            }
            guard bound == 0 else { let code = errno; Glibc.close(fd); throw Failure.system("bind", code) }
        }
        var remote = Self.address("127.0.0.1", port: port)
        let connected = withUnsafePointer(to: &remote) {
            $0.withMemoryRebound(to: sockaddr.self, capacity: 1) { connect(fd, $0, socklen_t(MemoryLayout<sockaddr_in>.size)) }
        }
        guard connected == 0 else { let code = errno; Glibc.close(fd); throw Failure.system("connect", code) }
    }

    deinit { close() }

    public func close() {
        guard !closed else { return }
        closed = true
        Glibc.close(fd)
    }

    /// Sends everything; false when the server has closed the connection.
    @discardableResult
    public func send(_ data: Data) -> Bool {
        data.withUnsafeBytes { raw in
            var offset = 0
            while offset < raw.count {
                let sent = Glibc.send(fd, raw.baseAddress! + offset, raw.count - offset, Int32(MSG_NOSIGNAL))
                if sent <= 0 { return false }
                offset += sent
            }
            return true
        }
    }

    @discardableResult
    public func send(_ text: String) -> Bool { send(Data(text.utf8)) }

    /// Waits until the server closes the connection (end of stream or reset). Returns what it sent
    /// before; throws when `seconds` pass first, so a server that never closes fails the test.
    @discardableResult
    public func waitForClose(seconds: Double = 30) throws -> Data {
        let deadline = Date().addingTimeInterval(seconds)
        while true {
            switch try read(until: deadline) {
            case .closed: return buffered
            case .data: continue
            case .timeout: throw Failure.timedOut("the server to close the connection")
            }
        }
    }

    /// True while the server keeps the connection open (nothing to read, no end of stream).
    public var isOpen: Bool {
        var descriptor = pollfd(fd: fd, events: Int16(POLLIN), revents: 0)
        guard poll(&descriptor, 1, 0) == 1 else { return true }
        var byte: UInt8 = 0
        let peeked = recv(fd, &byte, 1, Int32(MSG_PEEK | MSG_DONTWAIT))
        return peeked > 0 || (peeked < 0 && (errno == EAGAIN || errno == EWOULDBLOCK))
    }

    /// Reads one response with a Content-Length body.
    public func readResponse(seconds: Double = 30) throws -> Response {
        let deadline = Date().addingTimeInterval(seconds)
        let separator = Data("\r\n\r\n".utf8)
        while buffered.range(of: separator) == nil {
            if case .closed = try read(until: deadline, orThrow: "a response head") {
                throw Failure.malformed("the connection closed before a response head")
            }
        }
        let headEnd = buffered.range(of: separator)!
        let lines = String(decoding: buffered[..<headEnd.lowerBound], as: UTF8.self).components(separatedBy: "\r\n")
        let statusParts = lines[0].split(separator: " ")
        guard statusParts.count >= 2, let status = Int(statusParts[1]) else { throw Failure.malformed(lines[0]) }
        var headers: [String: String] = [:]
        for line in lines.dropFirst() {
            guard let colon = line.firstIndex(of: ":") else { continue }
            headers[line[..<colon].lowercased()] = line[line.index(after: colon)...].trimmingCharacters(in: .whitespaces)
        }
        let length = Int(headers["content-length"] ?? "0") ?? 0
        let bodyStart = headEnd.upperBound
        while buffered.count - (bodyStart - buffered.startIndex) < length {
            if case .closed = try read(until: deadline, orThrow: "a response body") {
                throw Failure.malformed("the connection closed inside a response body")
            }
        }
        let body = buffered[bodyStart..<(bodyStart + length)]
        buffered = Data(buffered[(bodyStart + length)...])
        return Response(status: status, headers: headers, body: Data(body))
    }

    private enum ReadResult { case data, closed, timeout }

    private func read(until deadline: Date, orThrow what: String) throws -> ReadResult {
        let result = try read(until: deadline)
        if case .timeout = result { throw Failure.timedOut(what) }
        return result
    }

    private func read(until deadline: Date) throws -> ReadResult {
        let remaining = deadline.timeIntervalSinceNow
        guard remaining > 0 else { return .timeout }
        var descriptor = pollfd(fd: fd, events: Int16(POLLIN), revents: 0)
        let ready = poll(&descriptor, 1, Int32(min(remaining, 1) * 1000))
        if ready == 0 { return Date() < deadline ? .data : .timeout }
        guard ready > 0 else { return errno == EINTR ? .data : .closed }
        var chunk = [UInt8](repeating: 0, count: 65536)
        let count = recv(fd, &chunk, chunk.count, 0)
        if count > 0 {
            buffered.append(contentsOf: chunk[..<count])
            return .data
        }
        if count < 0, errno == EINTR || errno == EAGAIN { return .data }
        return .closed
    }

    private static func address(_ host: String, port: Int) -> sockaddr_in {
        var address = sockaddr_in()
        address.sin_family = sa_family_t(AF_INET)
        address.sin_port = in_port_t(UInt16(port).bigEndian)
        inet_pton(AF_INET, host, &address.sin_addr)
        return address
    }
}

extension ServerProcess {
    /// The port the server listens on.
    public var port: Int {
        Int(baseURL.split(separator: ":").last.map { String($0).split(separator: "/").first.map(String.init) ?? "" } ?? "") ?? 0
    }
}

extension RawConnection {
    /// Sends one complete request and reads its answer.
    public func request(_ method: String, _ path: String, headers: [String: String] = [:], body: Data = Data(),
                        seconds: Double = 30) throws -> Response {
        var head = "\(method) \(path) HTTP/1.1\r\nHost: tile\r\nContent-Length: \(body.count)\r\n"
        for (name, value) in headers { head += "\(name): \(value)\r\n" }
        send(Data((head + "\r\n").utf8) + body)
        return try readResponse(seconds: seconds)
    }

    /// A JSON login over a new connection from `source`.
    public static func login(port: Int, user: String, password: String, from source: String? = nil,
                             headers: [String: String] = [:]) throws -> Response {
        let connection = try RawConnection(port: port, from: source)
        defer { connection.close() }
        let body = try JSONSerialization.data(withJSONObject: ["username": user, "password": password])
        return try connection.request("POST", "/account/login", headers: headers.merging(["Content-Type": "application/json"]) { a, _ in a },
                                      body: body)
    }
}

extension RawConnection.Response {
    public var json: [String: Any] { (try? JSONSerialization.jsonObject(with: body)) as? [String: Any] ?? [:] }
}

extension RawConnection {
    /// This end's port.
    public var localPort: Int {
        var address = sockaddr_in()
        var length = socklen_t(MemoryLayout<sockaddr_in>.size)
        _ = withUnsafeMutablePointer(to: &address) {
            $0.withMemoryRebound(to: sockaddr.self, capacity: 1) { getsockname(fd, $0, &length) }
        }
        return Int(UInt16(bigEndian: address.sin_port))
    }

    /// True once the server's end of this connection has left the ESTABLISHED state (it closed it),
    /// read from the kernel's table (`/proc/net/tcp`) without reading from the socket.
    public func serverHasClosed(serverPort: Int) -> Bool {
        let table = Self.readWhole("/proc/net/tcp")
        let local = String(format: ":%04X", serverPort), remote = String(format: ":%04X", localPort)
        for line in table.split(separator: "\n").dropFirst() {
            let fields = line.split(separator: " ")
            guard fields.count > 3, fields[1].hasSuffix(local), fields[2].hasSuffix(remote) else { continue }
            return fields[3] != "01"
        }
        return true
    }

    /// A file read to its end with plain reads (files in /proc report a size of 0).
    private static func readWhole(_ path: String) -> String {
        let file = Glibc.open(path, O_RDONLY)
        guard file >= 0 else { return "" }
        defer { Glibc.close(file) }
        var data = Data()
        var chunk = [UInt8](repeating: 0, count: 65536)
        while true {
            let count = Glibc.read(file, &chunk, chunk.count)
            guard count > 0 else { break }
            data.append(contentsOf: chunk[..<count])
        }
        return String(decoding: data, as: UTF8.self)
    }
}
