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

    /// Closes the catalog store (see `CatalogStore.close`).
    public func close() { store.close() }

    public func rasterFolder(for catalog: CatalogName) -> URL {
        root.appendingPathComponent("rasters").appendingPathComponent(catalog.description)
    }

    public func uploadFolder(for user: String) throws -> URL {
        let name = try UploadName.sanitize(user, field: "user")
        let folder = root.appendingPathComponent("uploads").appendingPathComponent(name)
        try FileManager.default.createDirectory(at: folder, withIntermediateDirectories: true)
        return folder
    }

    /// The catalog a user means by `apiName`. `temp.NAME` is each user's own scratch catalog, stored as
    /// `temp_USER.NAME`; anything outside the user's namespace and `temp` is refused.
    public func catalogName(_ apiName: String, user: String, field: String) throws -> CatalogName {
        let name: CatalogName
        do {
            name = try CatalogName(apiName)
        } catch {
            throw TaskRequestError.badRequest(field: field, message: String(describing: error))
        }
        if name.namespace == CatalogName.temporaryNamespace {
            return try CatalogName(namespace: Self.temporaryNamespace(of: user), name: name.name)
        }
        guard name.namespace == user else {
            throw TaskRequestError.forbidden("\(user) may not use catalog \(apiName): use the namespace "
                + "\"\(user)\" or \"\(CatalogName.temporaryNamespace)\"")
        }
        return name
    }

    /// The stored namespace of a user's `temp` catalogs.
    public static func temporaryNamespace(of user: String) -> String { "\(CatalogName.temporaryNamespace)_\(user)" }

    /// The name a user sees for a stored catalog (`temp_alice.x` is `temp.x` to alice).
    public static func displayName(_ name: CatalogName, user: String) -> String {
        name.namespace == temporaryNamespace(of: user) ? "\(CatalogName.temporaryNamespace).\(name.name)" : name.description
    }

    /// Removes a user's scratch catalogs (at logout or session expiry).
    public func deleteTemporaryCatalogs(of user: String) throws {
        for info in try store.catalogs(namespace: Self.temporaryNamespace(of: user)) { try deleteCatalog(info.name) }
    }

    /// Lands a raster written at `partial`: commits its catalog row, then renames the raster to the
    /// row's path. On failure nothing is left: no row, no file. A crash between the two steps is
    /// finished by recovery at the next open.
    func register(partial: String, item: NewCatalogItem, into catalog: CatalogName) throws {
        do {
            try store.insert(item, into: catalog)
        } catch {
            removeDatasetFiles(at: partial)
            throw error
        }
        do {
            try renameDatasetFiles(from: partial, to: item.system.path)
        } catch {
            _ = try? store.deleteItem(id: item.system.id, in: catalog)
            removeDatasetFiles(at: partial)
            throw error
        }
    }

    /// A new item's final and temporary raster paths in a catalog's folder.
    func newRasterPaths(in catalog: CatalogName) throws -> (id: String, final: String, partial: String) {
        let folder = rasterFolder(for: catalog)
        try FileManager.default.createDirectory(at: folder, withIntermediateDirectories: true)
        let id = UUID().uuidString.lowercased()
        return (id, folder.appendingPathComponent("\(id).tif").path,
                folder.appendingPathComponent("\(id)\(Self.partialSuffix)").path)
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
