#if canImport(Glibc)
import Glibc
#else
import Darwin
#endif

/// A streaming `multipart/form-data` reader: feed it the body chunk by chunk; it calls `onPart` with
/// each part's headers, `onBody` with its bytes as they arrive, and `onPartEnd`. Only a boundary's
/// length of bytes is ever held back, so a multi-gigabyte upload never sits in memory.
final class MultipartStream {
    enum Failure: Error, CustomStringConvertible {
        case malformed(String)
        var description: String {
            switch self { case let .malformed(message): return "malformed multipart body: \(message)" }
        }
    }

    private enum State { case preamble, afterDelimiter, headers, body, done }

    private let delimiter: [UInt8]
    private var pending: [UInt8]
    private var state = State.preamble
    var onPart: ([String: String]) throws -> Void = { _ in }
    var onBody: (ArraySlice<UInt8>) throws -> Void = { _ in }
    var onPartEnd: () throws -> Void = {}

    init(boundary: String) {
        delimiter = Array("\r\n--\(boundary)".utf8)
        // The first boundary has no CRLF before it; supplying one makes every boundary look the same.
        pending = Array("\r\n".utf8)
    }

    var isComplete: Bool { state == .done }

    func feed(_ bytes: some Collection<UInt8>) throws {
        pending.append(contentsOf: bytes)
        while true {
            switch state {
            case .preamble:
                guard let index = find(delimiter) else {
                    keepTail()
                    return
                }
                pending.removeFirst(index + delimiter.count)
                state = .afterDelimiter
            case .afterDelimiter:
                guard pending.count >= 2 else { return }
                if pending[0] == UInt8(ascii: "-"), pending[1] == UInt8(ascii: "-") {
                    state = .done
                    pending.removeAll()
                    return
                }
                guard pending[0] == UInt8(ascii: "\r"), pending[1] == UInt8(ascii: "\n") else {
                    throw Failure.malformed("a boundary is not followed by a line break")
                }
                pending.removeFirst(2)
                state = .headers
            case .headers:
                guard let end = find(Array("\r\n\r\n".utf8)) else {
                    guard pending.count < 16 << 10 else { throw Failure.malformed("part headers are too long") }
                    return
                }
                try onPart(Self.parseHeaders(pending[..<end]))
                pending.removeFirst(end + 4)
                state = .body
            case .body:
                if let index = find(delimiter) {
                    if index > 0 { try onBody(pending[..<index]) }
                    try onPartEnd()
                    pending.removeFirst(index + delimiter.count)
                    state = .afterDelimiter
                } else {
                    let safe = pending.count - (delimiter.count - 1)
                    if safe > 0 {
                        try onBody(pending[..<safe])
                        pending.removeFirst(safe)
                    }
                    return
                }
            case .done:
                pending.removeAll()
                return
            }
        }
    }

    /// Keeps only the bytes that could start a delimiter split across chunks.
    private func keepTail() {
        let keep = delimiter.count - 1
        if pending.count > keep { pending.removeFirst(pending.count - keep) }
    }

    /// Where `needle` starts in `pending`: memchr for its first byte, memcmp for the rest.
    private func find(_ needle: [UInt8]) -> Int? {
        pending.withUnsafeBytes { haystack in
            needle.withUnsafeBytes { pattern in
                guard let base = haystack.baseAddress, let first = pattern.first, haystack.count >= pattern.count else {
                    return nil
                }
                var offset = 0
                let last = haystack.count - pattern.count
                while offset <= last {
                    guard let hit = memchr(base + offset, Int32(first), last - offset + 1) else { return nil }
                    let position = base.distance(to: UnsafeRawPointer(hit))
                    if memcmp(base + position, pattern.baseAddress!, pattern.count) == 0 { return position }
                    offset = position + 1
                }
                return nil
            }
        }
    }

    private static func parseHeaders(_ bytes: ArraySlice<UInt8>) -> [String: String] {
        var headers: [String: String] = [:]
        for line in String(decoding: bytes, as: UTF8.self).split(separator: "\r\n") {
            guard let colon = line.firstIndex(of: ":") else { continue }
            headers[line[..<colon].lowercased()] = line[line.index(after: colon)...].trimmingCharacters(in: .whitespaces)
        }
        return headers
    }
}
