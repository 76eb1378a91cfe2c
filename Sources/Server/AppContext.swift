import Hummingbird

/// Per-request state: who is calling (set by `AuthMiddleware`).
struct AppContext: RequestContext {
    var coreContext: CoreRequestContextStorage
    var user: String?
    var sessionID: String?

    init(source: Source) {
        coreContext = .init(source: source)
    }

    func requireUser() throws -> String {
        guard let user else { throw APIError.unauthorized }
        return user
    }
}
