import Catalog
import Foundation
import Hummingbird
import HummingbirdBcrypt
import JWTKit
import Scheduler
import Tiling

/// Users, passwords (bcrypt) and login sessions (JWT, HMAC-SHA256). A token is valid while its session
/// exists: logout deletes the session, so the token stops working at once.
public final class Accounts: Sendable {
    struct SessionClaims: JWTPayload {
        var sub: SubjectClaim
        var exp: ExpirationClaim
        var jti: IDClaim

        func verify(using algorithm: some JWTAlgorithm) async throws {
            try exp.verifyNotExpired()
        }
    }

    public static let cookieName = "token"
    let store: TaskStore
    let keys: JWTKeyCollection
    let sessionLifetime: TimeInterval

    public init(store: TaskStore, secret: String, sessionLifetime: TimeInterval) async {
        self.store = store
        self.sessionLifetime = sessionLifetime
        keys = JWTKeyCollection()
        await keys.add(hmac: HMACKey(from: secret), digestAlgorithm: .sha256)
    }

    /// The JWT signing secret kept in the data directory, created (mode 0600) at first start.
    public static func secret(in directory: URL) throws -> String {
        let file = directory.appendingPathComponent("jwt-secret")
        if let existing = try? String(contentsOf: file, encoding: .utf8), existing.count >= 32 {
            return existing.trimmingCharacters(in: .whitespacesAndNewlines)
        }
        var generator = SystemRandomNumberGenerator()
        let secret = (0..<32).map { _ in String(format: "%02x", UInt8.random(in: 0...255, using: &generator)) }.joined()
        guard FileManager.default.createFile(atPath: file.path, contents: Data(secret.utf8),
                                             attributes: [.posixPermissions: 0o600]) else {
            throw CocoaError(.fileWriteNoPermission, userInfo: [NSFilePathErrorKey: file.path])
        }
        return secret
    }

    /// User names are catalog namespaces, and so prefixes of table names (`alice__images`): lower case
    /// (table names are compared case-insensitively), no `__` and no trailing `_` (the prefix must end
    /// unambiguously), nothing the store reserves for itself; `temp` is the scratch namespace.
    public static func validateUserName(_ name: String) throws {
        let allowed = name.unicodeScalars.allSatisfy { ("a"..."z").contains($0) || ("0"..."9").contains($0) || $0 == "_" }
        guard !name.isEmpty, name.count <= 50, allowed, !("0"..."9").contains(name.unicodeScalars.first!) else {
            throw TaskRequestError.badRequest(
                field: "username", message: "use lowercase letters, digits and underscores, starting with a letter, "
                    + "at most 50 characters")
        }
        guard !name.hasPrefix(CatalogName.temporaryNamespace) else {
            throw TaskRequestError.badRequest(field: "username", message: "names starting with \"temp\" are reserved")
        }
        if let problem = TableName.namespaceProblem(name) {
            throw TaskRequestError.badRequest(field: "username", message: "a user name \(problem)")
        }
    }

    public static func hash(password: String) -> String { Bcrypt.hash(password, cost: 10) }

    /// bcrypt reads at most 72 bytes and stops at NUL: anything past either would be silently ignored,
    /// so a longer password (or one with NUL) could be replaced by its prefix.
    public static let maximumPasswordBytes = 72
    public static let minimumPasswordCharacters = 8

    /// Why a new password cannot be stored, or nil when it can.
    public static func passwordProblem(_ password: String) -> String? {
        if password.utf8.contains(0) { return "the password must not contain a NUL character" }
        if password.utf8.count > maximumPasswordBytes {
            return "the password is \(password.utf8.count) bytes long in UTF-8; bcrypt uses at most "
                + "\(maximumPasswordBytes) bytes, so use a shorter one"
        }
        if password.count < minimumPasswordCharacters {
            return "the password needs at least \(minimumPasswordCharacters) characters"
        }
        return nil
    }

    /// A password bcrypt could compare in full: no NUL, at most 72 bytes.
    static func isVerifiable(_ password: String) -> Bool {
        !password.utf8.contains(0) && password.utf8.count <= maximumPasswordBytes
    }

    /// A token for `username`, or nil when the user or the password is wrong (the same either way).
    func login(username: String, password: String) async throws -> String? {
        // bcrypt would compare only a prefix of such a password: refuse it without verifying.
        guard Self.isVerifiable(password) else { return nil }
        let hash = try store.passwordHash(of: username)
        // Verify against a dummy hash for unknown users, so the answer takes the same time.
        let verified = await Blocking.verify(password, hash: hash ?? Self.dummyHash)
        guard hash != nil, verified else { return nil }
        let session = UUID().uuidString.lowercased()
        let expires = Date().addingTimeInterval(sessionLifetime)
        try store.addSession(id: session, user: username, expires: expires)
        return try await keys.sign(SessionClaims(sub: .init(value: username), exp: .init(value: expires),
                                                 jti: .init(value: session)))
    }

    /// The user and session of a valid token, nil otherwise.
    func authenticate(token: String) async -> (user: String, session: String)? {
        guard let claims = try? await keys.verify(token, as: SessionClaims.self),
              (try? store.isSessionLive(id: claims.jti.value, user: claims.sub.value)) == true else { return nil }
        return (claims.sub.value, claims.jti.value)
    }

    private static let dummyHash = Bcrypt.hash("not a password", cost: 10)
}

extension Blocking {
    static func verify(_ password: String, hash: String) async -> Bool {
        (try? await run { Bcrypt.verify(password, hash: hash) }) ?? false
    }
}

/// Sets `context.user` from `Authorization: Bearer TOKEN`, the `token` cookie or, on map routes,
/// `?access_token=`; 401 without one.
struct AuthMiddleware: RouterMiddleware {
    let accounts: Accounts

    func handle(_ request: Request, context: AppContext,
                next: (Request, AppContext) async throws -> Response) async throws -> Response {
        guard let token = try Self.token(in: request), let session = await accounts.authenticate(token: token) else {
            throw APIError.unauthorized
        }
        var context = context
        context.user = session.user
        context.sessionID = session.session
        return try await next(request, context)
    }

    /// The RFC 6750 query parameter map clients without headers (a QGIS XYZ layer, an image URL)
    /// authenticate with; only map routes take it, as a token in a URL ends up in logs and history.
    static let accessTokenParameter = "access_token"

    static func token(in request: Request) throws -> String? {
        try headerToken(in: request) ?? queryToken(in: request)
    }

    /// A Bearer token or the session cookie.
    static func headerToken(in request: Request) -> String? {
        if let header = request.headers[.authorization], header.lowercased().hasPrefix("bearer ") {
            return String(header.dropFirst(7)).trimmingCharacters(in: .whitespaces)
        }
        for cookieHeader in request.headers[values: .cookie] {
            for pair in cookieHeader.split(separator: ";") {
                let parts = pair.trimmingCharacters(in: .whitespaces).split(separator: "=", maxSplits: 1)
                if parts.count == 2, parts[0] == Accounts.cookieName { return String(parts[1]) }
            }
        }
        return nil
    }

    /// `?access_token=` on a GET of a map route (tiles, TileJSON, WMTS capabilities); a malformed
    /// query string there is a 400, not a missing token.
    static func queryToken(in request: Request) throws -> String? {
        guard request.method == .get, isMapRoute(request.uri.path) else { return nil }
        return try request.queryParameters().get(accessTokenParameter)
    }

    /// `…/layers/NAME[/features/ID]/tiles/Z/X/Y`, `…/tilejson.json` or `…/layers/NAME/WMTSCapabilities.xml`,
    /// matched by segments from the end (a base path may come before).
    static func isMapRoute(_ path: String) -> Bool {
        let segments = path.split(separator: "/", omittingEmptySubsequences: false).map(String.init)
        func ends(with pattern: [String?]) -> Bool {
            guard segments.count > pattern.count else { return false }
            return zip(segments.suffix(pattern.count), pattern).allSatisfy { segment, expected in
                expected.map { segment == $0 } ?? !segment.isEmpty
            }
        }
        let layer: [String?] = ["layers", nil], item: [String?] = ["layers", nil, "features", nil]
        return ends(with: layer + ["tiles", nil, nil, nil]) || ends(with: item + ["tiles", nil, nil, nil])
            || ends(with: layer + ["tilejson.json"]) || ends(with: item + ["tilejson.json"])
            || ends(with: layer + ["WMTSCapabilities.xml"])
    }
}
