import CGDAL
import Foundation
import Raster

/// Versions of the catalog store's own tables, kept in a `tile_metadata` table (the GeoPackage's own
/// `application_id` and `user_version` are left as GDAL writes them).
///
/// 1. the first release: no metadata table, absolute raster paths, no lookup indexes;
/// 2. raster paths relative to the data folder, indexes on `item_id`, `sha256` and `source_file`;
/// 3. a `band_summaries` column (band statistics for map tiles) and a revision per catalog.
public enum CatalogSchema {
    public static let current = 3
    static let metadataTable = "tile_metadata"
    static let versionKey = "schema_version"
    /// The key of a catalog's revision in the metadata table.
    static func revisionKey(_ tableName: String) -> String { "revision:\(tableName)" }
    /// System columns added to item tables after the first release.
    static let addedColumns: Set<String> = ["band_summaries"]
    /// Item columns looked up one value at a time (skip by content, get and delete by id, by file).
    static let indexedColumns = ["item_id", "sha256", "source_file"]
}

extension CatalogStore {
    /// Reads the schema version, refusing one newer than this release knows. A new store is stamped
    /// with the current version; an older one stays as it is until `migrate(rewritingPath:)`.
    func openSchema(isNew: Bool) throws -> Int {
        if isNew {
            try createMetadataTable()
            try writeSchemaVersion(CatalogSchema.current)
            return CatalogSchema.current
        }
        let version = try readSchemaVersion()
        guard version <= CatalogSchema.current else {
            throw CatalogError.newerSchema(found: version, known: CatalogSchema.current)
        }
        return version
    }

    /// A process killed while SQLite committed can leave a rollback journal whose header is already
    /// cleared: not hot, so nothing rolls it back, and SQLite only deletes it at the end of the next
    /// write. One empty write does that; if another process holds the write lock, its journal is live
    /// and stays.
    func removeStaleRollbackJournal() {
        guard !location.contains(":") || location.hasPrefix("/"),
              FileManager.default.fileExists(atPath: location + "-journal") else { return }
        CPLPushErrorHandler(CPLQuietErrorHandler)
        defer { CPLPopErrorHandler() }
        try? executeSQL("UPDATE \(CatalogSchema.metadataTable) SET value = value WHERE key = \(sqlLiteral(CatalogSchema.versionKey))")
    }

    /// Whether the store predates the current schema (`migrate(rewritingPath:)` brings it up to date).
    public var needsMigration: Bool { schemaVersion < CatalogSchema.current }

    /// Brings a store written by an earlier release up to the current schema in one transaction: every
    /// item's stored path goes through `rewritingPath` (nil keeps it), the lookup indexes and the
    /// band summary column are added (empty: tiles compute what they need). Running it again, or on
    /// a current store, does nothing.
    public func migrate(rewritingPath: (String) -> String?) throws {
        try locked {
            guard try readSchemaVersion() < CatalogSchema.current else {
                schemaVersion = CatalogSchema.current
                return
            }
            if GDALDatasetGetLayerByName(handle, CatalogSchema.metadataTable) == nil { try createMetadataTable() }
            let tables = try registryRows().map(\.tableName)
            try transaction {
                for table in tables {
                    let itemTable = try layer(table)
                    try createLookupIndexes(on: table)
                    try addMissingSystemColumns(to: itemTable, named: table)
                    let rows = try queryRows("SELECT item_id, path FROM \(Identifier.quoted(table)) WHERE path IS NOT NULL")
                    for row in rows where row.count == 2 {
                        guard let id = row[0], let path = row[1], let rewritten = rewritingPath(path),
                              rewritten != path else { continue }
                        try executeSQL("UPDATE \(Identifier.quoted(table)) SET path = \(sqlLiteral(rewritten)) "
                            + "WHERE item_id = \(sqlLiteral(id))")
                    }
                }
                try writeSchemaVersion(CatalogSchema.current)
            }
            schemaVersion = CatalogSchema.current
        }
    }

    /// Columns later releases added to every item table. Before this release such a column could
    /// only be a user attribute, whose values must not be read as system fields: that stops the
    /// migration with a message.
    private func addMissingSystemColumns(to table: OGRLayerH, named tableName: String) throws {
        let definition = OGR_L_GetLayerDefn(table)
        for field in SystemField.all where CatalogSchema.addedColumns.contains(field.column) {
            guard OGR_FD_GetFieldIndex(definition, field.column) < 0 else {
                throw CatalogError.storage("catalog table \(tableName) has an attribute column \(field.column), which "
                    + "this release uses itself; rename it with the earlier release first")
            }
            try createField(table, field.column, kind: field.kind)
        }
    }

    /// An opaque token that changes whenever the catalog's items change (map tiles' ETags).
    func revisionLocked(table tableName: String, createdAt: String) throws -> String {
        let rows = try queryRows("SELECT value FROM \(CatalogSchema.metadataTable) "
            + "WHERE key = \(sqlLiteral(CatalogSchema.revisionKey(tableName)))")
        return rows.first?.first.flatMap { $0 } ?? "created \(createdAt)"
    }

    /// Gives the catalog a new revision; callers run it in the transaction that changes its items.
    func bumpRevisionLocked(table tableName: String) throws {
        let key = sqlLiteral(CatalogSchema.revisionKey(tableName))
        try executeSQL("DELETE FROM \(CatalogSchema.metadataTable) WHERE key = \(key)")
        try executeSQL("INSERT INTO \(CatalogSchema.metadataTable) (key, value) "
            + "VALUES (\(key), \(sqlLiteral(UUID().uuidString.lowercased())))")
    }

    func createLookupIndexes(on table: String) throws {
        for column in CatalogSchema.indexedColumns {
            try executeSQL("CREATE INDEX IF NOT EXISTS \(Identifier.quoted("\(table)_\(column)_idx")) "
                + "ON \(Identifier.quoted(table)) (\(Identifier.quoted(column)))")
        }
    }

    /// The names of a table's indexes (for checks).
    public func indexedColumns(ofCatalog name: CatalogName) throws -> Set<String> {
        try locked {
            guard let table = try registryRows(filter: "name = \(sqlLiteral(name.description))").first?.tableName else {
                throw CatalogError.notFound("catalog \(name)")
            }
            var columns = Set<String>()
            for row in try queryRows("SELECT name FROM pragma_index_list(\(sqlLiteral(table)))") {
                guard let index = row[0] else { continue }
                for info in try queryRows("SELECT name FROM pragma_index_info(\(sqlLiteral(index)))") {
                    if let column = info[0] { columns.insert(column) }
                }
            }
            return columns
        }
    }

    private func createMetadataTable() throws {
        guard let table = GDALDatasetCreateLayer(handle, CatalogSchema.metadataTable, nil, wkbNone, nil) else {
            throw CatalogError.storage("cannot create \(CatalogSchema.metadataTable): \(lastGDALErrorMessage() ?? "")")
        }
        for name in ["key", "value"] {
            let definition = OGR_Fld_Create(name, OFTString)
            defer { OGR_Fld_Destroy(definition) }
            try check(OGR_L_CreateField(table, definition, 1), "creating column \(name)")
        }
    }

    private func readSchemaVersion() throws -> Int {
        // The first release had no metadata table.
        guard GDALDatasetGetLayerByName(handle, CatalogSchema.metadataTable) != nil else { return 1 }
        let rows = try queryRows("SELECT value FROM \(CatalogSchema.metadataTable) "
            + "WHERE key = \(sqlLiteral(CatalogSchema.versionKey))")
        guard let text = rows.first?[0], let version = Int(text) else {
            throw CatalogError.storage("the schema version in \(CatalogSchema.metadataTable) is missing or unreadable")
        }
        return version
    }

    private func writeSchemaVersion(_ version: Int) throws {
        try executeSQL("DELETE FROM \(CatalogSchema.metadataTable) WHERE key = \(sqlLiteral(CatalogSchema.versionKey))")
        try executeSQL("INSERT INTO \(CatalogSchema.metadataTable) (key, value) "
            + "VALUES (\(sqlLiteral(CatalogSchema.versionKey)), \(sqlLiteral(String(version))))")
    }

    // MARK: SQL on the store's connection (callers hold the lock)

    /// Runs a statement that returns no rows.
    func executeSQL(_ sql: String) throws {
        CPLErrorReset()
        if let result = GDALDatasetExecuteSQL(handle, sql, nil, nil) { GDALDatasetReleaseResultSet(handle, result) }
        if CPLGetLastErrorType() == CE_Failure || CPLGetLastErrorType() == CE_Fatal {
            throw CatalogError.storage("\(sql.prefix(60)) failed: \(lastGDALErrorMessage() ?? "")")
        }
    }

    /// Runs a query; every value as text (nil for NULL).
    func queryRows(_ sql: String) throws -> [[String?]] {
        try query(sql) { feature, index in String(cString: OGR_F_GetFieldAsString(feature, index)) }
    }

    func query<Value>(_ sql: String, _ value: (OGRFeatureH, Int32) -> Value) throws -> [[Value?]] {
        CPLErrorReset()
        guard let result = GDALDatasetExecuteSQL(handle, sql, nil, nil) else {
            if CPLGetLastErrorType() == CE_Failure || CPLGetLastErrorType() == CE_Fatal {
                throw CatalogError.storage("\(sql.prefix(60)) failed: \(lastGDALErrorMessage() ?? "")")
            }
            return []
        }
        defer { GDALDatasetReleaseResultSet(handle, result) }
        var rows: [[Value?]] = []
        let columns = OGR_FD_GetFieldCount(OGR_L_GetLayerDefn(result))
        while let feature = OGR_L_GetNextFeature(result) {
            defer { OGR_F_Destroy(feature) }
            rows.append((0..<columns).map { index in
                OGR_F_IsFieldSetAndNotNull(feature, index) != 0 ? value(feature, index) : nil
            })
        }
        return rows
    }

    // MARK: Count and extent

    /// Item count and footprint extent, asked of SQLite each time: OGR's GeoPackage driver caches
    /// both per connection, which go stale when another process (a `tile import` beside a running
    /// server) adds items. The extent comes from the footprints' R-tree (single precision, rounded
    /// outwards), or from the geometry headers while GDAL has not built the R-tree yet.
    func countAndExtent(table tableName: String) throws -> (Int, [Double]?) {
        let table = try layer(tableName)
        let geometryColumn = String(cString: OGR_L_GetGeometryColumn(table))
        let count = try query("SELECT COUNT(*) FROM \(Identifier.quoted(tableName))") { feature, index in
            Int(OGR_F_GetFieldAsInteger64(feature, index))
        }.first?.first.flatMap { $0 } ?? 0
        guard count > 0, !geometryColumn.isEmpty else { return (count, nil) }
        guard String(cString: GDALGetDriverShortName(GDALGetDatasetDriver(handle))) == "GPKG" else {
            // Other stores (PostGIS) compute the extent on the server when forced to.
            var envelope = OGREnvelope()
            try check(OGR_L_GetExtent(table, &envelope, 1), "computing the extent")
            return (count, [envelope.MinX, envelope.MinY, envelope.MaxX, envelope.MaxY])
        }
        let rtree = "rtree_\(tableName)_\(geometryColumn)"
        let hasRTree = try !queryRows("SELECT name FROM sqlite_master WHERE type = 'table' AND name = \(sqlLiteral(rtree))")
            .isEmpty
        let sql: String
        if hasRTree {
            sql = "SELECT MIN(minx), MIN(miny), MAX(maxx), MAX(maxy) FROM \(Identifier.quoted(rtree))"
        } else {
            let column = Identifier.quoted(geometryColumn)
            sql = "SELECT MIN(ST_MinX(\(column))), MIN(ST_MinY(\(column))), MAX(ST_MaxX(\(column))), "
                + "MAX(ST_MaxY(\(column))) FROM \(Identifier.quoted(tableName))"
        }
        let row = try query(sql) { feature, index in OGR_F_GetFieldAsDouble(feature, index) }.first ?? []
        let values = row.compactMap { $0 }
        return (count, values.count == 4 ? values : nil)
    }
}
