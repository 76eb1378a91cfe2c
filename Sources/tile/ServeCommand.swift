import ArgumentParser
import Foundation
import Logging
import Raster
import Scheduler
import Server
import Tiling

struct ServeCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "serve",
        abstract: "Run the HTTP task scheduler (tiling, copy and pipeline tasks) on a data directory.",
        discussion: "Embedded default: tasks and users in DIR/tasks.sqlite, catalogs in DIR/catalog.gpkg, rasters "
            + "and uploads under DIR. Prints \"listening on http://HOST:PORT\" once it accepts connections. "
            + "SIGTERM or Ctrl-C stops it gracefully: running tasks are interrupted cleanly and run again at the "
            + "next start.")

    @OptionGroup var data: DataDirectoryOption
    @Option(name: .long, help: "Address to listen on.") var host = "127.0.0.1"
    @Option(name: .long, help: "Port (0: any free port).") var port = 8080
    @Option(help: "Tasks run at once (defaults to the number of cores).") var workers = ProcessInfo.processInfo.activeProcessorCount
    @Option(help: "Files of one task processed at once.") var jobs = 1
    @Option(help: "A path prefix for every route, e.g. /sp.") var basePath = ""
    @Option(help: "Seconds a task may run before it ends as Timeout.") var taskTimeout: Double = 3600
    @Option(help: "Largest upload per file, in MiB.") var maxUploadMb: Int64 = 4096
    @Option(help: "Hours a login session lasts.") var sessionHours: Double = 12
    @OptionGroup(title: "Limits on uploaded rasters") var limits: RasterLimitArguments
    @Option(help: "Seconds a client has to send a complete request head (in total, not per byte).")
    var headerTimeout: Double = 30
    @Option(help: "Seconds a request body (an upload) may stay silent, or a client may read nothing of an answer, before the connection is dropped.")
    var bodyIdleTimeout: Double = 60
    @Option(help: "Open connections at most; past it new connections are closed at once.")
    var maxConnections = 1024
    @Option(help: "Open connections from one client address at most (loopback included); past it that address's new connections are closed at once.")
    var maxConnectionsPerAddress = 64
    @Option(help: "Files one task may name (over all the steps of a pipeline); more is refused with 400.")
    var maxFilesPerTask = 10_000
    @Option(help: "Unfinished (Scheduled, Planning, Executing) tasks one user may have; a new task past it is refused with 429.")
    var maxQueuedTasksPerUser = 20
    @Option(help: "GDAL's block cache in MiB (default: GDAL_CACHEMAX if set, else 16; map tiles and imports run as fast with it as with 128, in far less memory).")
    var gdalCacheMb: Int?

    func validate() throws {
        guard (0...65535).contains(port) else { throw ValidationError("--port must be 0...65535") }
        guard workers >= 1, jobs >= 1 else { throw ValidationError("--workers and --jobs must be at least 1") }
        guard taskTimeout > 0, maxUploadMb > 0, sessionHours > 0 else {
            throw ValidationError("--task-timeout, --max-upload-mb and --session-hours must be positive")
        }
        guard headerTimeout > 0, bodyIdleTimeout > 0, maxConnections >= 1 else {
            throw ValidationError("--header-timeout and --body-idle-timeout must be positive, --max-connections at least 1")
        }
        guard (gdalCacheMb ?? 1) >= 1 else { throw ValidationError("--gdal-cache-mb must be at least 1") }
        guard maxConnectionsPerAddress >= 1, maxFilesPerTask >= 1, maxQueuedTasksPerUser >= 1 else {
            throw ValidationError("--max-connections-per-address, --max-files-per-task and --max-queued-tasks-per-user "
                + "must be at least 1")
        }
    }

    func run() async throws {
        LoggingSystem.bootstrap(StreamLogHandler.standardError)
        var logger = Logger(label: "tile")
        logger.logLevel = ProcessInfo.processInfo.environment["LOG_LEVEL"].flatMap { Logger.Level(rawValue: $0) } ?? .info
        if let megabytes = gdalCacheMb ?? (ProcessInfo.processInfo.environment["GDAL_CACHEMAX"] == nil ? 16 : nil) {
            GDALRuntime.setBlockCache(megabytes: megabytes)
        }
        let library = try RasterLibrary(directory: data.dataDir)
        defer { library.close() }
        if !library.recovery.isEmpty { logger.notice("recovered an interrupted import", metadata: ["what": "\(library.recovery)"]) }
        let store = try TaskStore(library: library)
        let accounts = await Accounts(store: store, secret: try Accounts.secret(in: library.root),
                                      sessionLifetime: sessionHours * 3600)
        var executor = TilingExecutor(library: library, jobs: jobs, limits: limits.limits)
        executor.maxFilesPerTask = maxFilesPerTask
        let scheduler = Scheduler(
            store: store, handler: RasterTaskHandler(executor: executor),
            settings: .init(workers: workers, taskTimeLimit: .milliseconds(Int64(taskTimeout * 1000)),
                            maxUnfinishedTasksPerUser: maxQueuedTasksPerUser),
            logger: logger)
        let clients = ClientLimits(headerTimeout: .milliseconds(Int64(headerTimeout * 1000)),
                                   bodyIdleTimeout: .milliseconds(Int64(bodyIdleTimeout * 1000)),
                                   maxConnections: maxConnections, maxConnectionsPerAddress: maxConnectionsPerAddress)
        let settings = TileServer.Settings(host: host, port: port, basePath: basePath,
                                           maxUploadBytes: maxUploadMb << 20, sessionLifetime: sessionHours * 3600,
                                           clients: clients)
        let host = self.host
        try await TileServer(settings: settings, library: library, scheduler: scheduler, accounts: accounts, logger: logger)
            .run { port in
                // Written unbuffered: scripts wait for this line to know the port.
                FileHandle.standardOutput.write(Data("listening on http://\(host):\(port)\n".utf8))
            }
    }
}

struct UsersCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "users", abstract: "Manage the server's users.", subcommands: [Add.self, List.self])

    struct Add: AsyncParsableCommand {
        static let configuration = CommandConfiguration(abstract: "Create a user (or, with --update, set a new password).")
        @OptionGroup var data: DataDirectoryOption
        @Argument(help: "The user name (also the user's catalog namespace).") var name: String
        @Flag(help: "Read the password from standard input.") var passwordStdin = false
        @Flag(help: "Change the password of an existing user.") var update = false

        func run() async throws {
            guard passwordStdin else { throw ValidationError("give the password on standard input with --password-stdin") }
            do {
                try Accounts.validateUserName(name)
            } catch {
                throw ValidationError("\(error)")
            }
            let password = (readLine(strippingNewline: true) ?? "")
            if let problem = Accounts.passwordProblem(password) { throw ValidationError(problem) }
            let library = try RasterLibrary(directory: data.dataDir)
            defer { library.close() }
            let store = try TaskStore(library: library)
            let exists = try store.passwordHash(of: name) != nil
            if exists != update {
                throw ValidationError(exists ? "user \(name) exists (use --update to change the password)"
                                             : "no user \(name) to update")
            }
            let hash = Accounts.hash(password: password)
            if update { try store.setPassword(name, passwordHash: hash) } else { try store.addUser(name, passwordHash: hash) }
            print(update ? "password of \(name) changed" : "user \(name) created")
        }
    }

    struct List: AsyncParsableCommand {
        static let configuration = CommandConfiguration(abstract: "List the users.")
        @OptionGroup var data: DataDirectoryOption

        func run() async throws {
            guard let library = try data.existingLibraryIfStarted() else { return }
            defer { library.close() }
            for user in try TaskStore(library: library).users() { print(user) }
        }
    }
}
