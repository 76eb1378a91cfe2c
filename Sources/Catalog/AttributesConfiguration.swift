import Foundation

/// The user-facing schema of a raster catalog (`target.attributesConfiguration` in the API).
/// Fields the server does not interpret (`stringFormat`, `tableReferences`, ...) are kept as given.
public struct AttributesConfiguration: Codable, Sendable, Equatable {
    public var idAttribute: String?
    public var titleAttribute: String?
    public var geometryAttribute: String?
    public var tableName: String?
    public var attributes: [AttributeDefinition]
    public var tableReferences: JSONValue?

    public init(idAttribute: String? = nil, titleAttribute: String? = nil, geometryAttribute: String? = nil,
                tableName: String? = nil, attributes: [AttributeDefinition] = [], tableReferences: JSONValue? = nil) {
        self.idAttribute = idAttribute
        self.titleAttribute = titleAttribute
        self.geometryAttribute = geometryAttribute
        self.tableName = tableName
        self.attributes = attributes
        self.tableReferences = tableReferences
    }

    public init(from decoder: Decoder) throws {
        let container = try decoder.container(keyedBy: CodingKeys.self)
        idAttribute = try container.decodeIfPresent(String.self, forKey: .idAttribute)
        titleAttribute = try container.decodeIfPresent(String.self, forKey: .titleAttribute)
        geometryAttribute = try container.decodeIfPresent(String.self, forKey: .geometryAttribute)
        tableName = try container.decodeIfPresent(String.self, forKey: .tableName)
        attributes = try container.decodeIfPresent([AttributeDefinition].self, forKey: .attributes) ?? []
        tableReferences = try container.decodeIfPresent(JSONValue.self, forKey: .tableReferences)
    }

    public func attribute(named name: String) -> AttributeDefinition? {
        attributes.first { $0.attributeName == name }
    }

    /// Attributes one catalog may define at most: every attribute is a column, and SQLite refuses
    /// tables of more than 2,000 columns (PostgreSQL 1,600), at run time, long after creation.
    public static let maximumAttributes = 500

    /// Checks names, types and collisions with the system fields; field paths name the culprit.
    public func validate() throws {
        let prefix = "target.attributesConfiguration"
        if let tableName, let problem = TableName.requestProblem(tableName) {
            throw CatalogError.invalidConfiguration(field: "\(prefix).tableName", message: problem)
        }
        guard attributes.count <= Self.maximumAttributes else {
            throw CatalogError.invalidConfiguration(
                field: "\(prefix).attributes",
                message: "\(attributes.count) attributes, at most \(Self.maximumAttributes) are allowed")
        }
        let systemColumns = Set(SystemField.all.map(\.column) + ["fid"] + TableName.reservedColumns)
        if let geometryAttribute {
            guard Identifier.isValid(geometryAttribute) else {
                throw CatalogError.invalidConfiguration(field: "\(prefix).geometryAttribute",
                                                        message: "\"\(geometryAttribute)\" is not a valid column name")
            }
            guard !systemColumns.contains(geometryAttribute.lowercased()) else {
                throw CatalogError.invalidConfiguration(
                    field: "\(prefix).geometryAttribute",
                    message: "\"\(geometryAttribute)\" is a column every raster catalog already has")
            }
        }
        var names = Set<String>(), columns = Set<String>()
        let reservedColumns = systemColumns.union([geometryColumn.lowercased()])
        let reservedNames = Set(SystemField.all.map { $0.key.lowercased() })
        for (index, attribute) in attributes.enumerated() {
            let field = "\(prefix).attributes[\(index)]"
            guard Identifier.isValid(attribute.attributeName) else {
                throw CatalogError.invalidConfiguration(
                    field: "\(field).attributeName",
                    message: "\"\(attribute.attributeName)\" must be letters, digits and underscores")
            }
            guard Identifier.isValid(attribute.column) else {
                throw CatalogError.invalidConfiguration(field: "\(field).columnName",
                                                        message: "\"\(attribute.column)\" is not a valid column name")
            }
            guard !reservedNames.contains(attribute.attributeName.lowercased()) else {
                throw CatalogError.invalidConfiguration(
                    field: field, message: "\"\(attribute.attributeName)\" is a system field of every raster catalog")
            }
            guard !reservedColumns.contains(attribute.column.lowercased()) else {
                throw CatalogError.invalidConfiguration(
                    field: attribute.columnName == nil ? "\(field).attributeName" : "\(field).columnName",
                    message: "\"\(attribute.column)\" is a column every raster catalog already has (system fields, "
                        + "fid, SQLite's rowid aliases and the geometry column \"\(geometryColumn)\")")
            }
            guard names.insert(attribute.attributeName.lowercased()).inserted,
                  columns.insert(attribute.column.lowercased()).inserted else {
                throw CatalogError.invalidConfiguration(field: field,
                                                        message: "\"\(attribute.attributeName)\" is defined twice")
            }
        }
        for (key, value) in [("idAttribute", idAttribute), ("titleAttribute", titleAttribute)] {
            if let value, attribute(named: value) == nil, SystemField.byKey[value] == nil {
                throw CatalogError.invalidConfiguration(field: "\(prefix).\(key)",
                                                        message: "\"\(value)\" is not one of the catalog's attributes")
            }
        }
    }

    var geometryColumn: String { geometryAttribute ?? "footprint" }

    /// Checks user-supplied values against the attribute types; returns them normalised.
    public func validateValues(_ values: [String: JSONValue], field: String = "attributes") throws -> [String: JSONValue] {
        var normalised: [String: JSONValue] = [:]
        for (name, value) in values {
            guard let definition = attribute(named: name) else {
                let known = attributes.map(\.attributeName).joined(separator: ", ")
                throw CatalogError.invalidAttribute(
                    field: "\(field).\(name)",
                    message: "the catalog has no attribute \"\(name)\"" + (known.isEmpty ? "" : " (it has: \(known))"))
            }
            normalised[name] = try definition.type.coerce(value, field: "\(field).\(name)")
        }
        return normalised
    }
}

public struct AttributeDefinition: Codable, Sendable, Equatable {
    public var attributeName: String
    public var columnName: String?
    public var alias: String?
    public var type: AttributeType
    public var subType: String?
    public var isEditable: Bool?
    public var isDisplayed: Bool?
    public var aggregation: String?
    public var expression: String?
    public var stringFormat: JSONValue?

    public init(attributeName: String, columnName: String? = nil, alias: String? = nil, type: AttributeType = .string) {
        self.attributeName = attributeName
        self.columnName = columnName
        self.alias = alias
        self.type = type
    }

    public init(from decoder: Decoder) throws {
        let container = try decoder.container(keyedBy: CodingKeys.self)
        attributeName = try container.decode(String.self, forKey: .attributeName)
        columnName = try container.decodeIfPresent(String.self, forKey: .columnName)
        alias = try container.decodeIfPresent(String.self, forKey: .alias)
        type = try container.decodeIfPresent(AttributeType.self, forKey: .type) ?? .string
        subType = try container.decodeIfPresent(String.self, forKey: .subType)
        isEditable = try container.decodeIfPresent(Bool.self, forKey: .isEditable)
        isDisplayed = try container.decodeIfPresent(Bool.self, forKey: .isDisplayed)
        aggregation = try container.decodeIfPresent(String.self, forKey: .aggregation)
        expression = try container.decodeIfPresent(String.self, forKey: .expression)
        stringFormat = try container.decodeIfPresent(JSONValue.self, forKey: .stringFormat)
    }

    /// The table column: `columnName`, or the attribute name when none is given.
    public var column: String { columnName ?? attributeName }
}

public enum AttributeType: String, Codable, Sendable, CaseIterable {
    case string = "String", int32 = "Int32", int64 = "Int64", double = "Double", boolean = "Boolean"
    case dateTime = "DateTime", json = "Json"

    public init(from decoder: Decoder) throws {
        let text = try decoder.singleValueContainer().decode(String.self)
        guard let type = AttributeType.allCases.first(where: { $0.rawValue.lowercased() == text.lowercased() }) else {
            throw DecodingError.dataCorrupted(.init(
                codingPath: decoder.codingPath,
                debugDescription: "unknown attribute type \"\(text)\"; use one of "
                    + AttributeType.allCases.map(\.rawValue).joined(separator: ", ")))
        }
        self = type
    }

    /// The value as this type stores it, or an error naming `field`. Null is allowed for every type.
    func coerce(_ value: JSONValue, field: String) throws -> JSONValue {
        let wrongType = CatalogError.invalidAttribute(
            field: field, message: "expected a \(rawValue) value, got \(value.jsonText.prefix(60))")
        switch (self, value) {
        case (_, .null), (.json, _), (.string, .string), (.boolean, .bool), (.int64, .int):
            return value
        case let (.int32, .int(number)):
            guard number >= Int64(Int32.min), number <= Int64(Int32.max) else { throw wrongType }
            return value
        case let (.double, .int(number)):
            return .double(Double(number))
        case (.double, .double):
            return value
        case let (.dateTime, .string(text)):
            guard let date = ISO8601.parse(text) else {
                throw CatalogError.invalidAttribute(
                    field: field, message: "\"\(text)\" is not an ISO 8601 date-time (e.g. 2023-12-08T12:00:00+00:00)")
            }
            return .string(ISO8601.format(date))
        default:
            throw wrongType
        }
    }
}

/// ISO 8601 in and out: any common form in, UTC with milliseconds out.
public enum ISO8601 {
    public static func parse(_ text: String) -> Date? {
        for options: ISO8601DateFormatter.Options in [
            [.withInternetDateTime, .withFractionalSeconds], [.withInternetDateTime], [.withFullDate],
        ] {
            let formatter = ISO8601DateFormatter()
            formatter.formatOptions = options
            if let date = formatter.date(from: text) { return date }
        }
        return nil
    }

    public static func format(_ date: Date) -> String {
        let formatter = ISO8601DateFormatter()
        formatter.formatOptions = [.withInternetDateTime, .withFractionalSeconds]
        return formatter.string(from: date)
    }
}
