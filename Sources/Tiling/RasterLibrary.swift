import Catalog
import Foundation
import Raster

/// A data directory: the catalog index, the stored rasters and the users' uploads.
///
///     DIR/catalog.gpkg                    the raster catalogs (GeoPackage)
///     DIR/rasters/NS.NAME/ID.tif          stored rasters, one folder per catalog
///     DIR/uploads/USER/FILE               temporary file storage, one folder per user
///     DIR/journal/                        work a crash could interrupt (see `WorkJournal`)
///     DIR/tile-overviews/                 low-resolution mosaics of catalogs for map tiles
///
/// Items store their raster's path relative to DIR (`rasters/NS.NAME/ID.tif`), so the folder can be
/// moved or restored elsewhere; `absolutePath(of:)` resolves one. Opening the library brings a folder
/// written by an earlier release up to date, then finishes or undoes the work the journal names, so
/// the catalog never points at a missing raster and no raster is stored without its catalog item.
/// Files are created 0600 and folders 0700.
public final class RasterLibrary: Sendable {
    public let root: URL
    public let store: CatalogStore
    /// What recovery did when the library was opened.
    public let recovery: RecoveryReport
    let journal: WorkJournal

    public struct RecoveryReport: Sendable, Equatable {
        public var completedRenames: [String] = []
        public var removedPartials: [String] = []
        public var removedDanglingItems: [String] = []
        public var removedOrphans: [String] = []
        /// The schema version the catalog store was migrated from, if it was.
        public var migratedFrom: Int?
        public var isEmpty: Bool {
            completedRenames.isEmpty && removedPartials.isEmpty && removedDanglingItems.isEmpty
                && removedOrphans.isEmpty && migratedFrom == nil
        }
    }

    static let partialSuffix = ".partial.tif"
    static let rastersFolder = "rasters"

    public init(directory: String) throws {
        root = URL(fileURLWithPath: directory, isDirectory: true).standardizedFileURL
        for folder in [root, root.appendingPathComponent(Self.rastersFolder), root.appendingPathComponent("uploads"),
                       root.appendingPathComponent("journal")] {
            try Self.createPrivateDirectory(folder)
        }
        store = try CatalogStore(location: root.appendingPathComponent("catalog.gpkg").path)
        journal = WorkJournal(folder: root.appendingPathComponent("journal"))
        do {
            recovery = try LibraryRecovery(root: root, store: store).run(journal: journal)
        } catch {
            store.close()
            throw error
        }
    }

    /// Where the catalogs' low-resolution mosaics for map tiles are kept.
    public var overviewFolder: String { root.appendingPathComponent("tile-overviews").path }

    /// Closes the catalog store (see `CatalogStore.close`).
    public func close() { store.close() }

    /// The file a stored item path names (paths are stored relative to the data folder).
    public func absolutePath(of storedPath: String) -> String { Self.absolutePath(of: storedPath, root: root) }

    static func absolutePath(of storedPath: String, root: URL) -> String {
        storedPath.hasPrefix("/") ? storedPath : root.appendingPathComponent(storedPath).path
    }

    /// The relative form of a path stored by the first release (absolute, under its data folder's
    /// `rasters/`); nil when it has none.
    static func relativeStoredPath(_ path: String) -> String? {
        guard path.hasPrefix("/"), let range = path.range(of: "/\(rastersFolder)/", options: .backwards) else { return nil }
        return "\(rastersFolder)/" + path[range.upperBound...]
    }

    static func createPrivateDirectory(_ folder: URL) throws {
        let manager = FileManager.default
        guard !manager.fileExists(atPath: folder.path) else { return }
        try manager.createDirectory(at: folder, withIntermediateDirectories: true,
                                    attributes: [.posixPermissions: 0o700])
        try manager.setAttributes([.posixPermissions: 0o700], ofItemAtPath: folder.path)
    }

    public func rasterFolder(for catalog: CatalogName) -> URL {
        root.appendingPathComponent(Self.rastersFolder).appendingPathComponent(catalog.description)
    }

    /// A catalog's raster folder, relative to the data folder.
    func storedFolder(for catalog: CatalogName) -> String { "\(Self.rastersFolder)/\(catalog.description)" }

    public func uploadFolder(for user: String) throws -> URL {
        let name = try UploadName.sanitize(user, field: "user")
        let folder = root.appendingPathComponent("uploads").appendingPathComponent(name)
        try Self.createPrivateDirectory(folder)
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

    /// Where a new item's raster is written, then stored.
    struct RasterSlot {
        var id: String
        /// The final path as the item stores it, relative to the data folder.
        var storedPath: String
        var final: String
        var partial: String
    }

    /// Stores one raster as a new item of `catalog`: `write` writes it at the slot's `partial` path and
    /// returns the item to register (whose `path` is the slot's `storedPath`); then one transaction
    /// commits the row and the raster is renamed into place. The journal names the work from before
    /// the first byte is written until the rename, so a crash at any point is finished (row committed)
    /// or undone (no row) at the next open. On failure nothing is left: no row, no file.
    func storeRaster(into catalog: CatalogName, write: (RasterSlot) throws -> NewCatalogItem) throws {
        let slot = try newSlot(in: catalog)
        let ticket = try journal.begin(.store(catalog: catalog.description, id: slot.id,
                                              partial: relative(slot.partial), final: slot.storedPath))
        defer { ticket.end() }
        do {
            let item = try write(slot)
            makePrivate(datasetAt: slot.partial)
            try store.insert(item, into: catalog)
            do {
                try StoredRasterFiles.move(from: slot.partial, to: slot.final)
            } catch {
                _ = try? store.deleteItem(id: slot.id, in: catalog)
                throw error
            }
        } catch {
            removeTemporaryFiles(of: slot.partial)
            throw error
        }
    }

    private func newSlot(in catalog: CatalogName) throws -> RasterSlot {
        let folder = rasterFolder(for: catalog)
        try Self.createPrivateDirectory(folder)
        let id = UUID().uuidString.lowercased()
        return RasterSlot(id: id, storedPath: "\(storedFolder(for: catalog))/\(id).tif",
                          final: folder.appendingPathComponent("\(id).tif").path,
                          partial: folder.appendingPathComponent("\(id)\(Self.partialSuffix)").path)
    }

    private func relative(_ path: String) -> String { Self.relative(path, root: root) }

    static func relative(_ path: String, root: URL) -> String {
        let prefix = root.path + "/"
        return path.hasPrefix(prefix) ? String(path.dropFirst(prefix.count)) : path
    }

    /// A raster and its sidecars readable by the owner only, whatever mode a copy brought along.
    private func makePrivate(datasetAt path: String) {
        for file in StoredRasterFiles.files(of: path) { chmod(file, 0o600) }
    }

    /// Removes a partial raster and every file GDAL writes beside it while writing (sidecars,
    /// `.ovr.tmp` overviews, `.msk.ovr.tmp`, `.warped.tif.tmp`): every name in its folder that starts
    /// with the partial's base name and a dot. Returns the removed names.
    @discardableResult
    private func removeTemporaryFiles(of partial: String) -> [String] { Self.removeTemporaryFiles(of: partial, root: root) }

    static func removeTemporaryFiles(of partial: String, root: URL) -> [String] {
        let folder = (partial as NSString).deletingLastPathComponent
        let prefix = ((partial as NSString).lastPathComponent as NSString).deletingPathExtension + "."
        let names = (try? FileManager.default.contentsOfDirectory(atPath: folder)) ?? []
        return names.filter { $0.hasPrefix(prefix) }.compactMap { name in
            let path = (folder as NSString).appendingPathComponent(name)
            return (try? FileManager.default.removeItem(atPath: path)) != nil ? relative(path, root: root) : nil
        }
    }

    /// Removes a catalog, its items and their rasters.
    public func deleteCatalog(_ name: CatalogName) throws {
        let ticket = try journal.begin(.deleteCatalog(catalog: name.description, folder: storedFolder(for: name)))
        defer { ticket.end() }
        for path in try store.deleteCatalog(name) { StoredRasterFiles.remove(at: absolutePath(of: path)) }
        try? FileManager.default.removeItem(at: rasterFolder(for: name))
        try? FileManager.default.removeItem(atPath: (overviewFolder as NSString).appendingPathComponent(name.description))
    }

    /// Removes one item and its raster; false if there was no such item.
    public func deleteItem(id: String, in name: CatalogName) throws -> Bool {
        guard let item = try store.item(id: id, in: name) else { return false }
        let ticket = try journal.begin(.deleteItem(catalog: name.description, id: id, path: item.system.path))
        defer { ticket.end() }
        guard let deleted = try store.deleteItem(id: id, in: name) else { return false }
        StoredRasterFiles.remove(at: absolutePath(of: deleted.system.path))
        return true
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
