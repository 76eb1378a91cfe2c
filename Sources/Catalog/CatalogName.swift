/// A raster catalog's full name, `namespace.name`, as in `target.serviceName`.
public struct CatalogName: Hashable, Sendable, Codable, CustomStringConvertible, Comparable {
    public let namespace: String
    public let name: String

    /// The scratch namespace every user may write, for pipeline intermediates.
    public static let temporaryNamespace = "temp"

    public init(_ text: String) throws {
        let parts = text.split(separator: ".", omittingEmptySubsequences: false)
        guard parts.count == 2, Identifier.isValid(String(parts[0])), Identifier.isValid(String(parts[1])) else {
            throw CatalogError.invalidName("catalog name \"\(text)\" must be namespace.name, each part letters, "
                + "digits and underscores, starting with a letter or underscore (e.g. alice.landsat_images)")
        }
        guard let problem = TableName.namespaceProblem(String(parts[0])) else {
            namespace = String(parts[0])
            name = String(parts[1])
            return
        }
        throw CatalogError.invalidName("catalog name \"\(text)\": the namespace \(problem)")
    }

    public init(namespace: String, name: String) throws {
        try self.init("\(namespace).\(name)")
    }

    public var description: String { "\(namespace).\(name)" }

    public init(from decoder: Decoder) throws {
        try self.init(try decoder.singleValueContainer().decode(String.self))
    }

    public func encode(to encoder: Encoder) throws {
        var container = encoder.singleValueContainer()
        try container.encode(description)
    }

    public static func < (lhs: CatalogName, rhs: CatalogName) -> Bool { lhs.description < rhs.description }
}

/// SQL identifiers that user input may name: checked, and always quoted when used.
enum Identifier {
    /// PostgreSQL truncates longer identifiers; SQLite has no limit, but one rule for both stores.
    static let maximumLength = 63

    static func isValid(_ text: String) -> Bool {
        guard let first = text.unicodeScalars.first, text.unicodeScalars.count <= maximumLength else { return false }
        let isLetter: (Unicode.Scalar) -> Bool = { ("a"..."z").contains($0) || ("A"..."Z").contains($0) || $0 == "_" }
        return isLetter(first) && text.unicodeScalars.allSatisfy { isLetter($0) || ("0"..."9").contains($0) }
    }

    /// `"name"`, with any `"` doubled: for checked identifiers and the names the store derives from them.
    static func quoted(_ text: String) -> String {
        "\"" + text.replacingOccurrences(of: "\"", with: "\"\"") + "\""
    }
}
