import Catalog
import Foundation
import Raster

/// What opening a data folder settles: an earlier release's folder is migrated (and checked in full,
/// once), then the work a dead process left in the journal is finished or undone.
struct LibraryRecovery {
    typealias RecoveryReport = RasterLibrary.RecoveryReport
    let root: URL
    let store: CatalogStore

    func run(journal: WorkJournal) throws -> RecoveryReport {
        var report = RecoveryReport()
        if store.needsMigration {
            report.migratedFrom = store.schemaVersion
            try store.migrate(rewritingPath: RasterLibrary.relativeStoredPath)
            try settleLegacyFolder(&report)
            makePrivate()
        }
        try journal.settleAbandoned { entry in try settle(entry, &report) }
        return report
    }

    /// Finishes or undoes one piece of work a dead process left in the journal.
    func settle(_ entry: WorkJournal.Entry, _ report: inout RecoveryReport) throws {
        let manager = FileManager.default
        switch entry {
        case let .store(catalogText, id, partialPath, finalPath):
            let catalog = try CatalogName(catalogText)
            let partial = absolute(partialPath), final = absolute(finalPath)
            let registered = try registeredItem(id: id, in: catalog) != nil
            if registered {
                // The move that died, finished: the raster if it had not moved yet, the sidecars it left.
                report.completedRenames += try StoredRasterFiles.move(from: partial, to: final).map(relative)
            }
            if registered, !manager.fileExists(atPath: final) {
                _ = try store.deleteItem(id: id, in: catalog)
                report.removedDanglingItems.append("\(catalog)/\(id)")
            }
            if !registered, manager.fileExists(atPath: final) {
                StoredRasterFiles.remove(at: final)
                report.removedOrphans.append(finalPath)
            }
            report.removedPartials += removeTemporaryFiles(of: partial)
        case let .deleteItem(catalogText, id, path):
            if try registeredItem(id: id, in: CatalogName(catalogText)) == nil {
                let file = absolute(path)
                if manager.fileExists(atPath: file) { report.removedOrphans.append(path) }
                StoredRasterFiles.remove(at: file)
            }
        case let .deleteCatalog(catalogText, folder):
            if try store.configuration(of: CatalogName(catalogText)) == nil {
                let path = absolute(folder)
                if manager.fileExists(atPath: path) {
                    try manager.removeItem(atPath: path)
                    report.removedOrphans.append(folder)
                }
            }
        }
    }

    private func registeredItem(id: String, in catalog: CatalogName) throws -> CatalogItem? {
        guard try store.configuration(of: catalog) != nil else { return nil }
        return try store.item(id: id, in: catalog)
    }

    /// The first release kept no journal: once, when its folder is migrated, every raster folder and
    /// item is checked (a partial raster is moved into place if its row exists, removed otherwise; an
    /// item whose raster is gone is removed).
    func settleLegacyFolder(_ report: inout RecoveryReport) throws {
        let manager = FileManager.default
        let registered = try store.allStoredPaths()
        let rasters = root.appendingPathComponent(RasterLibrary.rastersFolder)
        let folders = (try? manager.contentsOfDirectory(at: rasters, includingPropertiesForKeys: nil)) ?? []
        for folder in folders {
            let names = (try? manager.contentsOfDirectory(atPath: folder.path)) ?? []
            // Partial rasters, and GDAL's temporary files of partial rasters that died before them.
            let ids = Set(names.compactMap { name in
                name.range(of: ".partial.").map { String(name[..<$0.lowerBound]) }
            })
            for id in ids.sorted() {
                let partial = folder.appendingPathComponent(id + RasterLibrary.partialSuffix).path
                let final = String(partial.dropLast(RasterLibrary.partialSuffix.count)) + ".tif"
                if registered.contains(relative(final)), !manager.fileExists(atPath: final),
                   let moved = try? StoredRasterFiles.move(from: partial, to: final) {
                    report.completedRenames += moved.map(relative)
                }
                report.removedPartials += removeTemporaryFiles(of: partial)
            }
        }
        for info in try store.catalogs() {
            for item in try store.items(in: info.name) where !manager.fileExists(atPath: absolute(item.system.path)) {
                try store.deleteItem(id: item.system.id, in: info.name)
                report.removedDanglingItems.append("\(info.name)/\(item.system.id)")
            }
        }
    }

    /// The first release wrote with the process's umask: files 0600, folders 0700 from now on.
    private func makePrivate() {
        let enumerator = FileManager.default.enumerator(at: root, includingPropertiesForKeys: [.isDirectoryKey])
        while let url = enumerator?.nextObject() as? URL {
            let isDirectory = (try? url.resourceValues(forKeys: [.isDirectoryKey]))?.isDirectory ?? false
            chmod(url.path, isDirectory ? 0o700 : 0o600)
        }
        chmod(root.path, 0o700)
    }

    private func absolute(_ storedPath: String) -> String { RasterLibrary.absolutePath(of: storedPath, root: root) }
    private func relative(_ path: String) -> String { RasterLibrary.relative(path, root: root) }
    private func removeTemporaryFiles(of partial: String) -> [String] {
        RasterLibrary.removeTemporaryFiles(of: partial, root: root)
    }
}
