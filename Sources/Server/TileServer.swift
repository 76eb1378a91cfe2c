import Catalog
import Foundation
import Hummingbird
import Logging
import NIOCore
import Scheduler
import Tiles
import Tiling

/// The HTTP front of the scheduler: routes of the API contract over `Scheduler`, `RasterLibrary` and
/// `Accounts`. Thin: every route is a few lines of mapping.
public struct TileServer: Sendable {
    public struct Settings: Sendable {
        public var host: String
        public var port: Int
        public var basePath: String
        public var maxUploadBytes: Int64
        public var sessionLifetime: TimeInterval
        public var clients: ClientLimits
        public var loginThrottle: LoginThrottle.Policy

        public init(host: String = "127.0.0.1", port: Int = 8080, basePath: String = "",
                    maxUploadBytes: Int64 = 4 << 30, sessionLifetime: TimeInterval = 12 * 3600,
                    clients: ClientLimits = ClientLimits(), loginThrottle: LoginThrottle.Policy = LoginThrottle.Policy()) {
            self.host = host
            self.port = port
            self.basePath = basePath
            self.maxUploadBytes = maxUploadBytes
            self.sessionLifetime = sessionLifetime
            self.clients = clients
            self.loginThrottle = loginThrottle
        }
    }

    let settings: Settings
    let library: RasterLibrary
    let scheduler: Scheduler
    let accounts: Accounts
    let logger: Logger
    let loginThrottle: LoginThrottle
    let redactor: PathRedactor
    let tiles: TileService

    public init(settings: Settings, library: RasterLibrary, scheduler: Scheduler, accounts: Accounts, logger: Logger) {
        self.settings = settings
        self.library = library
        self.scheduler = scheduler
        self.accounts = accounts
        self.logger = logger
        loginThrottle = LoginThrottle(policy: settings.loginThrottle)
        redactor = PathRedactor(root: library.root)
        tiles = TileService(store: library.store, workers: RenderWorkers(),
                            overviews: CatalogOverviews(folder: library.overviewFolder),
                            absolutePath: { [library] in library.absolutePath(of: $0) })
    }

    /// Starts the scheduler, serves until SIGTERM or SIGINT, then lets the scheduler re-queue running tasks.
    /// `onRunning` receives the bound port (useful with port 0).
    public func run(onRunning: @escaping @Sendable (Int) -> Void = { _ in }) async throws {
        let router = Router(context: AppContext.self)
        router.add(middleware: JSONErrorMiddleware(redactor: redactor))
        let base = settings.basePath.trimmingCharacters(in: CharacterSet(charactersIn: "/"))
        let root = base.isEmpty ? router.group() : router.group(RouterPath(base))
        addOperationRoutes(root)
        addAccountRoutes(root)
        let authenticated = root.group().add(middleware: AuthMiddleware(accounts: accounts))
        addUploadRoutes(authenticated)
        addSchedulerRoutes(authenticated)
        addLayerRoutes(authenticated)
        addMapTileRoutes(authenticated)

        // Leftovers of a dead process go before the scheduler re-runs its tasks, which stage files
        // under the same names.
        prepareForClients()
        try await scheduler.start()
        let sweeper = Task { [library, accounts, logger, settings] in
            // Often enough that a temp catalog outlives its session by at most a quarter of a session.
            let interval = Duration.milliseconds(Int64(min(60, max(0.1, settings.sessionLifetime / 4)) * 1000))
            while (try? await Task.sleep(for: interval)) != nil {
                for user in (try? accounts.store.expireSessions()) ?? [] {
                    do {
                        try await Blocking.run { try library.deleteTemporaryCatalogs(of: user) }
                        logger.info("session expired; temp catalogs removed", metadata: ["user": "\(user)"])
                    } catch {
                        logger.warning("session expired; removing temp catalogs failed",
                                       metadata: ["user": "\(user)", "error": "\(error)"])
                    }
                }
            }
        }
        let overviewUpkeep = Task { [logger, tiles] in
            while (try? await Task.sleep(for: .seconds(1))) != nil {
                do {
                    for name in try await Blocking.run({ try tiles.refreshOverviews() }) {
                        logger.info("map overview rebuilt", metadata: ["catalog": "\(name)"])
                    }
                } catch {
                    logger.warning("map overview upkeep failed", metadata: ["error": "\(error)"])
                }
            }
        }
        let app = Application(
            router: router,
            server: .http1(configuration: settings.clients.http1Configuration(
                counter: ConnectionCounter(limit: settings.clients.maxConnections,
                                           perAddress: settings.clients.maxConnectionsPerAddress))),
            configuration: .init(address: .hostname(settings.host, port: settings.port), serverName: "tile"),
            onServerRunning: { channel in onRunning(channel.localAddress?.port ?? 0) },
            logger: logger)
        var failure: (any Error)?
        do {
            try await app.runService()
        } catch {
            failure = error
        }
        // Everything that uses the catalog store stops before the caller closes it.
        sweeper.cancel()
        overviewUpkeep.cancel()
        await sweeper.value
        await overviewUpkeep.value
        await scheduler.shutdown()
        await tiles.stop()
        if let failure { throw failure }
    }

    // MARK: Accounts

    func addAccountRoutes(_ group: RouterGroup<AppContext>) {
        let login: @Sendable (Request, AppContext) async throws -> Response = { request, context in
            let body = try await request.jsonBody(limit: 64 << 10)
            guard case let .object(fields) = body, case let .string(username)? = fields["username"],
                  case let .string(password)? = fields["password"] else {
                throw APIError.badRequest("send {\"username\": ..., \"password\": ...}")
            }
            // User names are at most 50 characters: a longer one is cut so it cannot fill memory.
            let (user, address) = (String(decoding: username.utf8.prefix(64), as: UTF8.self), context.clientAddress)
            if let wait = loginThrottle.attempt(user: user, address: address) {
                throw APIError.tooManyLogins(retryAfter: wait)
            }
            guard let token = try await accounts.login(username: username, password: password) else {
                throw APIError(.unauthorized, "unauthorized", "wrong user name or password")
            }
            loginThrottle.succeeded(user: user, address: address)
            let cookie = "\(Accounts.cookieName)=\(token); Path=/; HttpOnly; SameSite=Lax; "
                + "Max-Age=\(Int(settings.sessionLifetime))"
            return JSONResponse.make(.object(["token": .string(token), "username": .string(username)]),
                                     headers: [.setCookie: cookie])
        }
        group.post("account/login", use: login)
        group.group().add(middleware: AuthMiddleware(accounts: accounts)).post("account/logout") { _, context in
            let user = try context.requireUser()
            if let session = context.sessionID { try accounts.store.removeSession(id: session) }
            try await Blocking.run { [library] in try library.deleteTemporaryCatalogs(of: user) }
            return JSONResponse.make(.object(["username": .string(user), "loggedOut": .bool(true)]),
                                     headers: [.setCookie: "\(Accounts.cookieName)=; Path=/; HttpOnly; SameSite=Lax; Max-Age=0"])
        }
    }

    // MARK: Operations

    func addOperationRoutes(_ group: RouterGroup<AppContext>) {
        group.get("health") { _, _ in JSONResponse.make(.object(["status": .string("ok")])) }
        group.get("metrics") { _, _ in
            let metrics = try await scheduler.metrics()
            var lines = ["# HELP tile_tasks Tasks by status.", "# TYPE tile_tasks gauge"]
            for status in TaskStatus.allCases {
                lines.append("tile_tasks{status=\"\(status.rawValue)\"} \(metrics.tasksByStatus[status] ?? 0)")
            }
            lines += [
                "# HELP tile_task_duration_seconds Wall time of finished tasks since this process started.",
                "# TYPE tile_task_duration_seconds summary",
                "tile_task_duration_seconds_sum \(metrics.durationSecondsSum)",
                "tile_task_duration_seconds_count \(metrics.durationCount)",
                "# HELP tile_bytes_written_total Bytes of rasters stored since this process started.",
                "# TYPE tile_bytes_written_total counter",
                "tile_bytes_written_total \(metrics.bytesWritten)",
                "# HELP tile_tasks_running Tasks running now.", "# TYPE tile_tasks_running gauge",
                "tile_tasks_running \(metrics.running)",
                "# HELP tile_tasks_queued Tasks waiting for a worker.", "# TYPE tile_tasks_queued gauge",
                "tile_tasks_queued \(metrics.queued)",
            ]
            return Response(status: .ok, headers: [.contentType: "text/plain; version=0.0.4"],
                            body: ResponseBody(byteBuffer: ByteBuffer(string: lines.joined(separator: "\n") + "\n")))
        }
    }
}
