import Foundation

/// A filter on catalog items, written by users (`--where`, the API's `condition`):
///
///     name = 'Landsat 8' AND (cloud_cover < 20.5 OR cloud_cover IS NULL) AND width >= 512
///     platform IN ('S2A', 'S2B') AND NOT title LIKE '%test%' AND createdAt > '2024-01-01'
///
/// Names are attribute names or system field keys of the catalog. The text is parsed, every name is
/// resolved to a known column, and the filter is written out again with quoted identifiers and
/// literals, so nothing a user types reaches SQL as it was typed.
public struct Condition: Sendable, Equatable {
    /// The store's SQL `WHERE` expression.
    public let sql: String

    /// Limits that keep every accepted condition within what the store's SQL parser evaluates (SQLite
    /// refuses expressions nested about 30 deep or chained about 1,000 long): beyond them a condition
    /// is refused with the reason, never passed on to fail inside the store.
    public static let maximumLength = 32_768
    /// Comparisons (`=`, `LIKE`, `IN`, `BETWEEN`, `IS NULL`, ...) in one condition.
    public static let maximumTerms = 500
    /// Values in one `IN (...)` list.
    public static let maximumListItems = 1_000
    /// Parentheses and `NOT`s nested in one another.
    public static let maximumDepth = 16

    init(_ text: String, columns: [String: String]) throws {
        guard text.count <= Self.maximumLength else {
            throw CatalogError.invalidCondition("too long: \(text.count) characters, at most \(Self.maximumLength)")
        }
        var parser = ConditionParser(tokens: try ConditionTokenizer.tokenize(text), columns: columns)
        let tree = try parser.parseExpression(depth: 0)
        guard parser.isAtEnd else { throw CatalogError.invalidCondition("unexpected \(parser.current) after the filter") }
        sql = tree.sql
    }
}

/// A parsed condition. Chains of one operator are kept flat (`a AND b AND c`) and parentheses are
/// written only where precedence needs them, so the SQL nests no deeper than the user's text.
private indirect enum ConditionNode {
    case predicate(String)
    case and([ConditionNode])
    case or([ConditionNode])
    case not(ConditionNode)

    var sql: String {
        switch self {
        case let .predicate(text):
            return text
        case let .and(parts):
            return parts.map { if case .or = $0 { "(\($0.sql))" } else { $0.sql } }.joined(separator: " AND ")
        case let .or(parts):
            return parts.map(\.sql).joined(separator: " OR ")
        case let .not(inner):
            switch inner {
            case .predicate, .not: return "NOT \(inner.sql)"
            case .and, .or: return "NOT (\(inner.sql))"
            }
        }
    }

    static func chain(_ parts: [ConditionNode], and: Bool) -> ConditionNode {
        guard parts.count > 1 else { return parts[0] }
        let flat = parts.flatMap { part -> [ConditionNode] in
            switch (part, and) {
            case let (.and(inner), true), let (.or(inner), false): return inner
            default: return [part]
            }
        }
        return and ? .and(flat) : .or(flat)
    }
}

private enum Token: Equatable, CustomStringConvertible {
    case identifier(String)
    case string(String)
    case number(String)
    case symbol(String)
    case end

    var description: String {
        switch self {
        case let .identifier(text): return "\"\(text)\""
        case let .string(text): return "'\(text)'"
        case let .number(text): return text
        case let .symbol(text): return "'\(text)'"
        case .end: return "end of the filter"
        }
    }

    func isKeyword(_ word: String) -> Bool {
        if case let .identifier(text) = self { return text.uppercased() == word }
        return false
    }
}

private enum ConditionTokenizer {
    static func tokenize(_ text: String) throws -> [Token] {
        var tokens: [Token] = []
        let characters = Array(text)
        var index = 0
        while index < characters.count {
            let character = characters[index]
            if character.isWhitespace {
                index += 1
            } else if character.isLetter || character == "_" {
                let start = index
                while index < characters.count, characters[index].isLetter || characters[index].isNumber || characters[index] == "_" {
                    index += 1
                }
                tokens.append(.identifier(String(characters[start..<index])))
            } else if character == "\"" {
                let start = index + 1
                index += 1
                while index < characters.count, characters[index] != "\"" { index += 1 }
                guard index < characters.count else { throw CatalogError.invalidCondition("unterminated quoted name") }
                tokens.append(.identifier(String(characters[start..<index])))
                index += 1
            } else if character == "'" {
                var value = ""
                index += 1
                while true {
                    guard index < characters.count else { throw CatalogError.invalidCondition("unterminated string") }
                    if characters[index] == "'" {
                        if index + 1 < characters.count, characters[index + 1] == "'" {
                            value.append("'")
                            index += 2
                            continue
                        }
                        index += 1
                        break
                    }
                    value.append(characters[index])
                    index += 1
                }
                tokens.append(.string(value))
            } else if character.isNumber || (character == "-" && index + 1 < characters.count && characters[index + 1].isNumber) || character == "." {
                let start = index
                index += 1
                while index < characters.count, characters[index].isNumber || ".eE".contains(characters[index])
                    || ((characters[index] == "-" || characters[index] == "+") && "eE".contains(characters[index - 1])) {
                    index += 1
                }
                let text = String(characters[start..<index])
                guard Double(text) != nil else { throw CatalogError.invalidCondition("\(text) is not a number") }
                tokens.append(.number(text))
            } else {
                let two = index + 1 < characters.count ? String(characters[index...index + 1]) : ""
                if ["<=", ">=", "<>", "!="].contains(two) {
                    tokens.append(.symbol(two))
                    index += 2
                } else if "=<>(),".contains(character) {
                    tokens.append(.symbol(String(character)))
                    index += 1
                } else {
                    throw CatalogError.invalidCondition("unexpected character '\(character)'")
                }
            }
        }
        tokens.append(.end)
        return tokens
    }
}

private struct ConditionParser {
    let tokens: [Token]
    let columns: [String: String]
    var position = 0
    var terms = 0

    init(tokens: [Token], columns: [String: String]) {
        self.tokens = tokens
        self.columns = columns
    }

    var current: Token { tokens[position] }
    var isAtEnd: Bool { current == .end }

    mutating func advance() { if position < tokens.count - 1 { position += 1 } }

    mutating func accept(keyword: String) -> Bool {
        guard current.isKeyword(keyword) else { return false }
        advance()
        return true
    }

    mutating func expect(symbol: String) throws {
        guard current == .symbol(symbol) else { throw CatalogError.invalidCondition("expected '\(symbol)', found \(current)") }
        advance()
    }

    mutating func parseExpression(depth: Int) throws -> ConditionNode {
        var parts = [try parseAnd(depth: depth)]
        while accept(keyword: "OR") { parts.append(try parseAnd(depth: depth)) }
        return .chain(parts, and: false)
    }

    mutating func parseAnd(depth: Int) throws -> ConditionNode {
        var parts = [try parseNot(depth: depth)]
        while accept(keyword: "AND") { parts.append(try parseNot(depth: depth)) }
        return .chain(parts, and: true)
    }

    mutating func parseNot(depth: Int) throws -> ConditionNode {
        if current.isKeyword("NOT") || current == .symbol("(") {
            guard depth < Condition.maximumDepth else {
                throw CatalogError.invalidCondition("nested too deep: at most \(Condition.maximumDepth) levels of "
                    + "parentheses and NOT")
            }
        }
        if accept(keyword: "NOT") { return .not(try parseNot(depth: depth + 1)) }
        if current == .symbol("(") {
            advance()
            let inner = try parseExpression(depth: depth + 1)
            try expect(symbol: ")")
            return inner
        }
        terms += 1
        guard terms <= Condition.maximumTerms else {
            throw CatalogError.invalidCondition("too many terms: at most \(Condition.maximumTerms) comparisons")
        }
        return .predicate(try parseComparison())
    }

    mutating func parseComparison() throws -> String {
        guard case let .identifier(name) = current else {
            throw CatalogError.invalidCondition("expected an attribute name, found \(current)")
        }
        guard let column = columns[name] ?? columns.first(where: { $0.key.lowercased() == name.lowercased() })?.value else {
            throw CatalogError.invalidCondition("unknown attribute \"\(name)\"; known: "
                + columns.keys.sorted().joined(separator: ", "))
        }
        advance()
        let quotedColumn = Identifier.quoted(column)
        if accept(keyword: "IS") {
            let negated = accept(keyword: "NOT")
            guard accept(keyword: "NULL") else { throw CatalogError.invalidCondition("expected NULL after IS") }
            return "\(quotedColumn) IS \(negated ? "NOT " : "")NULL"
        }
        let negated = accept(keyword: "NOT")
        if accept(keyword: "LIKE") {
            guard case let .string(pattern) = current else {
                throw CatalogError.invalidCondition("LIKE needs a quoted pattern")
            }
            advance()
            return "\(quotedColumn) \(negated ? "NOT " : "")LIKE \(Self.literal(.string(pattern)))"
        }
        if accept(keyword: "IN") {
            try expect(symbol: "(")
            var values = [try parseValue()]
            while current == .symbol(",") {
                advance()
                values.append(try parseValue())
                guard values.count <= Condition.maximumListItems else {
                    throw CatalogError.invalidCondition("too many IN values: at most \(Condition.maximumListItems) in one list")
                }
            }
            try expect(symbol: ")")
            return "\(quotedColumn) \(negated ? "NOT " : "")IN (\(values.joined(separator: ", ")))"
        }
        if accept(keyword: "BETWEEN") {
            let low = try parseValue()
            guard accept(keyword: "AND") else { throw CatalogError.invalidCondition("expected AND in BETWEEN") }
            let high = try parseValue()
            return "(\(quotedColumn) \(negated ? "NOT " : "")BETWEEN \(low) AND \(high))"
        }
        guard !negated else { throw CatalogError.invalidCondition("NOT must be followed by LIKE, IN or BETWEEN here") }
        guard case let .symbol(op) = current, ["=", "!=", "<>", "<", "<=", ">", ">="].contains(op) else {
            throw CatalogError.invalidCondition("expected a comparison after \"\(name)\", found \(current)")
        }
        advance()
        return "\(quotedColumn) \(op == "!=" ? "<>" : op) \(try parseValue())"
    }

    mutating func parseValue() throws -> String {
        let token = current
        advance()
        switch token {
        case .string, .number: return Self.literal(token)
        case let .identifier(word) where ["TRUE", "FALSE"].contains(word.uppercased()):
            return word.uppercased() == "TRUE" ? "1" : "0"
        default: throw CatalogError.invalidCondition("expected a value, found \(token)")
        }
    }

    static func literal(_ token: Token) -> String {
        switch token {
        case let .string(text): return "'" + text.replacingOccurrences(of: "'", with: "''") + "'"
        case let .number(text): return text
        default: return "NULL"
        }
    }
}
