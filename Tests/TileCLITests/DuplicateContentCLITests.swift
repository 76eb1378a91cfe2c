import Foundation
import TestSupport
import Testing

/// Files with the same content in one batch: the first is imported, the others are skipped, however
/// many run at once.
@Suite("duplicate content in one batch, several jobs at once", .serialized)
struct DuplicateContentCLITests {
    static let originals = ["nodata_collar.tif", "rotated.tif", "wide_utm.tif", "south_up.tif"]

    /// Pairs of identical files named so that each pair sorts together and so runs at the same time.
    static func duplicatePairs(in folder: String) throws -> [String] {
        try FileManager.default.createDirectory(atPath: folder, withIntermediateDirectories: true)
        var names: [String] = []
        for (index, original) in originals.enumerated() {
            for copy in ["a", "b"] {
                let name = "p\(index)_\(copy).tif"
                try FileManager.default.copyItem(atPath: TestRasters.sample(original), toPath: folder + "/" + name)
                names.append(name)
            }
        }
        return names
    }

    static func itemFiles(_ data: String, _ catalog: String) throws -> [String] {
        let result = try TileBinary.run(["catalog", "items", "--data-dir", data, catalog])
        let features = (try result.json() as? [String: Any])?["features"] as? [[String: Any]] ?? []
        return features.compactMap { ($0["properties"] as? [String: Any])?["sourceFile"] as? String }
    }

    @Test("tile import --jobs 2 imports one file of each identical pair and skips the other", arguments: [2, 4])
    func importBatch(jobs: Int) throws {
        let root = TemporaryDirectory("duplicates-cli")
        defer { root.remove() }
        let names = try Self.duplicatePairs(in: root.file("in"))
        let data = root.file("data")
        for round in 0..<3 {
            let catalog = "alice.dup\(round)"
            let result = try TileBinary.run(["import", "--data-dir", data, "--catalog", catalog, "--create", "--json",
                                             "--jobs", String(jobs), root.file("in")])
            #expect(result.status == 0, "\(result.stderr)")
            let report = try result.json() as? [String: Any] ?? [:]
            let imported = (report["imported"] as? [[String: Any]] ?? []).compactMap { $0["file"] as? String }
            let skipped = report["skipped"] as? [[String: Any]] ?? []
            #expect(imported.count == Self.originals.count, "round \(round): imported \(imported)")
            #expect(skipped.count == Self.originals.count, "round \(round)")
            for index in Self.originals.indices {
                let pair = Set(["p\(index)_a.tif", "p\(index)_b.tif"])
                #expect(imported.filter(pair.contains).count == 1, "round \(round): pair \(index) in \(imported)")
            }
            // Each skipped file names the item its twin became.
            let importedIDs = Set((report["imported"] as? [[String: Any]] ?? []).compactMap { $0["id"] as? String })
            for entry in skipped { #expect(importedIDs.contains(entry["id"] as? String ?? "")) }
            let stored = try Self.itemFiles(data, catalog)
            #expect(stored.count == Self.originals.count && Set(stored).count == Self.originals.count, "\(stored)")
            #expect(Set(stored).isSubset(of: Set(names)))
        }
    }

    @Test("a tiling task run with --jobs 2 stores each content once")
    func tilingTask() throws {
        let data = TemporaryDirectory("duplicates-task")
        defer { data.remove() }
        let names = try Self.duplicatePairs(in: data.file("uploads/alice"))
        let files = names.map { "\"\($0)\"" }.joined(separator: ", ")
        let task = """
        {"target": {"type": "tileFeatureLayerTaskDataStorage", "serviceName": "alice.twins", "createNewService": true,
                    "attributesConfiguration": {"attributes": []}},
         "files": [\(files)], "useCog": true}
        """
        try task.write(toFile: data.file("task.json"), atomically: true, encoding: .utf8)
        let result = try TileBinary.run(["run-task", data.file("task.json"), "--data-dir", data.path, "--user", "alice",
                                         "--jobs", "2"])
        #expect(result.status == 0, "\(result.stderr)\n\(result.stdout)")
        let stored = try Self.itemFiles(data.path, "alice.twins")
        #expect(stored.count == Self.originals.count, "\(stored)")
        for index in Self.originals.indices {
            #expect(stored.filter { $0.hasPrefix("p\(index)_") }.count == 1, "\(stored)")
        }
    }
}
