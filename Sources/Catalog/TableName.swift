/// Where a catalog's items are stored. The table is always `<namespace>__<name>` in lower case, so
/// one namespace's catalogs can never take (or block) a table another namespace's catalogs need, and
/// never one of the store's own tables.
///
/// The prefix is unambiguous because a namespace never contains `__` and never ends with `_`: the
/// first `__` of a stored name always ends its namespace.
public enum TableName {
    static let separator = "__"
    /// An identifier's length: PostgreSQL truncates longer ones; SQLite has no limit, but one rule for both.
    public static let maximumLength = Identifier.maximumLength

    /// Tables the store itself owns: SQLite's, GeoPackage's (and its R-tree indexes), OGR's, the
    /// catalog registry and the server's own tables (`tile_*`).
    public static let reservedPrefixes = ["sqlite_", "gpkg_", "gpkgext_", "rtree_", "ogr_", "tile_"]
    public static let reservedNames = [CatalogStore.registryTable]
    /// Column names every SQLite table already answers to (the row id's aliases): a user column of that
    /// name would hide the row id from the store's own queries.
    public static let reservedColumns = ["rowid", "_rowid_", "oid"]

    /// Why `namespace` cannot prefix table names, nil when it can.
    public static func namespaceProblem(_ namespace: String) -> String? {
        if namespace.contains(separator) { return "must not contain \"\(separator)\"" }
        if namespace.hasSuffix("_") { return "must not end with \"_\"" }
        if let prefix = reservedPrefix(of: namespace + separator) {
            return "must not start with \"\(prefix.dropLast())\" (reserved for the store's own tables)"
        }
        return nil
    }

    /// Why `name` cannot be asked for as a `tableName`, nil when it can.
    static func requestProblem(_ name: String) -> String? {
        guard Identifier.isValid(name) else {
            return "\"\(name)\" is not a valid table name: use letters, digits and underscores, starting with a "
                + "letter or underscore, at most \(Identifier.maximumLength) characters"
        }
        if reservedNames.contains(where: { $0.lowercased() == name.lowercased() }) {
            return "\"\(name)\" is the name of the store's own table"
        }
        if let prefix = reservedPrefix(of: name) {
            return "\"\(name)\" starts with \"\(prefix)\", reserved for the store's own tables"
        }
        return nil
    }

    /// The stored table of `catalog`: the configuration's `tableName` (or else the catalog's name),
    /// prefixed with the namespace unless it already starts with it.
    public static func stored(for catalog: CatalogName, requested: String?) throws -> String {
        let field = "target.attributesConfiguration.tableName"
        if let requested, let problem = requestProblem(requested) {
            throw CatalogError.invalidConfiguration(field: field, message: problem)
        }
        let prefix = (catalog.namespace + separator).lowercased()
        let base = (requested ?? catalog.name).lowercased()
        let table = base.hasPrefix(prefix) && base.count > prefix.count ? base : prefix + base
        guard table.count <= maximumLength else {
            let message = "with the namespace prefix the table name \"\(table)\" is \(table.count) characters long, "
                + "at most \(maximumLength) are allowed"
            if requested != nil { throw CatalogError.invalidConfiguration(field: field, message: message) }
            throw CatalogError.invalidConfiguration(field: "target.serviceName", message: message)
        }
        return table
    }

    static func reservedPrefix(of name: String) -> String? {
        let lowered = name.lowercased()
        return reservedPrefixes.first { lowered.hasPrefix($0) }
    }
}
