import Raster

/// A catalog's configuration and what is in it.
public struct CatalogInfo: Codable, Sendable, Equatable {
    public var name: CatalogName
    public var tableName: String
    public var configuration: AttributesConfiguration
    public var createdAt: String
    public var itemCount: Int
    /// [west, south, east, north] of all footprints, nil when the catalog is empty.
    public var extent: [Double]?
}

/// One stored raster: its footprint (EPSG:4326), the user's attributes and the system fields.
public struct CatalogItem: Sendable, Equatable {
    public var system: SystemFields
    /// Values by attribute name.
    public var attributes: [String: JSONValue]
    /// The footprint as a GeoJSON geometry object (text).
    public var footprintGeoJSON: String

    public init(system: SystemFields, attributes: [String: JSONValue], footprintGeoJSON: String) {
        self.system = system
        self.attributes = attributes
        self.footprintGeoJSON = footprintGeoJSON
    }

    /// A GeoJSON Feature as RFC 7946 has it: id, geometry (exterior rings counter-clockwise, holes
    /// clockwise), bbox (west > east when the footprint crosses the antimeridian), and properties
    /// holding attributes and system fields.
    public func geoJSONFeature() throws -> JSONValue {
        try geoJSONFeature(footprint: try? Geometry(geoJSON: footprintGeoJSON))
    }

    fileprivate func geoJSONFeature(footprint: Geometry?) throws -> JSONValue {
        guard case var .object(properties) = try JSONValue.from(system) else { return .null }
        for (name, value) in attributes { properties[name] = value }
        let geometry = try footprint.map { try JSONValue.parse($0.withRightHandRule().geoJSON()) } ?? .null
        let bbox = footprint?.geographicBoundingBox ?? system.bbox
        return .object([
            "type": .string("Feature"),
            "id": .string(system.id),
            "geometry": geometry,
            "bbox": .array(bbox.map(JSONValue.double)),
            "properties": .object(properties),
        ])
    }
}

/// What the importer hands the catalog to register.
public struct NewCatalogItem: Sendable {
    public var system: SystemFields
    public var attributes: [String: JSONValue]
    public var footprintWKT: String

    public init(system: SystemFields, attributes: [String: JSONValue], footprintWKT: String) {
        self.system = system
        self.attributes = attributes
        self.footprintWKT = footprintWKT
    }
}

/// A GeoJSON FeatureCollection of `items`, with the bbox of them all; `extra` members (paging:
/// `numberMatched`, `numberReturned`, `links`) are added as given.
public func geoJSONFeatureCollection(_ items: [CatalogItem], extra: [String: JSONValue] = [:]) throws -> JSONValue {
    let footprints = items.map { try? Geometry(geoJSON: $0.footprintGeoJSON) }
    var members = extra
    members["type"] = .string("FeatureCollection")
    members["features"] = .array(try zip(items, footprints).map { try $0.geoJSONFeature(footprint: $1) })
    if let bbox = Geometry.geographicBoundingBox(of: footprints.compactMap { $0 }) {
        members["bbox"] = .array(bbox.map(JSONValue.double))
    }
    return .object(members)
}
