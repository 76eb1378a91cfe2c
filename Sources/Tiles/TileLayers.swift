import Catalog
import Foundation
import Raster

extension TileService {
    /// What TileJSON and WMTS say of a catalog (or of one item): its bounds, and zooms from 0 to
    /// the first zoom whose pixels are as fine as the finest item's.
    public func layerDescription(_ catalog: CatalogName, displayName: String, item: String? = nil) async throws
        -> TileLayerDescription {
        let items = try await workers.run(for: catalog.namespace) { [store] _ in
            if let item {
                guard let found = try store.revisionAndItem(id: item, in: catalog).item else {
                    throw CatalogError.notFound("item \(item)")
                }
                return [found]
            }
            return try store.items(in: catalog)
        }
        let boxes = items.map(\.system.bbox).filter { $0.count == 4 }
        guard !boxes.isEmpty else {
            return TileLayerDescription(name: displayName, bounds: [-180, -85.0511, 180, 85.0511], minZoom: 0, maxZoom: 0)
        }
        let bounds = [boxes.map { $0[0] }.min()!, boxes.map { $0[1] }.min()!, boxes.map { $0[2] }.max()!,
                      boxes.map { $0[3] }.max()!]
        let finest = items.compactMap { Self.mercatorResolution($0.system) }.min()
        return TileLayerDescription(name: displayName, bounds: bounds, minZoom: 0,
                                    maxZoom: finest.map(WebMercatorQuad.zoom(forResolution:)) ?? 18)
    }

    /// An item's pixel size in EPSG:3857 metres at its centre (Web Mercator stretches by 1/cos φ).
    static func mercatorResolution(_ system: SystemFields) -> Double? {
        guard let native = system.resolutionX, native > 0, system.bbox.count == 4 else { return nil }
        let metres = system.nativeCrs.hasPrefix("GEOG") ? native * 111_319.49 : native
        let latitude = (system.bbox[1] + system.bbox[3]) / 2 * .pi / 180
        return metres / max(0.01, cos(latitude))
    }
}
