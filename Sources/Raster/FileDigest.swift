import Crypto
import Foundation

public enum FileDigest {
    /// SHA-256 of a file's bytes as lowercase hex, read in 4 MiB chunks (memory stays flat).
    public static func sha256(path: String) throws -> String {
        guard let handle = FileHandle(forReadingAtPath: path) else {
            throw RasterError.cannotOpen(path: path, reason: "cannot read the file")
        }
        defer { try? handle.close() }
        var hasher = SHA256()
        while let chunk = try handle.read(upToCount: 4 << 20), !chunk.isEmpty {
            hasher.update(data: chunk)
        }
        return hasher.finalize().map { String(format: "%02x", $0) }.joined()
    }
}
