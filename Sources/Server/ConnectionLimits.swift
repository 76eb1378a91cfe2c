import Foundation
import Hummingbird
import HummingbirdCore
import Logging
import NIOCore
import NIOHTTPTypes
import Synchronization

/// How long a client may take, and how many may be connected at once.
public struct ClientLimits: Sendable {
    /// From the connection opening (or the end of the previous answer) to the last byte of a request head.
    /// A total, not per byte: a client trickling its head one byte at a time is dropped all the same.
    public var headerTimeout: Duration
    /// Longest silence within a request body (an upload whose client stopped sending), and longest
    /// wait for a client to read more of an answer.
    public var bodyIdleTimeout: Duration
    /// Open connections at most; past it a new connection is closed at once.
    public var maxConnections: Int
    /// Open connections from one client address at most (loopback included); past it that address's
    /// new connections are closed at once, so one client cannot take every slot of `maxConnections`.
    public var maxConnectionsPerAddress: Int

    public init(headerTimeout: Duration = .seconds(30), bodyIdleTimeout: Duration = .seconds(60),
                maxConnections: Int = 1024, maxConnectionsPerAddress: Int = 64) {
        self.headerTimeout = headerTimeout
        self.bodyIdleTimeout = bodyIdleTimeout
        self.maxConnections = maxConnections
        self.maxConnectionsPerAddress = maxConnectionsPerAddress
    }

    /// The HTTP/1 channel with both handlers in every connection's pipeline.
    func http1Configuration(counter: ConnectionCounter) -> HTTP1Channel.Configuration {
        HTTP1Channel.Configuration(additionalChannelHandlers: [
            ConnectionLimitHandler(counter: counter),
            SlowClientHandler(headerTimeout: TimeAmount(headerTimeout), bodyIdleTimeout: TimeAmount(bodyIdleTimeout)),
        ])
    }
}

/// Open connections, in all and per client address, shared by all event loops.
final class ConnectionCounter: Sendable {
    private struct Counts {
        var total = 0
        /// Only addresses with an open connection: the table is never larger than `limit`.
        var byAddress: [String: Int] = [:]
    }

    let limit: Int
    let perAddress: Int
    private let open = Mutex(Counts())

    init(limit: Int, perAddress: Int = .max) {
        self.limit = limit
        self.perAddress = perAddress
    }

    /// Counts a new connection from `address`, or returns false when either limit is reached.
    func admit(address: String = "") -> Bool {
        open.withLock { counts in
            guard counts.total < limit, counts.byAddress[address, default: 0] < perAddress else { return false }
            counts.total += 1
            counts.byAddress[address, default: 0] += 1
            return true
        }
    }

    func release(address: String = "") {
        open.withLock { counts in
            counts.total -= 1
            let left = counts.byAddress[address, default: 1] - 1
            counts.byAddress[address] = left > 0 ? left : nil
        }
    }
}

/// Closes a connection at once when `ConnectionCounter` is full, in all or for the client's address;
/// otherwise counts it until it closes.
final class ConnectionLimitHandler: ChannelInboundHandler, RemovableChannelHandler {
    typealias InboundIn = HTTPRequestPart
    typealias InboundOut = HTTPRequestPart

    private let counter: ConnectionCounter
    private var decided = false

    init(counter: ConnectionCounter) {
        self.counter = counter
    }

    func handlerAdded(context: ChannelHandlerContext) {
        if context.channel.isActive { admit(context) }
    }

    func channelActive(context: ChannelHandlerContext) {
        context.fireChannelActive()
        admit(context)
    }

    private func admit(_ context: ChannelHandlerContext) {
        guard !decided else { return }
        decided = true
        let address = context.channel.remoteAddress?.ipAddress ?? ""
        if counter.admit(address: address) {
            context.channel.closeFuture.whenComplete { [counter] _ in counter.release(address: address) }
        } else {
            context.close(promise: nil)
        }
    }
}

/// Closes the connection of a client that is too slow: the request head is not complete within
/// `headerTimeout` of the connection opening or of the previous answer's end, the request body has
/// been silent for `bodyIdleTimeout`, or an answer could not be sent for `bodyIdleTimeout` because the
/// client stopped reading. While the server is working on an answer no timer runs.
final class SlowClientHandler: ChannelDuplexHandler, RemovableChannelHandler {
    typealias InboundIn = HTTPRequestPart
    typealias InboundOut = HTTPRequestPart
    typealias OutboundIn = HTTPResponsePart
    typealias OutboundOut = HTTPResponsePart

    private let headerTimeout: TimeAmount
    private let bodyIdleTimeout: TimeAmount
    private var started = false
    private var readingRequest = false
    private var unansweredRequests = 0
    private var timer: Scheduled<Void>?

    init(headerTimeout: TimeAmount, bodyIdleTimeout: TimeAmount) {
        self.headerTimeout = headerTimeout
        self.bodyIdleTimeout = bodyIdleTimeout
    }

    func handlerAdded(context: ChannelHandlerContext) {
        if context.channel.isActive { start(context) }
    }

    func handlerRemoved(context: ChannelHandlerContext) {
        cancelTimer()
    }

    func channelActive(context: ChannelHandlerContext) {
        start(context)
        context.fireChannelActive()
    }

    func channelInactive(context: ChannelHandlerContext) {
        cancelTimer()
        context.fireChannelInactive()
    }

    func channelRead(context: ChannelHandlerContext, data: NIOAny) {
        switch unwrapInboundIn(data) {
        case .head:
            readingRequest = true
            unansweredRequests += 1
            arm(context, bodyIdleTimeout)
        case .body:
            arm(context, bodyIdleTimeout)
        case .end:
            readingRequest = false
            cancelTimer()
        }
        context.fireChannelRead(data)
    }

    /// Unwritable means the client stopped reading an answer (a slow-read attack, or a dead peer).
    func channelWritabilityChanged(context: ChannelHandlerContext) {
        if !context.channel.isWritable {
            arm(context, bodyIdleTimeout)
        } else if !readingRequest, unansweredRequests > 0 {
            cancelTimer()
        }
        context.fireChannelWritabilityChanged()
    }

    func write(context: ChannelHandlerContext, data: NIOAny, promise: EventLoopPromise<Void>?) {
        if case .end = unwrapOutboundIn(data) {
            unansweredRequests = max(0, unansweredRequests - 1)
            // The answer is out: the client has `headerTimeout` for its next request (keep-alive).
            if unansweredRequests == 0, !readingRequest { arm(context, headerTimeout) }
        }
        context.write(data, promise: promise)
    }

    private func start(_ context: ChannelHandlerContext) {
        guard !started else { return }
        started = true
        arm(context, headerTimeout)
    }

    private func arm(_ context: ChannelHandlerContext, _ delay: TimeAmount) {
        cancelTimer()
        timer = context.eventLoop.assumeIsolated().scheduleTask(in: delay) {
            context.close(promise: nil)
        }
    }

    private func cancelTimer() {
        timer?.cancel()
        timer = nil
    }
}

extension TimeAmount {
    init(_ duration: Duration) {
        let (seconds, attoseconds) = duration.components
        self = .nanoseconds(seconds * 1_000_000_000 + attoseconds / 1_000_000_000)
    }
}

/// The process's open-file limit, raised so that the connection cap can be reached.
public enum FileDescriptorLimit {
    /// Raises the soft limit to the hard limit (or to `needed` when the hard limit is unlimited).
    /// Returns the soft limit in force afterwards.
    @discardableResult
    public static func raise(toAtLeast needed: Int) -> Int {
        var limit = rlimit()
        guard getrlimit(resource, &limit) == 0 else { return needed }
        let target = limit.rlim_max == rlim_t.max ? max(limit.rlim_cur, rlim_t(needed)) : limit.rlim_max
        if target > limit.rlim_cur {
            var raised = limit
            raised.rlim_cur = target
            if setrlimit(resource, &raised) == 0 { limit = raised }
        }
        return limit.rlim_cur >= rlim_t(Int.max) ? Int.max : Int(limit.rlim_cur)
    }

    #if canImport(Glibc)
    private static let resource = __rlimit_resource_t(RLIMIT_NOFILE.rawValue)
    #else
    private static let resource = RLIMIT_NOFILE
    #endif
}
