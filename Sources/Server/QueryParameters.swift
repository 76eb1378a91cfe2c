import Foundation
import Hummingbird

/// A request's query string decoded as HTML forms and most clients (Python's `requests`, `curl
/// --data-urlencode`) encode it: `+` is a space and `%2B` a plus. Hummingbird's `queryParameters`
/// leaves `+` as it is and keys undecoded, so every route reads its query through this.
struct QueryParameters: Sendable {
    private let pairs: [(name: String, value: String)]

    init(_ query: String?) throws {
        guard let query, !query.isEmpty else {
            pairs = []
            return
        }
        pairs = try query.split(separator: "&", omittingEmptySubsequences: true).map { pair in
            let parts = pair.split(separator: "=", maxSplits: 1, omittingEmptySubsequences: false)
            return (try Self.decode(parts[0]), parts.count > 1 ? try Self.decode(parts[1]) : "")
        }
    }

    /// The first value given for `name`.
    func get(_ name: String) -> String? {
        pairs.first { $0.name == name }?.value
    }

    /// Every parameter as sent, decoded, in order.
    var all: [(name: String, value: String)] { pairs }

    private static func decode(_ text: Substring) throws -> String {
        guard let decoded = text.replacingOccurrences(of: "+", with: " ").removingPercentEncoding else {
            throw APIError.badRequest("the query string has a malformed %-escape near \"\(text.prefix(40))\"")
        }
        return decoded
    }

    /// `name=value&...` with each part percent-encoded so that it reads back the same.
    static func encode(_ pairs: [(name: String, value: String)]) -> String {
        let allowed = CharacterSet(charactersIn: "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-._~")
        let escape = { (text: String) in text.addingPercentEncoding(withAllowedCharacters: allowed) ?? text }
        return pairs.map { "\(escape($0.name))=\(escape($0.value))" }.joined(separator: "&")
    }
}

extension Request {
    /// The decoded query string (see `QueryParameters`); a malformed one is a 400.
    func queryParameters() throws -> QueryParameters {
        try QueryParameters(uri.query)
    }
}
