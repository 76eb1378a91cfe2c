import CTIFF

/// The TIFF structure of a file as libtiff reads it, and whether it has the COG layout. Independent of
/// GDAL's writer: it checks what is on disk, not what GDAL meant to write.
public struct COGStructure: Sendable, Equatable, Codable {
    public struct Level: Sendable, Equatable, Codable {
        public var width: Int
        public var height: Int
        public var tileWidth: Int
        public var tileHeight: Int
        public var tiles: Int
        public var hasMask: Bool
    }

    public var path: String
    /// Full resolution first, then each overview.
    public var levels: [Level]
    /// Why the file is not a valid COG; empty when it is.
    public var problems: [String]

    public var isValid: Bool { problems.isEmpty }
    public var overviewCount: Int { max(0, levels.count - 1) }
    /// Image tiles across all levels (mask tiles not counted).
    public var tileCount: Int { levels.reduce(0) { $0 + $1.tiles } }
}

public enum COGValidator {
    public static func validate(path: String) -> COGStructure {
        var structure = COGStructure(path: path, levels: [], problems: [])
        guard let tiff = tile_tiff_open_quietly(path) else {
            structure.problems.append("not a TIFF file")
            return structure
        }
        defer { TIFFClose(tiff) }

        struct Directory {
            var offset: UInt64
            var isMask: Bool
            var isReduced: Bool
            var width: Int
            var height: Int
            var tiled: Bool
            var tileWidth: Int
            var tileHeight: Int
            var dataOffsets: [UInt64]
        }
        var directories: [Directory] = []
        repeat {
            var width: UInt32 = 0, height: UInt32 = 0, subfileType: UInt32 = 0
            var tileWidth: UInt32 = 0, tileHeight: UInt32 = 0
            _ = tile_tiff_get_uint32(tiff, UInt32(TIFFTAG_IMAGEWIDTH), &width)
            _ = tile_tiff_get_uint32(tiff, UInt32(TIFFTAG_IMAGELENGTH), &height)
            _ = tile_tiff_get_uint32(tiff, UInt32(TIFFTAG_SUBFILETYPE), &subfileType)
            let tiled = TIFFIsTiled(tiff) != 0
            if tiled {
                _ = tile_tiff_get_uint32(tiff, UInt32(TIFFTAG_TILEWIDTH), &tileWidth)
                _ = tile_tiff_get_uint32(tiff, UInt32(TIFFTAG_TILELENGTH), &tileHeight)
            }
            let chunks = tiled ? TIFFNumberOfTiles(tiff) : TIFFNumberOfStrips(tiff)
            var offsets: [UInt64] = []
            offsets.reserveCapacity(Int(chunks))
            for chunk in 0..<chunks {
                // Sparse (never written) tiles have offset 0 and take no place in the file.
                if TIFFGetStrileByteCount(tiff, chunk) > 0 { offsets.append(TIFFGetStrileOffset(tiff, chunk)) }
            }
            directories.append(Directory(
                offset: TIFFCurrentDirOffset(tiff),
                isMask: subfileType & UInt32(FILETYPE_MASK) != 0,
                isReduced: subfileType & UInt32(FILETYPE_REDUCEDIMAGE) != 0,
                width: Int(width), height: Int(height), tiled: tiled,
                tileWidth: Int(tileWidth), tileHeight: Int(tileHeight), dataOffsets: offsets))
        } while TIFFReadDirectory(tiff) != 0

        let images = directories.filter { !$0.isMask }
        guard let main = images.first, !main.isReduced else {
            structure.problems.append("the first image is not the full-resolution image")
            return structure
        }
        // Levels: each image IFD, with the mask IFD of the same size if there is one.
        var levelMembers: [[Directory]] = []
        for directory in directories {
            if directory.isMask, let index = levelMembers.lastIndex(where: { $0[0].width == directory.width }) {
                levelMembers[index].append(directory)
            } else if !directory.isMask {
                levelMembers.append([directory])
            }
        }
        structure.levels = levelMembers.map { members in
            let image = members[0]
            let tiles = image.tiled
                ? ((image.width + image.tileWidth - 1) / max(1, image.tileWidth))
                    * ((image.height + image.tileHeight - 1) / max(1, image.tileHeight))
                : 0
            return COGStructure.Level(width: image.width, height: image.height, tileWidth: image.tileWidth,
                                      tileHeight: image.tileHeight, tiles: tiles, hasMask: members.count > 1)
        }

        for (index, directory) in directories.enumerated() where !directory.tiled {
            let what = directory.isMask ? "mask" : (index == 0 ? "full-resolution image" : "overview")
            structure.problems.append("the \(what) \(directory.width)x\(directory.height) is not tiled")
        }
        for pair in zip(images, images.dropFirst()) where !(pair.1.width < pair.0.width && pair.1.height <= pair.0.height) {
            structure.problems.append("overview \(pair.1.width)x\(pair.1.height) does not follow a larger level "
                + "(\(pair.0.width)x\(pair.0.height)): overviews must be ordered and decreasing")
        }
        let firstData = directories.flatMap(\.dataOffsets).min() ?? UInt64.max
        for directory in directories where directory.offset > firstData {
            structure.problems.append("an IFD (at byte \(directory.offset)) comes after tile data (from byte "
                + "\(firstData)): a reader would have to seek past pixels to find the structure")
        }
        for directory in directories where zip(directory.dataOffsets, directory.dataOffsets.dropFirst()).contains(where: { $0.0 > $0.1 }) {
            structure.problems.append("the tiles of the \(directory.width)x\(directory.height) "
                + "\(directory.isMask ? "mask" : "image") are not stored in order")
        }
        // Smallest overview's data first, full resolution last.
        let ranges = levelMembers.map { members -> ClosedRange<UInt64>? in
            let offsets = members.flatMap(\.dataOffsets)
            guard let low = offsets.min(), let high = offsets.max() else { return nil }
            return low...high
        }
        for index in ranges.indices.dropLast() {
            guard let larger = ranges[index], let smaller = ranges[index + 1] else { continue }
            if smaller.upperBound > larger.lowerBound {
                let level = structure.levels[index + 1]
                structure.problems.append("the data of the \(level.width)x\(level.height) overview is not "
                    + "stored before the data of the larger level")
            }
        }
        return structure
    }
}
