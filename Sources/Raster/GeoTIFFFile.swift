import CGDAL
import Foundation

/// A user's raster, checked before GDAL reads it: a regular file at a real path (never a `/vsi...`
/// path, never a symbolic link where the file must stay in its folder), with the sidecars beside it
/// that were verified to be what their names claim. GDAL is then given exactly those sidecars, so
/// no file can make it read another file or the network.
public struct GeoTIFFFile: Sendable {
    /// The absolute path GDAL opens.
    public let path: String
    /// What the user knows the file by; every error uses it.
    public let name: String
    /// Verified sidecars beside `path` (file names), which GDAL may use.
    public let sidecars: [String]
    /// Sidecars found and left out, with the reason (GDAL never sees them).
    public let ignored: [String: String]
    public let policy: OpenPolicy
    /// Keeps the frozen copy of an upload alive while the file is in use.
    let staging: StagingFolder?

    /// Checks `path`. With `confined`, the file must be a regular file right in its folder (an upload),
    /// and what is checked is frozen first (see `StagingFolder`); otherwise (a path a local user gave) a
    /// symbolic link to the file is followed.
    public static func check(_ path: String, name: String, policy: OpenPolicy, confined: Bool) throws -> GeoTIFFFile {
        try UserFileIsolation.run {
            let resolved = try PathCheck.resolve(path, name: name, confined: confined)
            let folder = (resolved as NSString).deletingLastPathComponent
            let fileName = (resolved as NSString).lastPathComponent
            let neighbours = FolderListing.shared.candidates(beside: fileName, in: folder)
            var staging: StagingFolder?
            if confined {
                let read = neighbours.filter { SidecarScan.Kind(of: $0, beside: fileName)?.isRead == true }
                staging = try StagingFolder(in: folder, linking: [fileName] + read, name: name)
            }
            let readFolder = staging?.path ?? folder
            var scan = SidecarScan(folder: readFolder, fileName: fileName, name: name, neighbours: neighbours,
                                   limits: policy.limits)
            try scan.run()
            return GeoTIFFFile(path: (readFolder as NSString).appendingPathComponent(fileName), name: name,
                               sidecars: scan.accepted, ignored: scan.ignored, policy: policy, staging: staging)
        }
    }

    /// Every file GDAL may read for this raster.
    public var files: [String] {
        let folder = (path as NSString).deletingLastPathComponent
        return [path] + sidecars.map { (folder as NSString).appendingPathComponent($0) }
    }

    /// Opens the file with the policy's drivers and its verified sidecars, and checks the limits before
    /// any pixel is read. Call it, and use the dataset, inside `UserFileIsolation.run`.
    public func open() throws -> Dataset {
        try UserFileIsolation.run {
            if let citation = GeoKeyText.read(path), let reference = CRSFileReferences.find(in: citation) {
                throw RasterError.unsafePath(file: name, reason: Dataset.crsNamesFile(reference))
            }
            let fileName = (path as NSString).lastPathComponent
            let siblings = [fileName] + sidecars
            let dataset: Dataset
            do {
                dataset = try Dataset.open(path, drivers: policy.allowedDrivers, siblings: siblings, name: name,
                                           retaining: staging)
            } catch {
                let detected = FormatSniffer.driver(of: path, siblings: [fileName])
                if let detected, policy.allows(detected) { throw error }
                throw RasterError.notGeoTIFF(file: name, detected: detected)
            }
            try policy.limits.check(dataset)
            dataset.loadSidecars()
            try dataset.checkCRSNamesNoFile(name: name)
            return dataset
        }
    }

    /// Copies the file and its verified sidecars to `destination` (sidecars renamed to match it).
    public func copy(to destination: String) throws {
        let manager = FileManager.default
        let folder = (path as NSString).deletingLastPathComponent
        let fileName = (path as NSString).lastPathComponent
        let base = (fileName as NSString).deletingPathExtension
        let destinationBase = (destination as NSString).deletingPathExtension
        var written: [String] = []
        do {
            try manager.copyItem(atPath: path, toPath: destination)
            written.append(destination)
            for sidecar in sidecars {
                let target: String
                if sidecar.lowercased().hasPrefix(fileName.lowercased()) {
                    target = destination + sidecar.dropFirst(fileName.count).lowercased()
                } else {
                    target = destinationBase + sidecar.dropFirst(base.count).lowercased()
                }
                try manager.copyItem(atPath: (folder as NSString).appendingPathComponent(sidecar), toPath: target)
                written.append(target)
            }
        } catch {
            for file in written { try? manager.removeItem(atPath: file) }
            throw RasterError.writeFailed(path: name, reason: "copying the file failed")
        }
    }
}

/// Hard links to an upload and the sidecars that may be read, in a private folder beside them, so what
/// was checked is what GDAL reads even if the user uploads another file under the same name meanwhile
/// (an upload replaces a file by renaming a new one over it; a link keeps the old content). Removed
/// when the last `GeoTIFFFile` using it goes away.
public final class StagingFolder: Sendable {
    /// Upload names never start with a dot, so no user can name this folder or anything in it.
    public static let prefix = ".check-"
    let path: String

    init(in folder: String, linking names: [String], name: String) throws {
        path = (folder as NSString).appendingPathComponent(Self.prefix + UUID().uuidString)
        do {
            try FileManager.default.createDirectory(atPath: path, withIntermediateDirectories: false)
        } catch {
            throw RasterError.cannotOpen(path: name, reason: "the upload folder cannot be written")
        }
        for entry in names {
            let source = (folder as NSString).appendingPathComponent(entry)
            let target = (path as NSString).appendingPathComponent(entry)
            // link(2) does not follow a symbolic link: a linked sidecar stays a link, and is refused.
            if link(source, target) != 0, PathCheck.isPlainFile(source) {
                // A file system without hard links: a copy freezes the content as well.
                try? FileManager.default.copyItem(atPath: source, toPath: target)
            }
        }
        guard let first = names.first, PathCheck.isPlainFile((path as NSString).appendingPathComponent(first)) else {
            try? FileManager.default.removeItem(atPath: path)
            throw RasterError.cannotOpen(path: name, reason: "no such file")
        }
    }

    deinit { try? FileManager.default.removeItem(atPath: path) }
}

/// Turns a path into one GDAL may open.
enum PathCheck {
    static func resolve(_ path: String, name: String, confined: Bool) throws -> String {
        let refuse = { (reason: String) in RasterError.unsafePath(file: name, reason: reason) }
        guard !isVirtual(path) else { throw refuse("GDAL virtual file system paths (/vsi...) are not accepted") }
        // Dot segments are removed by text alone: NSString.standardizingPath would resolve links.
        var absolute = URL(fileURLWithPath: path).standardized.path
        var status = stat()
        guard lstat(absolute, &status) == 0 else { throw RasterError.cannotOpen(path: name, reason: "no such file") }
        if status.st_mode & S_IFMT == S_IFLNK {
            guard !confined else { throw refuse("it is a symbolic link") }
            guard let real = realpath(absolute, nil) else { throw RasterError.cannotOpen(path: name, reason: "no such file") }
            absolute = String(cString: real)
            free(real)
            guard stat(absolute, &status) == 0 else { throw RasterError.cannotOpen(path: name, reason: "no such file") }
        }
        guard status.st_mode & S_IFMT == S_IFREG else { throw refuse("it is not a regular file") }
        guard !isVirtual(absolute) else { throw refuse("GDAL virtual file system paths (/vsi...) are not accepted") }
        return absolute
    }

    static func isVirtual(_ path: String) -> Bool {
        path.lowercased().hasPrefix("/vsi")
    }

    /// Whether `path` is a regular file and not a symbolic link.
    static func isPlainFile(_ path: String) -> Bool {
        var status = stat()
        return lstat(path, &status) == 0 && status.st_mode & S_IFMT == S_IFREG
    }
}

/// Which GDAL driver a file is, asked of common drivers whose identification decides from the file's
/// first bytes. (GDAL opens a file with any driver whose identification is undecided, so the list is
/// kept to drivers that always decide; the file is never opened with every driver.)
enum FormatSniffer {
    static let drivers = [
        "GTiff", "VRT", "DERIVED", "GPKG", "MBTiles", "SQLite", "netCDF", "HDF5", "HDF4", "PNG", "JPEG", "GIF",
        "BMP", "WEBP", "JP2OpenJPEG", "PDF", "WMS", "WMTS", "AAIGrid", "HFA", "NITF", "PCIDSK", "GeoJSON",
    ]

    static func driver(of path: String, siblings: [String]) -> String? {
        UserFileIsolation.run {
            let allowed = StringList(drivers)
            let siblingList = StringList(siblings)
            let flags = UInt32(GDAL_OF_RASTER | GDAL_OF_VECTOR)
            let driver = withExtendedLifetime((allowed, siblingList)) {
                GDALIdentifyDriverEx(path, flags, allowed.constPointer, siblingList.constPointer)
            }
            return driver.map { String(cString: GDALGetDriverShortName($0)) }
        }
    }
}
