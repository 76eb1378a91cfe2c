import Catalog
import Foundation
import Raster

/// A data directory: the catalog index, the stored rasters and the users' uploads.
///
///     DIR/catalog.gpkg                    the raster catalogs (GeoPackage)
///     DIR/rasters/NS.NAME/ID.tif          stored rasters, one folder per catalog
///     DIR/uploads/USER/FILE               temporary file storage, one folder per user
///
/// Opening it finishes or removes whatever an interrupted import left behind, so the catalog never
/// points at a missing raster and no raster is stored without its catalog item.
public final class RasterLibrary: Sendable {
    public let root: URL
    public let store: CatalogStore
    /// What recovery did when the library was opened.
    public let recovery: RecoveryReport

    public struct RecoveryReport: Sendable, Equatable {
        public var completedRenames: [String] = []
        public var removedPartials: [String] = []
        public var removedDanglingItems: [String] = []
        public var isEmpty: Bool { completedRenames.isEmpty && removedPartials.isEmpty && removedDanglingItems.isEmpty }
    }

    static let partialSuffix = ".partial.tif"

    public init(directory: String) throws {
        root = URL(fileURLWithPath: directory, isDirectory: true).standardizedFileURL
        let manager = FileManager.default
        for folder in [root, root.appendingPathComponent("rasters"), root.appendingPathComponent("uploads")] {
            try manager.createDirectory(at: folder, withIntermediateDirectories: true)
        }
        store = try CatalogStore(location: root.appendingPathComponent("catalog.gpkg").path)
        recovery = try Self.recover(store: store, rasters: root.appendingPathComponent("rasters"))
    }

    public func rasterFolder(for catalog: CatalogName) -> URL {
        root.appendingPathComponent("rasters").appendingPathComponent(catalog.description)
    }

    public func uploadFolder(for user: String) throws -> URL {
        let name = try UploadName.sanitize(user, field: "user")
        let folder = root.appendingPathComponent("uploads").appendingPathComponent(name)
        try FileManager.default.createDirectory(at: folder, withIntermediateDirectories: true)
        return folder
    }

    /// Removes a catalog, its items and their rasters.
    public func deleteCatalog(_ name: CatalogName) throws {
        for path in try store.deleteCatalog(name) { removeDatasetFiles(at: path) }
        try? FileManager.default.removeItem(at: rasterFolder(for: name))
    }

    /// Removes one item and its raster; false if there was no such item.
    public func deleteItem(id: String, in name: CatalogName) throws -> Bool {
        guard let item = try store.deleteItem(id: id, in: name) else { return false }
        removeDatasetFiles(at: item.system.path)
        return true
    }

    private static func recover(store: CatalogStore, rasters: URL) throws -> RecoveryReport {
        var report = RecoveryReport()
        let manager = FileManager.default
        let registered = try store.allStoredPaths()
        let folders = (try? manager.contentsOfDirectory(at: rasters, includingPropertiesForKeys: nil)) ?? []
        for folder in folders {
            let names = (try? manager.contentsOfDirectory(atPath: folder.path)) ?? []
            for name in names where name.hasSuffix(partialSuffix) {
                let partial = folder.appendingPathComponent(name).path
                let final = String(partial.dropLast(partialSuffix.count)) + ".tif"
                if registered.contains(final), !manager.fileExists(atPath: final),
                   (try? renameDatasetFiles(from: partial, to: final)) != nil {
                    report.completedRenames.append(final)
                } else {
                    removeDatasetFiles(at: partial)
                    report.removedPartials.append(partial)
                }
            }
        }
        for info in try store.catalogs() {
            for item in try store.items(in: info.name) where !manager.fileExists(atPath: item.system.path) {
                try store.deleteItem(id: item.system.id, in: info.name)
                report.removedDanglingItems.append("\(info.name)/\(item.system.id)")
            }
        }
        return report
    }
}

/// File and folder names that come from users: reduced to a safe base name, never a path.
public enum UploadName {
    public static func sanitize(_ name: String, field: String) throws -> String {
        let refuse = { (why: String) in TaskRequestError.badRequest(field: field, message: "\"\(name)\" \(why)") }
        guard !name.isEmpty, name.utf8.count <= 255 else { throw refuse("must be 1 to 255 bytes long") }
        guard !name.contains("\0"), !name.contains("/"), !name.contains("\\") else {
            throw refuse("must be a plain file name, not a path")
        }
        guard name != ".", name != "..", !name.hasPrefix(".") else { throw refuse("must not start with a dot") }
        guard !name.unicodeScalars.contains(where: { $0.properties.generalCategory == .control }) else {
            throw refuse("contains control characters")
        }
        return name
    }
}
