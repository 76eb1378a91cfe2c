import CGDAL

/// Process-wide GDAL setup. `GDALAllRegister` must run exactly once and never concurrently, so every
/// entry point that touches GDAL goes through `GDALRuntime.ensureInitialized()` first.
public enum GDALRuntime {
    private static let initialization: Void = {
        // A bounded block cache keeps memory flat whatever the raster size; an operator can still
        // raise it with the usual GDAL_CACHEMAX environment variable.
        if getenv("GDAL_CACHEMAX") == nil {
            CPLSetConfigOption("GDAL_CACHEMAX", "128")
        }
        // Errors are reported through `RasterError` with GDAL's own message; nothing is printed.
        CPLSetErrorHandler(CPLQuietErrorHandler)
        GDALAllRegister()
    }()

    public static func ensureInitialized() {
        _ = initialization
    }

    /// Sets GDAL's block cache, process-wide.
    public static func setBlockCache(megabytes: Int) {
        ensureInitialized()
        GDALSetCacheMax64(Int64(megabytes) << 20)
    }

    /// Runs `body` with GDAL configuration options set on this thread only, restoring them after.
    public static func withThreadLocalOptions<T>(_ options: [(String, String)], _ body: () throws -> T) rethrows -> T {
        ensureInitialized()
        let saved = options.map { key, _ in (key, CPLGetThreadLocalConfigOption(key, nil).map { String(cString: $0) }) }
        for (key, value) in options { CPLSetThreadLocalConfigOption(key, value) }
        defer {
            for (key, value) in saved { CPLSetThreadLocalConfigOption(key, value) }
        }
        return try body()
    }

    /// The GDAL release this process is linked against, e.g. "3.6.2".
    public static var version: String {
        ensureInitialized()
        return String(cString: GDALVersionInfo("RELEASE_NAME"))
    }
}

/// GDAL's last error on this thread, or nil. Read it right after the failing call.
package func lastGDALErrorMessage() -> String? {
    guard let message = CPLGetLastErrorMsg() else { return nil }
    let text = String(cString: message)
    return text.isEmpty ? nil : text
}

/// Copies a string GDAL allocated for the caller and releases it.
package func takeGDALString(_ pointer: UnsafeMutablePointer<CChar>?) -> String? {
    guard let pointer else { return nil }
    defer { VSIFree(pointer) }
    return String(cString: pointer)
}
