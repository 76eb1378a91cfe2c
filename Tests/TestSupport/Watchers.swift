import Foundation
#if canImport(Glibc)
import Glibc
#endif

/// A TCP listener on 127.0.0.1 (random port) that counts the connections it accepts: point a hostile
/// file at it and expect zero.
public final class LoopbackListener: @unchecked Sendable {
    public let port: Int
    private let socketDescriptor: Int32
    private let lock = NSLock()
    private var accepted = 0
    private var thread: Thread?

    public init() throws {
        let descriptor = socket(AF_INET, Int32(SOCK_STREAM.rawValue), 0)
        guard descriptor >= 0 else { throw WatchError.setup("socket") }
        var address = sockaddr_in()
        address.sin_family = sa_family_t(AF_INET)
        address.sin_port = 0
        address.sin_addr.s_addr = inet_addr("127.0.0.1")
        let bound = withUnsafePointer(to: &address) {
            $0.withMemoryRebound(to: sockaddr.self, capacity: 1) { bind(descriptor, $0, socklen_t(MemoryLayout<sockaddr_in>.size)) }
        }
        guard bound == 0, listen(descriptor, 64) == 0 else { close(descriptor); throw WatchError.setup("bind/listen") }
        var length = socklen_t(MemoryLayout<sockaddr_in>.size)
        _ = withUnsafeMutablePointer(to: &address) {
            $0.withMemoryRebound(to: sockaddr.self, capacity: 1) { getsockname(descriptor, $0, &length) }
        }
        port = Int(UInt16(bigEndian: address.sin_port))
        socketDescriptor = descriptor
        let thread = Thread { [self] in acceptLoop() }
        self.thread = thread
        thread.start()
    }

    private func acceptLoop() {
        while true {
            let client = accept(socketDescriptor, nil, nil)
            if client < 0 { return }
            lock.lock(); accepted += 1; lock.unlock()
            close(client)
        }
    }

    /// Connections accepted so far.
    public var connections: Int { lock.lock(); defer { lock.unlock() }; return accepted }

    public func stop() {
        shutdown(socketDescriptor, Int32(SHUT_RDWR))
        close(socketDescriptor)
    }

    deinit { stop() }
}

/// Records every open or read of a file inside a folder (Linux inotify): proof that nothing there was
/// touched, whichever process or library would have touched it.
public final class FolderAccessWatch {
    private let descriptor: Int32

    public init(_ folder: String) throws {
        descriptor = inotify_init1(Int32(IN_NONBLOCK))
        guard descriptor >= 0 else { throw WatchError.setup("inotify_init1") }
        guard inotify_add_watch(descriptor, folder, UInt32(IN_OPEN | IN_ACCESS)) >= 0 else {
            close(descriptor)
            throw WatchError.setup("inotify_add_watch \(folder)")
        }
    }

    /// Names of the files opened or read since the last call (empty when none).
    public func drain() -> [String] {
        var names: [String] = []
        var buffer = [UInt8](repeating: 0, count: 64 << 10)
        while true {
            let count = buffer.withUnsafeMutableBytes { read(descriptor, $0.baseAddress, $0.count) }
            if count <= 0 { break }
            var offset = 0
            while offset < count {
                let (length, name) = buffer.withUnsafeBytes { raw -> (Int, String) in
                    let event = raw.loadUnaligned(fromByteOffset: offset, as: inotify_event.self)
                    let start = offset + MemoryLayout<inotify_event>.size
                    let bytes = raw[start..<(start + Int(event.len))].prefix { $0 != 0 }
                    return (Int(event.len), String(decoding: bytes, as: UTF8.self))
                }
                names.append(name)
                offset += MemoryLayout<inotify_event>.size + length
            }
        }
        return names
    }

    deinit { close(descriptor) }
}

public enum WatchError: Error { case setup(String) }
