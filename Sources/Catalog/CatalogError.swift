/// Why a catalog operation was refused. `field` names the part of the request that is wrong.
public enum CatalogError: Error, Equatable, Sendable, CustomStringConvertible {
    case invalidName(String)
    case invalidConfiguration(field: String, message: String)
    case invalidAttribute(field: String, message: String)
    case invalidCondition(String)
    case notFound(String)
    case alreadyExists(String)
    case storage(String)
    /// The store was closed (the process is shutting down).
    case closed
    /// The store was written by a newer release, whose schema this one does not know.
    case newerSchema(found: Int, known: Int)

    public var description: String {
        switch self {
        case let .invalidName(message): return message
        case let .invalidConfiguration(field, message): return "\(field): \(message)"
        case let .invalidAttribute(field, message): return "\(field): \(message)"
        case let .invalidCondition(message): return "condition: \(message)"
        case let .notFound(name): return "\(name) does not exist"
        case let .alreadyExists(message): return message
        case let .storage(message): return "catalog storage: \(message)"
        case .closed: return "the catalog store is closed (the service is shutting down)"
        case let .newerSchema(found, known):
            return "the catalog store uses schema version \(found), newer than this release knows (\(known)); "
                + "use a newer tile"
        }
    }
}
