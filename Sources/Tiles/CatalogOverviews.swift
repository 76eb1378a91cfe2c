import Catalog
import Foundation
import Raster

/// A catalog's low-resolution mosaic, drawn instead of its items at low zooms.
struct Overview: Sendable {
    var path: String
    var bands: [BandSummary]
    var statistics: [Int: ClosedRange<Double>]?
}

/// The low-resolution mosaics of catalogs, one file per catalog revision.
public final class CatalogOverviews: Sendable {
    let folder: String

    public init(folder: String) {
        self.folder = folder
    }

    /// The overview of exactly this revision, when low zoom `zoom` is drawn from one.
    func current(for catalog: CatalogName, revision: String, zoom: Int) -> Overview? {
        nil
    }
}
