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

    /// A GeoJSON Feature: id, geometry, bbox, and properties holding attributes and system fields.
    public func geoJSONFeature() throws -> JSONValue {
        guard case var .object(properties) = try JSONValue.from(system) else { return .null }
        for (name, value) in attributes { properties[name] = value }
        return .object([
            "type": .string("Feature"),
            "id": .string(system.id),
            "geometry": try JSONValue.parse(footprintGeoJSON),
            "bbox": .array(system.bbox.map(JSONValue.double)),
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

public func geoJSONFeatureCollection(_ items: [CatalogItem]) throws -> JSONValue {
    .object([
        "type": .string("FeatureCollection"),
        "features": .array(try items.map { try $0.geoJSONFeature() }),
    ])
}
