import Foundation
import Raster

/// Which items of a catalog to return, and where the page starts.
public struct ItemQuery: Sendable, Equatable {
    /// Footprints intersecting this box (lon/lat); west > east crosses the antimeridian.
    public var bbox: Envelope?
    /// A `Condition` on attributes and system fields.
    public var condition: String?
    /// At most this many items; nil for all.
    public var limit: Int?
    /// Only items after this position (keyset paging: fast at any depth).
    public var cursor: PageCursor?
    /// Items to skip first. Every skipped item is still read: the slow way, kept for compatibility.
    public var offset: Int

    public init(bbox: Envelope? = nil, condition: String? = nil, limit: Int? = nil, cursor: PageCursor? = nil,
                offset: Int = 0) {
        self.bbox = bbox
        self.condition = condition
        self.limit = limit
        self.cursor = cursor
        self.offset = offset
    }
}

/// One page of items, in the order they were registered.
public struct ItemPage: Sendable {
    public var items: [CatalogItem]
    /// How many items match the query in all pages, when it was counted.
    public var numberMatched: Int?
    /// Where the next page starts; nil on the last page.
    public var next: PageCursor?
}

/// An opaque position in a catalog: "after the item with this feature id". Clients pass it back as
/// they got it; anything else is refused (`invalidAttribute` on `cursor`).
public struct PageCursor: Sendable, Equatable, CustomStringConvertible {
    let fid: Int64
    private static let prefix = "after:"

    init(fid: Int64) {
        self.fid = fid
    }

    public init(_ text: String) throws {
        let invalid = CatalogError.invalidAttribute(
            field: "cursor", message: "not a cursor this server gave out; take it from the \"next\" link of the previous page")
        var base64 = text.replacingOccurrences(of: "-", with: "+").replacingOccurrences(of: "_", with: "/")
        base64 += String(repeating: "=", count: (4 - base64.count % 4) % 4)
        guard text.count <= 64, text.allSatisfy({ $0.isASCII && ($0.isLetter || $0.isNumber || $0 == "-" || $0 == "_") }),
              let data = Data(base64Encoded: base64), let decoded = String(data: data, encoding: .utf8),
              decoded.hasPrefix(Self.prefix) else { throw invalid }
        let digits = decoded.dropFirst(Self.prefix.count)
        guard !digits.isEmpty, digits.allSatisfy(\.isASCII), digits.allSatisfy(\.isNumber),
              let fid = Int64(digits) else { throw invalid }
        self.fid = fid
    }

    /// The cursor as text: URL-safe base64 without padding.
    public var description: String {
        Data("\(Self.prefix)\(fid)".utf8).base64EncodedString()
            .replacingOccurrences(of: "+", with: "-").replacingOccurrences(of: "/", with: "_")
            .replacingOccurrences(of: "=", with: "")
    }
}

/// A map tile's look-up (see `CatalogStore.tileLookup`): the revision, and the items, or only
/// whether there is any when the tile is drawn from the catalog's overview.
public struct TileLookup: Sendable {
    public var revision: String
    public var items: [CatalogItem]?
    public var anyItem: Bool

    public init(revision: String, items: [CatalogItem]?, anyItem: Bool? = nil) {
        self.revision = revision
        self.items = items
        self.anyItem = anyItem ?? !(items ?? []).isEmpty
    }
}
