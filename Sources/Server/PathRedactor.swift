import Catalog
import Foundation

/// Removes the data directory's location from text sent to clients: an uploaded file is named
/// relative to its user's upload folder, anything else relative to the data directory.
struct PathRedactor: Sendable {
    /// The data directory as given and with symbolic links resolved (an error may use either).
    let roots: [String]

    init(root: URL) {
        var roots = [root.standardizedFileURL.path, root.resolvingSymlinksInPath().path]
        roots = roots.map { $0.count > 1 && $0.hasSuffix("/") ? String($0.dropLast()) : $0 }
        // The longer form first, so that one root being a prefix of the other cannot leave a remainder.
        self.roots = Array(Set(roots.filter { $0.count > 1 })).sorted { $0.count > $1.count }
    }

    func redact(_ text: String) -> String {
        var text = text
        for root in roots where text.contains(root) {
            text = Self.removingUserFolders(in: text, under: root + "/uploads/")
            text = text.replacingOccurrences(of: root + "/", with: "")
            text = text.replacingOccurrences(of: root, with: "the data directory")
        }
        return text
    }

    /// Every string inside `value`, redacted.
    func redact(_ value: JSONValue) -> JSONValue {
        switch value {
        case let .string(text): return .string(redact(text))
        case let .array(values): return .array(values.map(redact))
        case let .object(fields): return .object(fields.mapValues(redact))
        default: return value
        }
    }

    /// `PREFIX<user>/` removed wherever it occurs.
    private static func removingUserFolders(in text: String, under prefix: String) -> String {
        var result = ""
        var rest = text[...]
        while let range = rest.range(of: prefix) {
            result += rest[..<range.lowerBound]
            let afterPrefix = rest[range.upperBound...]
            if let slash = afterPrefix.firstIndex(of: "/") {
                rest = afterPrefix[afterPrefix.index(after: slash)...]
            } else {
                rest = afterPrefix
            }
        }
        return result + rest
    }
}
