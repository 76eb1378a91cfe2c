import Catalog
import Foundation
import GRDB
import Tiling

/// A task as stored: what was asked, by whom, where it is.
public struct TaskRecord: Sendable, Equatable {
    public var id: String
    public var owner: String
    public var type: String
    public var parameters: JSONValue
    public var status: TaskStatus
    public var progress: TaskProgress?
    public var createdDate: String
    public var startedDate: String?
    public var completedDate: String?

    /// `GET /scheduler/{id}`: the parameters carry their `type`.
    public var apiObject: JSONValue {
        var parameters = self.parameters
        if case var .object(fields) = parameters {
            fields["type"] = .string(type)
            parameters = .object(fields)
        }
        return .object([
            "id": .string(id), "owner": .string(owner), "status": .string(status.rawValue), "parameters": parameters,
            "createdDate": .string(createdDate), "startedDate": startedDate.map(JSONValue.string) ?? .null,
            "completedDate": completedDate.map(JSONValue.string) ?? .null,
        ])
    }
}

public enum TaskStoreError: Error, CustomStringConvertible {
    case newerSchema

    public var description: String {
        "the task store was written by a newer release (its schema has migrations this one does not know); "
            + "use a newer tile"
    }
}

/// Durable state in one SQLite file: users, login sessions and tasks with their progress.
public final class TaskStore: Sendable {
    private let database: DatabaseQueue

    /// The task store of a data directory.
    public convenience init(library: RasterLibrary) throws {
        try self.init(path: library.root.appendingPathComponent("tasks.sqlite").path)
    }

    public init(path: String) throws {
        var configuration = Configuration()
        configuration.busyMode = .timeout(10)
        database = try DatabaseQueue(path: path, configuration: configuration)
        var migrator = DatabaseMigrator()
        migrator.registerMigration("v1") { db in
            try db.create(table: "user") { table in
                table.primaryKey("name", .text)
                table.column("passwordHash", .text).notNull()
                table.column("createdDate", .text).notNull()
            }
            try db.create(table: "session") { table in
                table.primaryKey("id", .text)
                table.column("user", .text).notNull().indexed()
                table.column("expires", .double).notNull()
            }
            try db.create(table: "task") { table in
                table.autoIncrementedPrimaryKey("seq")
                table.column("id", .text).notNull().unique()
                table.column("owner", .text).notNull().indexed()
                table.column("type", .text).notNull()
                table.column("parameters", .text).notNull()
                table.column("status", .text).notNull()
                table.column("progress", .text)
                table.column("createdDate", .text).notNull()
                table.column("startedDate", .text)
                table.column("completedDate", .text)
            }
        }
        // Each release appends migrations here; a data folder migrated by a newer release is refused
        // rather than written with a schema this one does not know.
        migrator.registerMigration("v2-status-index") { db in
            try db.execute(sql: "CREATE INDEX IF NOT EXISTS task_status ON task (status)")
        }
        let superseded = try database.read { db in try migrator.hasBeenSuperseded(db) }
        guard !superseded else { throw TaskStoreError.newerSchema }
        try migrator.migrate(database)
        // A process killed while SQLite committed can leave a rollback journal whose header is already
        // cleared; SQLite deletes it at the end of the next write.
        if FileManager.default.fileExists(atPath: path + "-journal") {
            try? database.write { db in try db.execute(sql: "UPDATE grdb_migrations SET identifier = identifier") }
        }
    }

    /// The migrations applied to the store, oldest first.
    public func appliedMigrations() throws -> [String] {
        try database.read { db in
            try String.fetchAll(db, sql: "SELECT identifier FROM grdb_migrations ORDER BY rowid")
        }
    }

    // MARK: Users and sessions

    public func addUser(_ name: String, passwordHash: String) throws {
        try database.write { db in
            try db.execute(sql: "INSERT INTO user (name, passwordHash, createdDate) VALUES (?, ?, ?)",
                           arguments: [name, passwordHash, ISO8601.format(Date())])
        }
    }

    public func setPassword(_ name: String, passwordHash: String) throws {
        try database.write { db in
            try db.execute(sql: "UPDATE user SET passwordHash = ? WHERE name = ?", arguments: [passwordHash, name])
        }
    }

    public func passwordHash(of name: String) throws -> String? {
        try database.read { db in
            try String.fetchOne(db, sql: "SELECT passwordHash FROM user WHERE name = ?", arguments: [name])
        }
    }

    public func users() throws -> [String] {
        try database.read { db in try String.fetchAll(db, sql: "SELECT name FROM user ORDER BY name") }
    }

    public func addSession(id: String, user: String, expires: Date) throws {
        try database.write { db in
            try db.execute(sql: "INSERT INTO session (id, user, expires) VALUES (?, ?, ?)",
                           arguments: [id, user, expires.timeIntervalSince1970])
        }
    }

    public func isSessionLive(id: String, user: String, now: Date = Date()) throws -> Bool {
        try database.read { db in
            try Bool.fetchOne(db, sql: "SELECT COUNT(*) > 0 FROM session WHERE id = ? AND user = ? AND expires > ?",
                              arguments: [id, user, now.timeIntervalSince1970]) ?? false
        }
    }

    public func removeSession(id: String) throws {
        try database.write { db in try db.execute(sql: "DELETE FROM session WHERE id = ?", arguments: [id]) }
    }

    /// Removes expired sessions; returns the users left with no live session.
    public func expireSessions(now: Date = Date()) throws -> [String] {
        try database.write { db in
            let users = try String.fetchAll(db, sql: "SELECT DISTINCT user FROM session WHERE expires <= ?",
                                            arguments: [now.timeIntervalSince1970])
            try db.execute(sql: "DELETE FROM session WHERE expires <= ?", arguments: [now.timeIntervalSince1970])
            return try users.filter { user in
                try Int.fetchOne(db, sql: "SELECT COUNT(*) FROM session WHERE user = ?", arguments: [user]) == 0
            }
        }
    }

    // MARK: Tasks

    public func insert(_ record: TaskRecord) throws {
        try database.write { db in
            try db.execute(
                sql: """
                INSERT INTO task (id, owner, type, parameters, status, progress, createdDate, startedDate, completedDate)
                VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?)
                """,
                arguments: [record.id, record.owner, record.type, record.parameters.jsonText, record.status.rawValue,
                            try record.progress.map(Self.encode), record.createdDate, record.startedDate,
                            record.completedDate])
        }
    }

    public func update(_ record: TaskRecord) throws {
        try database.write { db in
            try db.execute(
                sql: "UPDATE task SET status = ?, progress = ?, startedDate = ?, completedDate = ? WHERE id = ?",
                arguments: [record.status.rawValue, try record.progress.map(Self.encode), record.startedDate,
                            record.completedDate, record.id])
        }
    }

    public func task(_ id: String) throws -> TaskRecord? {
        try database.read { db in
            try Row.fetchOne(db, sql: "SELECT * FROM task WHERE id = ?", arguments: [id]).map(Self.record)
        }
    }

    /// A user's tasks, newest first.
    public func tasks(owner: String, status: TaskStatus? = nil, limit: Int = 100, offset: Int = 0) throws -> [TaskRecord] {
        try database.read { db in
            let rows = try Row.fetchAll(
                db,
                sql: "SELECT * FROM task WHERE owner = ? AND (? IS NULL OR status = ?) ORDER BY seq DESC LIMIT ? OFFSET ?",
                arguments: [owner, status?.rawValue, status?.rawValue, limit, offset])
            return try rows.map(Self.record)
        }
    }

    /// Tasks that had not finished, oldest first.
    public func unfinished() throws -> [TaskRecord] {
        let finals = TaskStatus.allCases.filter(\.isFinal).map(\.rawValue)
        return try database.read { db in
            try Row.fetchAll(db, sql: "SELECT * FROM task WHERE status NOT IN (?, ?, ?, ?) ORDER BY seq",
                             arguments: StatementArguments(finals)).map(Self.record)
        }
    }

    public func countsByStatus() throws -> [TaskStatus: Int] {
        try database.read { db in
            var counts: [TaskStatus: Int] = [:]
            for row in try Row.fetchAll(db, sql: "SELECT status, COUNT(*) AS n FROM task GROUP BY status") {
                if let status = TaskStatus(rawValue: row["status"]) { counts[status] = row["n"] }
            }
            return counts
        }
    }

    private static func encode(_ progress: TaskProgress) throws -> String {
        String(decoding: try JSONEncoder().encode(progress), as: UTF8.self)
    }

    private static func record(_ row: Row) throws -> TaskRecord {
        let progressText: String? = row["progress"]
        return TaskRecord(
            id: row["id"], owner: row["owner"], type: row["type"], parameters: try JSONValue.parse(row["parameters"]),
            status: TaskStatus(rawValue: row["status"]) ?? .failed,
            progress: try progressText.map { try JSONDecoder().decode(TaskProgress.self, from: Data($0.utf8)) },
            createdDate: row["createdDate"], startedDate: row["startedDate"], completedDate: row["completedDate"])
    }
}
