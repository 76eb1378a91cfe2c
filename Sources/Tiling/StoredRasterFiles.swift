import Foundation
import Raster

/// The files of a raster the library stores: the raster and the sidecars it may have been stored with
/// (`useCog=false` keeps a verified mask, PAM file, overviews or world file). They are named outright,
/// never found by listing the folder: GDAL's own dataset-file functions list the raster's folder, which
/// holds every item of the catalog, so each import would cost more as the catalog grows.
enum StoredRasterFiles {
    /// Every file of the raster at `path` that exists, the raster first.
    static func files(of path: String) -> [String] {
        candidates(of: path).filter { FileManager.default.fileExists(atPath: $0) }
    }

    /// Moves the raster at `source` and whichever of its sidecars exist to `destination`, the raster
    /// first; returns the paths written. Run again after a move that stopped half-way, it moves what
    /// is left (see `LibraryRecovery`).
    @discardableResult
    static func move(from source: String, to destination: String) throws -> [String] {
        var moved: [String] = []
        for (from, to) in zip(candidates(of: source), candidates(of: destination))
        where FileManager.default.fileExists(atPath: from) {
            try? FileManager.default.removeItem(atPath: to)
            try FileManager.default.moveItem(atPath: from, toPath: to)
            moved.append(to)
        }
        return moved
    }

    /// Copies the raster at `source` and its sidecars to `destination`; on failure nothing is left.
    static func copy(from source: String, to destination: String) throws {
        do {
            for (from, to) in zip(candidates(of: source), candidates(of: destination))
            where FileManager.default.fileExists(atPath: from) {
                try FileManager.default.copyItem(atPath: from, toPath: to)
            }
        } catch {
            remove(at: destination)
            throw error
        }
    }

    static func remove(at path: String) { removeDatasetFiles(at: path) }

    private static func candidates(of path: String) -> [String] { datasetFileNames(of: path) }
}
