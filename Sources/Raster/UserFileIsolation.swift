import CGDAL

/// GDAL settings that hold, on the calling thread, while a user's file is read: GDAL lists no folder
/// (a file sees only the siblings it is given, and a sidecar GDAL opens by itself sees none of its
/// own), and `/vsicurl/` and the cloud file systems built on it refuse every URL. Thread-local, so
/// other work in the process is unaffected.
public enum UserFileIsolation {
    static let options: [(String, String)] = [
        ("GDAL_DISABLE_READDIR_ON_OPEN", "EMPTY_DIR"),
        // An extension no URL ends with: GDAL's curl-based file systems then open nothing.
        ("CPL_VSIL_CURL_ALLOWED_EXTENSIONS", ".network-access-is-disabled-for-user-files"),
    ]

    public static func run<T>(_ body: () throws -> T) rethrows -> T {
        try GDALRuntime.withThreadLocalOptions(options, body)
    }
}
