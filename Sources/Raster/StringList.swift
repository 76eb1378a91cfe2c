import CGDAL

/// Owns a GDAL string list (`char **`, "CSL") and destroys it once.
package final class StringList {
    package private(set) var pointer: UnsafeMutablePointer<UnsafeMutablePointer<CChar>?>?

    package init(_ values: [String] = []) {
        for value in values { append(value) }
    }

    init(options: [String: String]) {
        for (key, value) in options.sorted(by: { $0.key < $1.key }) { set(key, value) }
    }

    deinit { CSLDestroy(pointer) }

    func append(_ value: String) {
        pointer = CSLAddString(pointer, value)
    }

    func set(_ key: String, _ value: String) {
        pointer = CSLSetNameValue(pointer, key, value)
    }

    /// The list as GDAL's `CSLConstList` / `const char *const *` parameters want it.
    package var constPointer: UnsafePointer<UnsafePointer<CChar>?>? {
        pointer.map { UnsafePointer(OpaquePointer($0)) }
    }
}

/// Reads a GDAL-owned string list without taking ownership.
func readStringList(_ list: UnsafeMutablePointer<UnsafeMutablePointer<CChar>?>?) -> [String] {
    guard let list else { return [] }
    var result: [String] = []
    var index = 0
    while let item = list[index] {
        result.append(String(cString: item))
        index += 1
    }
    return result
}
