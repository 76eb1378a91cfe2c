import Catalog
import Raster

/// `GET /layers/{name}/features` as OGC API Features pages it: `limit` items a page, `numberMatched`
/// and `numberReturned`, a `self` link and a `next` link until the last page. The next link carries
/// an opaque `cursor` (keyset paging, as fast on page 1,000 as on page 1); `offset` still works but
/// reads every item it skips.
enum FeaturePaging {
    static let defaultLimit = 100
    static let maximumLimit = 10_000

    static func query(_ parameters: QueryParameters) throws -> ItemQuery {
        let limit = try TileServer.integer(parameters.get("limit"), name: "limit", default: defaultLimit,
                                           range: 1...maximumLimit)
        let offset = try TileServer.integer(parameters.get("offset"), name: "offset", default: 0, range: 0...Int.max)
        let cursor = try parameters.get("cursor").map(PageCursor.init)
        guard cursor == nil || offset == 0 else {
            throw APIError.badRequest("cursor and offset cannot be combined: follow the next link, or use offset alone")
        }
        return ItemQuery(bbox: try parameters.get("bbox").map(boundingBox), condition: parameters.get("condition"),
                         limit: limit, cursor: cursor, offset: offset)
    }

    static func boundingBox(_ text: String) throws -> Envelope {
        guard let envelope = Envelope.parse(text) else {
            throw APIError.badRequest("bbox: expected west,south,east,north in degrees (EPSG:4326), south <= north; "
                + "west > east crosses the antimeridian")
        }
        return envelope
    }

    /// The FeatureCollection of a page, with links built from the request's own path and parameters.
    static func collection(_ page: ItemPage, path: String, parameters: QueryParameters) throws -> JSONValue {
        let geoJSON = "application/geo+json"
        var links: [JSONValue] = [
            link("self", href: href(path, parameters.all), type: geoJSON),
        ]
        if let next = page.next {
            let kept = parameters.all.filter { $0.name != "cursor" && $0.name != "offset" }
            links.append(link("next", href: href(path, kept + [("cursor", next.description)]), type: geoJSON))
        }
        var extra: [String: JSONValue] = [
            "numberReturned": .int(Int64(page.items.count)),
            "links": .array(links),
        ]
        if let matched = page.numberMatched { extra["numberMatched"] = .int(Int64(matched)) }
        return try geoJSONFeatureCollection(page.items, extra: extra)
    }

    private static func href(_ path: String, _ pairs: [(name: String, value: String)]) -> String {
        pairs.isEmpty ? path : "\(path)?\(QueryParameters.encode(pairs))"
    }

    private static func link(_ relation: String, href: String, type: String) -> JSONValue {
        .object(["rel": .string(relation), "href": .string(href), "type": .string(type)])
    }
}
