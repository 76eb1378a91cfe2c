import Hummingbird
import NIOCore

/// Per-request state: who is calling (set by `AuthMiddleware`) and from which address.
struct AppContext: RequestContext {
    var coreContext: CoreRequestContextStorage
    var user: String?
    var sessionID: String?
    /// The peer of the TCP connection (never a forwarded-for header, which any client can forge).
    let remoteAddress: SocketAddress?

    init(source: Source) {
        coreContext = .init(source: source)
        remoteAddress = source.channel.remoteAddress
    }

    func requireUser() throws -> String {
        guard let user else { throw APIError.unauthorized }
        return user
    }

    /// The client's IP address without the port, the key for per-address limits.
    var clientAddress: String {
        remoteAddress?.ipAddress ?? remoteAddress?.description ?? "unknown"
    }
}
