import CGDAL
import Foundation
import Raster

/// The raster catalog index: one feature table per catalog (footprint, the user's typed attributes,
/// the system fields) and a registry table of catalogs and their configurations. Everything goes
/// through OGR, so the default GeoPackage opens in QGIS and `ogrinfo`, and a PostGIS `PG:` connection
/// can be the store with the same code.
///
/// One OGR connection, used by one thread at a time: every method takes the store's lock.
public final class CatalogStore: @unchecked Sendable {
    private var openHandle: GDALDatasetH?
    let location: String
    let lock = NSLock()
    static let registryTable = "raster_catalogs"
    /// The schema version the store had when it was opened (see `CatalogSchema`).
    public internal(set) var schemaVersion = CatalogSchema.current
    /// Configurations decoded from the registry's JSON, by that JSON (map tiles look a catalog up per tile).
    private var decodedConfigurations: [String: AttributesConfiguration] = [:]

    /// Opens the catalog store at `location`: a GeoPackage path (created if missing) or an OGR
    /// connection string such as `PG:dbname=rasters`.
    public convenience init(location: String) throws {
        GDALRuntime.ensureInitialized()
        let isPath = !location.contains(":") || location.hasPrefix("/")
        if isPath, !FileManager.default.fileExists(atPath: location) { try Self.createAtomically(location) }
        try self.init(opening: location, isNew: false)
        if isPath { Self.removeAbandonedCreations(of: location) }
    }

    private init(opening location: String, isNew: Bool) throws {
        // The R-tree must be complete whenever a transaction commits: extents are read from it, also
        // by other processes.
        CPLSetConfigOption("OGR_GPKG_ALLOW_THREADED_RTREE", "NO")
        CPLErrorReset()
        self.location = location
        if isNew {
            guard let driver = GDALGetDriverByName("GPKG"),
                  let created = GDALCreate(driver, location, 0, 0, 0, GDT_Unknown, nil) else {
                throw CatalogError.storage("cannot create \(location): \(lastGDALErrorMessage() ?? "unknown error")")
            }
            openHandle = created
        } else {
            openHandle = try Self.open(location)
        }
        do {
            let existingRegistry = GDALDatasetGetLayerByName(handle, Self.registryTable) != nil
            try ensureRegistry()
            schemaVersion = try openSchema(isNew: isNew || !existingRegistry)
            removeStaleRollbackJournal()
        } catch {
            close()
            throw error
        }
    }

    /// A new GeoPackage is made whole under a temporary name and then linked into place: a process
    /// killed while GDAL writes its tables must not leave a file that nothing can open. Of two
    /// processes creating it at once, the first link wins and the other opens that store.
    private static func createAtomically(_ location: String) throws {
        let temporary = "\(location)\(creationSuffix)\(UUID().uuidString)"
        defer { for path in [temporary, temporary + "-journal"] { try? FileManager.default.removeItem(atPath: path) } }
        let exists = { FileManager.default.fileExists(atPath: location) }
        do {
            try CatalogStore(opening: temporary, isNew: true).close()
        } catch {
            // Another process made the store meanwhile (and may have swept this half-made one).
            if exists() { return }
            throw error
        }
        guard link(temporary, location) == 0 || exists() else {
            throw CatalogError.storage("cannot create \(location): \(String(cString: strerror(errno)))")
        }
    }

    private static let creationSuffix = ".creating-"

    /// Stores half made by processes killed while creating one, once the store itself exists.
    private static func removeAbandonedCreations(of location: String) {
        let folder = (location as NSString).deletingLastPathComponent
        let prefix = (location as NSString).lastPathComponent + creationSuffix
        for name in (try? FileManager.default.contentsOfDirectory(atPath: folder.isEmpty ? "." : folder)) ?? []
        where name.hasPrefix(prefix) {
            try? FileManager.default.removeItem(atPath: (folder as NSString).appendingPathComponent(name))
        }
    }

    deinit { close() }

    /// Closes the connection, letting OGR write what it caches (GeoPackage feature counts and extents
    /// that other readers such as QGIS use). Call it when done: a process may otherwise exit before
    /// the last reference goes away. Later calls do nothing; using the store afterwards throws
    /// `CatalogError.closed`.
    public func close() {
        lock.lock()
        defer { lock.unlock() }
        if let openHandle { GDALClose(openHandle) }
        openHandle = nil
    }

    var handle: GDALDatasetH {
        guard let openHandle else { preconditionFailure("CatalogStore used after close()") }
        return openHandle
    }

    // MARK: Catalogs

    /// Creates a catalog. An existing one with the same configuration is returned as it is; one
    /// with a different configuration is `alreadyExists`.
    @discardableResult
    public func createCatalog(_ name: CatalogName, configuration: AttributesConfiguration) throws -> CatalogInfo {
        try configuration.validate()
        return try locked {
            if let existing = try registrationLocked(name) {
                guard existing.configuration == configuration else {
                    throw CatalogError.alreadyExists("catalog \(name) already exists with another configuration")
                }
                return try infoLocked(existing)
            }
            let tableName = try freeTableLocked(for: name, configuration: configuration)
            try transaction {
                try createItemTable(tableName, configuration: configuration)
                let registry = try layer(Self.registryTable)
                let feature = OGR_F_Create(OGR_L_GetLayerDefn(registry))!
                defer { OGR_F_Destroy(feature) }
                try set(feature, "name", .string(name.description), kind: .string)
                try set(feature, "table_name", .string(tableName), kind: .string)
                try set(feature, "configuration", .string(try JSONValue.from(configuration).jsonText), kind: .string)
                try set(feature, "created_at", .string(ISO8601.format(Date())), kind: .dateTime)
                try check(OGR_L_CreateFeature(registry, feature), "registering catalog \(name)")
                try bumpRevisionLocked(table: tableName)
            }
            guard let created = try registrationLocked(name) else { throw CatalogError.storage("catalog \(name) vanished") }
            return try infoLocked(created)
        }
    }

    /// The table a new catalog `name` would be stored in (see `TableName`); `alreadyExists` when another
    /// catalog, or anything else in the store, has it.
    public func tableForNewCatalog(_ name: CatalogName, configuration: AttributesConfiguration) throws -> String {
        try locked { try freeTableLocked(for: name, configuration: configuration) }
    }

    private func freeTableLocked(for name: CatalogName, configuration: AttributesConfiguration) throws -> String {
        let tableName = try TableName.stored(for: name, requested: configuration.tableName)
        let owner = try registryRows().first { $0.tableName.lowercased() == tableName }
        // OGR finds layers case-insensitively, as SQLite compares table names.
        if owner != nil || GDALDatasetGetLayerByName(handle, tableName) != nil {
            throw CatalogError.alreadyExists("table \(tableName) is already used by another catalog")
        }
        return tableName
    }

    public func catalog(_ name: CatalogName) throws -> CatalogInfo? {
        try locked { try registrationLocked(name).map(infoLocked) }
    }

    /// A catalog's attribute configuration, nil when it does not exist. Cheaper than `catalog(_:)`,
    /// which also counts the items.
    public func configuration(of name: CatalogName) throws -> AttributesConfiguration? {
        try locked { try registrationLocked(name)?.configuration }
    }

    public func requireCatalog(_ name: CatalogName) throws -> CatalogInfo {
        guard let info = try catalog(name) else { throw CatalogError.notFound("catalog \(name)") }
        return info
    }

    /// All catalogs, or those of one namespace, by name.
    public func catalogs(namespace: String? = nil) throws -> [CatalogInfo] {
        try locked {
            try registryRows().compactMap { row -> CatalogInfo? in
                guard let registration = try? Registration(row), namespace == nil
                        || registration.name.namespace == namespace else { return nil }
                return try infoLocked(registration)
            }.sorted { $0.name < $1.name }
        }
    }

    /// Removes a catalog and its table; returns the stored raster paths its items had.
    @discardableResult
    public func deleteCatalog(_ name: CatalogName) throws -> [String] {
        try locked {
            guard let info = try registrationLocked(name) else { throw CatalogError.notFound("catalog \(name)") }
            let paths = try itemsLocked(info, bbox: nil, condition: nil, limit: nil, offset: 0).map(\.system.path)
            try transaction {
                let registry = try layer(Self.registryTable)
                OGR_L_SetAttributeFilter(registry, "name = \(sqlLiteral(name.description))")
                defer { OGR_L_SetAttributeFilter(registry, nil) }
                OGR_L_ResetReading(registry)
                while let feature = OGR_L_GetNextFeature(registry) {
                    let fid = OGR_F_GetFID(feature)
                    OGR_F_Destroy(feature)
                    try check(OGR_L_DeleteFeature(registry, fid), "removing catalog \(name)")
                }
                try executeSQL("DELETE FROM \(CatalogSchema.metadataTable) "
                    + "WHERE key = \(sqlLiteral(CatalogSchema.revisionKey(info.tableName)))")
            }
            for index in 0..<GDALDatasetGetLayerCount(handle) {
                let candidate = GDALDatasetGetLayer(handle, index)
                if String(cString: OGR_L_GetName(candidate)) == info.tableName {
                    try check(GDALDatasetDeleteLayer(handle, index), "dropping table \(info.tableName)")
                    break
                }
            }
            return paths
        }
    }

    // MARK: Items

    /// Registers one raster in one transaction.
    public func insert(_ item: NewCatalogItem, into name: CatalogName) throws {
        try locked {
            guard let info = try registrationLocked(name) else { throw CatalogError.notFound("catalog \(name)") }
            let attributes = try info.configuration.validateValues(item.attributes)
            let table = try layer(info.tableName)
            let feature = OGR_F_Create(OGR_L_GetLayerDefn(table))!
            defer { OGR_F_Destroy(feature) }
            guard case let .object(system) = try JSONValue.from(item.system) else { return }
            for field in SystemField.all {
                try set(feature, field.column, system[field.key] ?? .null, kind: field.kind)
            }
            for definition in info.configuration.attributes {
                try set(feature, definition.column, attributes[definition.attributeName] ?? .null,
                        kind: definition.type.storageKind)
            }
            let geometry = try Geometry(wkt: item.footprintWKT)
            guard let multi = OGR_G_ForceToMultiPolygon(OGR_G_Clone(geometry.handle)) else {
                throw CatalogError.storage("the footprint is not a polygon")
            }
            try check(OGR_F_SetGeometryDirectly(feature, multi), "setting the footprint")
            try transaction {
                try check(OGR_L_CreateFeature(table, feature), "registering \(item.system.sourceFile)")
                try bumpRevisionLocked(table: info.tableName)
            }
        }
    }

    /// Items whose footprint intersects `bbox` (west, south, east, north in EPSG:4326) and that match
    /// `condition` (see `Condition`), in insertion order.
    public func items(in name: CatalogName, bbox: Envelope? = nil, condition: String? = nil,
                      limit: Int? = nil, offset: Int = 0) throws -> [CatalogItem] {
        try page(of: name, query: ItemQuery(bbox: bbox, condition: condition, limit: limit, offset: offset),
                 countMatches: false).items
    }

    /// One page of the items matching `query`, in insertion order, with where the next page starts
    /// and (when `countMatches`) how many match in all.
    public func page(of name: CatalogName, query: ItemQuery, countMatches: Bool = true) throws -> ItemPage {
        try locked {
            guard let info = try registrationLocked(name) else { throw CatalogError.notFound("catalog \(name)") }
            var page = try pageLocked(info, query)
            if countMatches { page.numberMatched = try matchCountLocked(info, query) }
            return page
        }
    }


    /// What a map tile needs, under one look-up of the catalog: its revision, then either whether
    /// any footprint intersects `query.bbox` (when `fromOverview` says the tile is drawn from the
    /// catalog's overview for that revision) or the items matching `query`.
    public func tileLookup(in name: CatalogName, query: ItemQuery, fromOverview: (String) -> Bool) throws -> TileLookup {
        try locked {
            guard let info = try registrationLocked(name) else { throw CatalogError.notFound("catalog \(name)") }
            let revision = try revisionLocked(table: info.tableName, createdAt: info.createdAt)
            guard fromOverview(revision) else { return TileLookup(revision: revision, items: try pageLocked(info, query).items) }
            let table = try layer(info.tableName)
            let bboxOnly = ItemQuery(bbox: query.bbox)
            try applyFilters(table, info, bboxOnly, withCursor: false)
            defer { clearFilters(table) }
            CPLErrorReset()
            OGR_L_ResetReading(table)
            let first = OGR_L_GetNextFeature(table)
            if let first { OGR_F_Destroy(first) }
            try checkReadSucceeded(bboxOnly)
            return TileLookup(revision: revision, items: nil, anyItem: first != nil)
        }
    }

    public func revision(of name: CatalogName) throws -> String {
        try locked {
            guard let info = try registrationLocked(name) else { throw CatalogError.notFound("catalog \(name)") }
            return try revisionLocked(table: info.tableName, createdAt: info.createdAt)
        }
    }

    /// The catalog's revision (changes with every item added or removed) and then the item `id` (nil
    /// when there is none): read in that order, so content is never older than the revision given with it.
    public func revisionAndItem(id: String, in name: CatalogName) throws -> (revision: String, item: CatalogItem?) {
        try locked {
            guard let info = try registrationLocked(name) else { throw CatalogError.notFound("catalog \(name)") }
            let revision = try revisionLocked(table: info.tableName, createdAt: info.createdAt)
            return (revision, try pageLocked(info, ItemQuery(condition: "id = \(sqlLiteral(id))", limit: 1)).items.first)
        }
    }

    public func item(id: String, in name: CatalogName) throws -> CatalogItem? {
        try items(in: name, condition: "id = \(sqlLiteral(id))", limit: 1).first
    }

    public func item(sha256: String, in name: CatalogName) throws -> CatalogItem? {
        try items(in: name, condition: "sha256 = \(sqlLiteral(sha256))", limit: 1).first
    }

    /// All stored raster paths across every catalog, as stored (for consistency checks and recovery).
    public func allStoredPaths() throws -> Set<String> {
        try locked {
            var paths = Set<String>()
            for row in try registryRows() {
                let items = try itemsLocked(Registration(row), bbox: nil, condition: nil, limit: nil, offset: 0)
                paths.formUnion(items.map(\.system.path))
            }
            return paths
        }
    }

    /// Removes one item; returns it (so its raster can be removed), nil if there was none.
    @discardableResult
    public func deleteItem(id: String, in name: CatalogName) throws -> CatalogItem? {
        try locked {
            guard let info = try registrationLocked(name) else { throw CatalogError.notFound("catalog \(name)") }
            let table = try layer(info.tableName)
            OGR_L_SetAttributeFilter(table, "item_id = \(sqlLiteral(id))")
            defer { OGR_L_SetAttributeFilter(table, nil) }
            OGR_L_ResetReading(table)
            guard let feature = OGR_L_GetNextFeature(table) else { return nil }
            let item = try readItem(feature, configuration: info.configuration)
            let fid = OGR_F_GetFID(feature)
            OGR_F_Destroy(feature)
            try transaction {
                try check(OGR_L_DeleteFeature(table, fid), "deleting item \(id)")
                try bumpRevisionLocked(table: info.tableName)
            }
            return item
        }
    }

    // MARK: Internals (callers hold the lock)

    func locked<T>(_ body: () throws -> T) throws -> T {
        lock.lock()
        defer { lock.unlock() }
        guard openHandle != nil else { throw CatalogError.closed }
        return try body()
    }

    func transaction(_ body: () throws -> Void) throws {
        try check(GDALDatasetStartTransaction(handle, 0), "starting a transaction")
        do {
            try body()
        } catch {
            GDALDatasetRollbackTransaction(handle)
            throw error
        }
        try check(GDALDatasetCommitTransaction(handle), "committing")
    }

    private func ensureRegistry() throws {
        guard GDALDatasetGetLayerByName(handle, Self.registryTable) == nil else { return }
        guard let registry = GDALDatasetCreateLayer(handle, Self.registryTable, nil, wkbNone, nil) else {
            throw CatalogError.storage("cannot create the catalog registry: \(lastGDALErrorMessage() ?? "")")
        }
        for (name, kind) in [("name", SystemField.Kind.string), ("table_name", .string),
                             ("configuration", .string), ("created_at", .dateTime)] {
            try createField(registry, name, kind: kind)
        }
    }

    private func createItemTable(_ tableName: String, configuration: AttributesConfiguration) throws {
        let options = StringList(["GEOMETRY_NAME=\(configuration.geometryColumn)", "FID=fid"])
        let wgs84 = OSRNewSpatialReference(nil)
        defer { OSRDestroySpatialReference(wgs84) }
        OSRImportFromEPSG(wgs84, 4326)
        OSRSetAxisMappingStrategy(wgs84, OAMS_TRADITIONAL_GIS_ORDER)
        guard let table = GDALDatasetCreateLayer(handle, tableName, wgs84, wkbMultiPolygon, options.pointer) else {
            throw CatalogError.storage("cannot create table \(tableName): \(lastGDALErrorMessage() ?? "")")
        }
        for field in SystemField.all { try createField(table, field.column, kind: field.kind) }
        for attribute in configuration.attributes {
            try createField(table, attribute.column, kind: attribute.type.storageKind)
        }
        try createLookupIndexes(on: tableName)
    }

    func createField(_ layer: OGRLayerH, _ name: String, kind: SystemField.Kind) throws {
        let type: OGRFieldType
        switch kind {
        case .string, .json: type = OFTString
        case .integer, .boolean: type = OFTInteger
        case .integer64: type = OFTInteger64
        case .real: type = OFTReal
        case .dateTime: type = OFTDateTime
        }
        let definition = OGR_Fld_Create(name, type)
        defer { OGR_Fld_Destroy(definition) }
        if kind == .boolean { OGR_Fld_SetSubType(definition, OFSTBoolean) }
        if kind == .json { OGR_Fld_SetSubType(definition, OFSTJSON) }
        try check(OGR_L_CreateField(layer, definition, 1), "creating column \(name)")
    }

    private static func open(_ location: String) throws -> GDALDatasetH {
        let flags = UInt32(GDAL_OF_VECTOR | GDAL_OF_UPDATE | GDAL_OF_VERBOSE_ERROR)
        guard let opened = GDALOpenEx(location, flags, nil, nil, nil) else {
            throw CatalogError.storage("cannot open \(location): \(lastGDALErrorMessage() ?? "unknown error")")
        }
        return opened
    }

    func layer(_ name: String) throws -> OGRLayerH {
        if let layer = GDALDatasetGetLayerByName(handle, name) { return layer }
        // OGR reads the list of tables when it opens the store; a catalog that another process (a
        // `tile import` beside the server) created since is only seen by a new connection.
        let fresh = try Self.open(location)
        GDALClose(handle)
        openHandle = fresh
        guard let layer = GDALDatasetGetLayerByName(handle, name) else {
            throw CatalogError.storage("table \(name) is missing")
        }
        return layer
    }

    struct RegistryRow {
        var name: String
        var tableName: String
        var configuration: String
        var createdAt: String
    }

    func registryRows(filter: String? = nil) throws -> [RegistryRow] {
        let registry = try layer(Self.registryTable)
        OGR_L_SetAttributeFilter(registry, filter)
        defer { OGR_L_SetAttributeFilter(registry, nil) }
        OGR_L_ResetReading(registry)
        var rows: [RegistryRow] = []
        while let feature = OGR_L_GetNextFeature(registry) {
            defer { OGR_F_Destroy(feature) }
            let text = { (name: String) in self.get(feature, name, kind: .string).stringValue ?? "" }
            rows.append(RegistryRow(name: text("name"), tableName: text("table_name"),
                                    configuration: text("configuration"),
                                    createdAt: get(feature, "created_at", kind: .dateTime).stringValue ?? ""))
        }
        return rows
    }

    /// What the registry says of a catalog: enough to read and write its items.
    private struct Registration {
        var name: CatalogName
        var tableName: String
        var configuration: AttributesConfiguration
        var createdAt: String

        init(_ row: RegistryRow, configuration: AttributesConfiguration? = nil) throws {
            name = try CatalogName(row.name)
            tableName = row.tableName
            self.configuration = try configuration
                ?? JSONValue.parse(row.configuration).decode(as: AttributesConfiguration.self)
            createdAt = row.createdAt
        }
    }

    private func registrationLocked(_ name: CatalogName) throws -> Registration? {
        guard let row = try registryRows(filter: "name = \(sqlLiteral(name.description))").first else { return nil }
        if let configuration = decodedConfigurations[row.configuration] { return try Registration(row, configuration: configuration) }
        let registration = try Registration(row)
        if decodedConfigurations.count >= 1024 { decodedConfigurations.removeAll() }
        decodedConfigurations[row.configuration] = registration.configuration
        return registration
    }

    /// The public view of a catalog, with its item count and extent (asked of SQLite, see
    /// `countAndExtent(table:)`: only for answers that show them, never on the import or query paths).
    private func infoLocked(_ registration: Registration) throws -> CatalogInfo {
        let (count, extent) = try countAndExtent(table: registration.tableName)
        return CatalogInfo(name: registration.name, tableName: registration.tableName,
                           configuration: registration.configuration, createdAt: registration.createdAt,
                           itemCount: count, extent: extent)
    }

    private func itemsLocked(_ info: Registration, bbox: Envelope?, condition: String?,
                             limit: Int?, offset: Int) throws -> [CatalogItem] {
        try pageLocked(info, ItemQuery(bbox: bbox, condition: condition, limit: limit, offset: offset)).items
    }

    /// Reads a page in feature id order. With a cursor the store seeks straight to it (`fid > cursor`
    /// on the primary key); an offset reads and drops every item before it.
    private func pageLocked(_ info: Registration, _ query: ItemQuery) throws -> ItemPage {
        if query.bbox != nil, query.limit != nil || query.cursor != nil { return try spatialPageLocked(info, query) }
        let table = try layer(info.tableName)
        try applyFilters(table, info, query, withCursor: true)
        defer { clearFilters(table) }
        CPLErrorReset()
        OGR_L_ResetReading(table)
        var items: [CatalogItem] = []
        var previous = query.cursor?.fid ?? Int64.min, lastReturned = query.cursor?.fid ?? 0
        var skipped = 0, more = false
        while let feature = OGR_L_GetNextFeature(table) {
            defer { OGR_F_Destroy(feature) }
            let fid = OGR_F_GetFID(feature)
            // Pages are only right if the store reads in key order; never page on a wrong assumption.
            guard fid > previous || (query.limit == nil && query.cursor == nil) else {
                throw CatalogError.storage("items were not read in feature id order")
            }
            previous = fid
            if skipped < query.offset {
                skipped += 1
                continue
            }
            if let limit = query.limit, items.count >= limit {
                more = true
                break
            }
            items.append(try readItem(feature, configuration: info.configuration))
            lastReturned = fid
        }
        try checkReadSucceeded(query)
        return ItemPage(items: items, numberMatched: nil, next: more ? PageCursor(fid: lastReturned) : nil)
    }

    /// A page of a query with a bbox: the store reads those in its R-tree's order, so the matching
    /// feature ids are collected and sorted first, and only the page's items are then read whole.
    private func spatialPageLocked(_ info: Registration, _ query: ItemQuery) throws -> ItemPage {
        let table = try layer(info.tableName)
        try applyFilters(table, info, query, withCursor: true)
        CPLErrorReset()
        OGR_L_ResetReading(table)
        var fids: [Int64] = []
        while let feature = OGR_L_GetNextFeature(table) {
            fids.append(OGR_F_GetFID(feature))
            OGR_F_Destroy(feature)
        }
        clearFilters(table)
        try checkReadSucceeded(query)
        fids.sort()
        let start = min(query.offset, fids.count)
        let end = query.limit.map { min(fids.count, start + $0) } ?? fids.count
        let items = try fids[start..<end].map { fid in
            guard let feature = OGR_L_GetFeature(table, fid) else { throw CatalogError.storage("item \(fid) vanished while read") }
            defer { OGR_F_Destroy(feature) }
            return try readItem(feature, configuration: info.configuration)
        }
        return ItemPage(items: items, numberMatched: nil,
                        next: end < fids.count && end > start ? PageCursor(fid: fids[end - 1]) : nil)
    }

    /// How many items match `query` in all pages (cursor and offset aside).
    private func matchCountLocked(_ info: Registration, _ query: ItemQuery) throws -> Int {
        let table = try layer(info.tableName)
        guard query.bbox != nil else {
            // SQL's own count: OGR would answer an unfiltered GeoPackage count from a per-connection cache.
            var sql = "SELECT COUNT(*) FROM \(Identifier.quoted(info.tableName))"
            if let condition = try conditionSQL(info, query) { sql += " WHERE \(condition)" }
            CPLErrorReset()
            guard let result = GDALDatasetExecuteSQL(handle, sql, nil, nil) else {
                try checkReadSucceeded(query)
                throw CatalogError.storage("counting items failed")
            }
            defer { GDALDatasetReleaseResultSet(handle, result) }
            guard let feature = OGR_L_GetNextFeature(result) else { throw CatalogError.storage("counting items failed") }
            defer { OGR_F_Destroy(feature) }
            return Int(OGR_F_GetFieldAsInteger64(feature, 0))
        }
        try applyFilters(table, info, query, withCursor: false)
        defer { clearFilters(table) }
        CPLErrorReset()
        OGR_L_ResetReading(table)
        var count = 0
        while let feature = OGR_L_GetNextFeature(table) {
            OGR_F_Destroy(feature)
            count += 1
        }
        try checkReadSucceeded(query)
        return count
    }

    private func conditionSQL(_ info: Registration, _ query: ItemQuery) throws -> String? {
        guard let condition = query.condition else { return nil }
        var columns = Dictionary(uniqueKeysWithValues: SystemField.all.map { ($0.key, $0.column) })
        for attribute in info.configuration.attributes { columns[attribute.attributeName] = attribute.column }
        return try Condition(condition, columns: columns).sql
    }

    private func applyFilters(_ table: OGRLayerH, _ info: Registration, _ query: ItemQuery, withCursor: Bool) throws {
        var filters = try conditionSQL(info, query).map { ["(\($0))"] } ?? []
        if withCursor, let cursor = query.cursor {
            let fidColumn = String(cString: OGR_L_GetFIDColumn(table))
            filters.append("\(Identifier.quoted(fidColumn.isEmpty ? "fid" : fidColumn)) > \(cursor.fid)")
        }
        if let bbox = query.bbox {
            if bbox.crossesAntimeridian {
                let area = bbox.geometry
                withExtendedLifetime(area) { OGR_L_SetSpatialFilter(table, area.handle) }
            } else {
                OGR_L_SetSpatialFilterRect(table, bbox.minX, bbox.minY, bbox.maxX, bbox.maxY)
            }
        }
        if !filters.isEmpty {
            try check(OGR_L_SetAttributeFilter(table, filters.joined(separator: " AND ")), "applying the condition")
        }
    }

    private func clearFilters(_ table: OGRLayerH) {
        OGR_L_SetSpatialFilter(table, nil)
        OGR_L_SetAttributeFilter(table, nil)
    }

    /// OGR reports a query the store refuses (SQLite's limits on expression depth and length, for
    /// one) as an error and then simply no more features: without this check, an empty answer.
    private func checkReadSucceeded(_ query: ItemQuery) throws {
        guard CPLGetLastErrorType().rawValue >= CE_Failure.rawValue else { return }
        let message = lastGDALErrorMessage() ?? "unknown error"
        CPLErrorReset()
        if query.condition != nil, message.contains("SQL") {
            throw CatalogError.invalidCondition("the catalog store cannot evaluate it (simplify the condition: "
                + "fewer terms or less nesting)")
        }
        throw CatalogError.storage("reading items failed: \(message.prefix(200))")
    }

    private func readItem(_ feature: OGRFeatureH, configuration: AttributesConfiguration) throws -> CatalogItem {
        var system: [String: JSONValue] = [:]
        for field in SystemField.all { system[field.key] = get(feature, field.column, kind: field.kind) }
        var attributes: [String: JSONValue] = [:]
        for definition in configuration.attributes {
            attributes[definition.attributeName] = get(feature, definition.column, kind: definition.type.storageKind)
        }
        let geometry = OGR_F_GetGeometryRef(feature).map { Geometry(copying: $0).geoJSON() } ?? "null"
        return CatalogItem(system: try JSONValue.object(system).decode(as: SystemFields.self),
                           attributes: attributes, footprintGeoJSON: geometry)
    }

    private func set(_ feature: OGRFeatureH, _ column: String, _ value: JSONValue, kind: SystemField.Kind) throws {
        let index = OGR_F_GetFieldIndex(feature, column)
        guard index >= 0 else { throw CatalogError.storage("column \(column) is missing") }
        switch (kind, value) {
        case (_, .null):
            OGR_F_SetFieldNull(feature, index)
        case (.json, _):
            OGR_F_SetFieldString(feature, index, value.jsonText)
        case let (.string, .string(text)):
            OGR_F_SetFieldString(feature, index, text)
        case let (.integer, .int(number)):
            OGR_F_SetFieldInteger(feature, index, Int32(number))
        case let (.integer64, .int(number)):
            OGR_F_SetFieldInteger64(feature, index, number)
        case let (.real, .double(number)):
            OGR_F_SetFieldDouble(feature, index, number)
        case let (.real, .int(number)):
            OGR_F_SetFieldDouble(feature, index, Double(number))
        case let (.boolean, .bool(flag)):
            OGR_F_SetFieldInteger(feature, index, flag ? 1 : 0)
        case let (.dateTime, .string(text)):
            guard let date = ISO8601.parse(text) else { throw CatalogError.storage("\(column): bad date \(text)") }
            let parts = Calendar.utc.dateComponents([.year, .month, .day, .hour, .minute, .second, .nanosecond],
                                                    from: date)
            let seconds = Float(parts.second ?? 0) + Float(parts.nanosecond ?? 0) / 1e9
            OGR_F_SetFieldDateTimeEx(feature, index, Int32(parts.year ?? 1970), Int32(parts.month ?? 1),
                                     Int32(parts.day ?? 1), Int32(parts.hour ?? 0), Int32(parts.minute ?? 0),
                                     seconds, 100)
        default:
            throw CatalogError.storage("\(column): value \(value.jsonText.prefix(40)) does not fit the column")
        }
    }

    private func get(_ feature: OGRFeatureH, _ column: String, kind: SystemField.Kind) -> JSONValue {
        let index = OGR_F_GetFieldIndex(feature, column)
        guard index >= 0, OGR_F_IsFieldSetAndNotNull(feature, index) != 0 else { return .null }
        switch kind {
        case .string:
            return .string(String(cString: OGR_F_GetFieldAsString(feature, index)))
        case .json:
            let text = String(cString: OGR_F_GetFieldAsString(feature, index))
            return (try? JSONValue.parse(text)) ?? .string(text)
        case .integer, .integer64:
            return .int(OGR_F_GetFieldAsInteger64(feature, index))
        case .real:
            return .double(OGR_F_GetFieldAsDouble(feature, index))
        case .boolean:
            return .bool(OGR_F_GetFieldAsInteger(feature, index) != 0)
        case .dateTime:
            var year: Int32 = 0, month: Int32 = 0, day: Int32 = 0, hour: Int32 = 0, minute: Int32 = 0, tz: Int32 = 0
            var second: Float = 0
            guard OGR_F_GetFieldAsDateTimeEx(feature, index, &year, &month, &day, &hour, &minute, &second, &tz) != 0
            else { return .null }
            var parts = DateComponents()
            (parts.year, parts.month, parts.day, parts.hour, parts.minute) =
                (Int(year), Int(month), Int(day), Int(hour), Int(minute))
            parts.second = Int(second)
            parts.nanosecond = Int(((Double(second) - Double(Int(second))) * 1000).rounded()) * 1_000_000
            var date = Calendar.utc.date(from: parts) ?? Date(timeIntervalSince1970: 0)
            // OGR's time-zone flag: 100 is UTC, 100±n is UTC±n quarter hours; others are taken as UTC.
            if tz > 1, tz != 100 { date -= TimeInterval(Int(tz) - 100) * 900 }
            return .string(ISO8601.format(date))
        }
    }

    func check(_ error: OGRErr, _ operation: String) throws {
        guard error == OGRERR_NONE else {
            throw CatalogError.storage("\(operation) failed: \(lastGDALErrorMessage() ?? "OGR error \(error)")")
        }
    }
}

/// A single-quoted SQL string literal.
func sqlLiteral(_ text: String) -> String {
    "'" + text.replacingOccurrences(of: "'", with: "''") + "'"
}

extension Calendar {
    static let utc: Calendar = {
        var calendar = Calendar(identifier: .gregorian)
        calendar.timeZone = TimeZone(identifier: "UTC")!
        return calendar
    }()
}
