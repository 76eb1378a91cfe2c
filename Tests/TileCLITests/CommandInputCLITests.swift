import Foundation
import TestSupport
import Testing

/// What the commands make of their inputs: a data directory that is not there, --config files of
/// either shape (and broken ones), --config against an existing catalog, a --bbox west of Greenwich.
@Suite("tile: data directories, --config files, --bbox values", .serialized)
struct CommandInputCLITests {
    static let raster = TestRasters.sample("rotated.tif")

    static func importOne(_ data: String, _ catalog: String, _ extra: [String], _ file: String = raster) throws -> TileBinary.Result {
        try TileBinary.run(["import", "--data-dir", data, "--catalog", catalog, "--json"] + extra + [file])
    }

    static func write(_ text: String, to path: String) throws {
        try text.write(toFile: path, atomically: true, encoding: .utf8)
    }

    static func configuration(_ data: String, _ catalog: String) throws -> [String: Any]? {
        let result = try TileBinary.run(["catalog", "show", "--data-dir", data, catalog])
        return (try? result.json() as? [String: Any])?["configuration"] as? [String: Any]
    }

    @Test("read-only commands refuse a missing data directory, or a folder without a catalog, and create nothing")
    func readOnlyCommands() throws {
        let root = TemporaryDirectory("no-data-dir")
        defer { root.remove() }
        let missing = root.file("typo/dir")
        let other = root.file("other")
        try FileManager.default.createDirectory(atPath: other, withIntermediateDirectories: true)
        try Self.write("not a data directory", to: other + "/notes.txt")
        let empty = root.file("empty")
        try FileManager.default.createDirectory(atPath: empty, withIntermediateDirectories: true)
        let lists: [[String]] = [["catalog", "list"], ["users", "list"]]
        let commands: [[String]] = lists + [["catalog", "show", "alice.x"], ["catalog", "items", "alice.x"],
                                            ["catalog", "delete", "alice.x"]]
        for command in commands {
            let result = try TileBinary.run(command + ["--data-dir", missing])
            #expect(result.status == 2, "\(command): \(result.stderr)")
            #expect(result.stderr == "Error: no data directory at \(missing)\n", "\(command): \(result.stderr)")
            #expect(result.stdout.isEmpty)
            #expect(!FileManager.default.fileExists(atPath: root.file("typo")), "\(command) created the directory")

            let elsewhere = try TileBinary.run(command + ["--data-dir", other])
            #expect(elsewhere.status == 2, "\(command): \(elsewhere.stderr)")
            #expect(elsewhere.stderr.contains("no data directory at \(other): it has no catalog.gpkg"), "\(elsewhere.stderr)")
            #expect(try FileManager.default.contentsOfDirectory(atPath: other) == ["notes.txt"], "\(command) wrote into it")

            // An empty directory is a data directory nothing was stored in: lists are empty, the
            // others have nothing to work on; nothing is written either way.
            let bare = try TileBinary.run(command + ["--data-dir", empty])
            if lists.contains(command) {
                #expect(bare.status == 0 && bare.stdout.isEmpty, "\(command): \(bare.stderr)")
            } else {
                #expect(bare.status == 2, "\(command): \(bare.stderr)")
                #expect(bare.stderr.contains("no data directory at \(empty): it has no catalog.gpkg"), "\(bare.stderr)")
            }
            #expect(try FileManager.default.contentsOfDirectory(atPath: empty).isEmpty, "\(command) wrote into it")
        }
        // run-task reads the user's uploads from the data directory: a missing one is refused too.
        try Self.write(#"{"target": {"serviceName": "alice.x"}, "files": ["a.tif"]}"#, to: root.file("task.json"))
        let task = try TileBinary.run(["run-task", root.file("task.json"), "--data-dir", missing, "--user", "alice"])
        #expect(task.status == 2 && task.stderr.contains("no data directory at \(missing)"), "\(task.stderr)")
        #expect(!FileManager.default.fileExists(atPath: root.file("typo")))

        // Commands that add to a data directory still create it; then the read-only ones work.
        let created = root.file("new/data")
        #expect(try Self.importOne(created, "alice.x", ["--create"]).status == 0)
        let list = try TileBinary.run(["catalog", "list", "--data-dir", created])
        #expect(list.status == 0 && list.stdout.contains("alice.x\t1 items"), "\(list.stderr)")
        let users = try TileBinary.run(["users", "add", "--data-dir", root.file("users"), "bob", "--password-stdin"],
                                       stdin: "a long enough password\n")
        #expect(users.status == 0, "\(users.stderr)")
        let listed = try TileBinary.run(["users", "list", "--data-dir", root.file("users")])
        #expect(listed.status == 0 && listed.stdout == "bob\n", "\(listed.stderr)")
    }

    @Test("--config takes the bare attributesConfiguration and the wrapped one a task body has")
    func configShapes() throws {
        let root = TemporaryDirectory("config-shapes")
        defer { root.remove() }
        let data = root.file("data")
        let attributes = #"{"attributes": [{"attributeName": "name", "type": "String"}, {"attributeName": "cloud", "type": "Int32"}]}"#
        try Self.write(attributes, to: root.file("bare.json"))
        try Self.write(#"{"attributesConfiguration": \#(attributes)}"#, to: root.file("wrapped.json"))
        for shape in ["bare", "wrapped"] {
            let result = try Self.importOne(data, "alice.\(shape)", ["--create", "--config", root.file("\(shape).json"),
                                                                     "--attr", "name=x", "--attr", "cloud=3"])
            #expect(result.status == 0, "\(shape): \(result.stderr)")
            let configuration = try Self.configuration(data, "alice.\(shape)")
            let names = (configuration?["attributes"] as? [[String: Any]] ?? []).compactMap { $0["attributeName"] as? String }
            #expect(names == ["name", "cloud"], "\(shape): \(String(describing: configuration))")
        }
    }

    @Test("bad --config files are refused in plain words; no catalog is created",
          arguments: [
            ("missing", nil, "cannot read --config {FILE}: no such file"),
            ("folder", nil, "cannot read --config {FILE}: it is a folder"),
            ("empty", "", "--config {FILE} is not valid JSON: the file is empty"),
            ("syntax", "{\"attributes\": [\n  {\"attributeName\": \"a\" \"type\": \"String\"}\n]}",
             "--config {FILE} is not valid JSON: invalid value at line 2, column "),
            ("truncated", "{\"attributes\": [", "--config {FILE} is not valid JSON: it ends before the JSON is complete"),
            ("task", "{\"target\": {}, \"files\": [], \"attributes\": []}",
             "--config {FILE}: unknown top-level keys \"files\", \"target\" (allowed at the top: attributesConfiguration"),
            ("beside", "{\"attributesConfiguration\": {\"attributes\": []}, \"files\": []}",
             "--config {FILE}: unknown top-level key \"files\" beside \"attributesConfiguration\""),
            ("inner", "{\"attributesConfiguration\": {\"atributes\": []}}",
             "--config {FILE}: unknown key \"atributes\" in \"attributesConfiguration\" (allowed: idAttribute"),
            ("array", "[]", "--config {FILE} must hold a JSON object"),
            ("type", "{\"attributes\": [{\"attributeName\": \"a\", \"type\": 5}]}",
             "--config {FILE}: attributes[0].type must be a string"),
            ("name", "{\"attributes\": [{\"type\": \"String\"}]}",
             "--config {FILE}: \"attributeName\" is missing in attributes[0]"),
          ] as [(String, String?, String)])
    func badConfig(label: String, content: String?, expected: String) throws {
        let root = TemporaryDirectory("bad-config")
        defer { root.remove() }
        let file = root.file("\(label).json")
        if let content { try Self.write(content, to: file) }
        if label == "folder" { try FileManager.default.createDirectory(atPath: file, withIntermediateDirectories: true) }
        let data = root.file("data")
        let result = try Self.importOne(data, "alice.x", ["--create", "--config", file])
        #expect(result.status == 2)
        let message = expected.replacingOccurrences(of: "{FILE}", with: file)
        #expect(result.stderr.hasPrefix("Error: " + message), "\(result.stderr)")
        #expect(!result.stderr.contains("NSCocoaErrorDomain") && !result.stderr.contains("Usage:"), "\(result.stderr)")
        let list = try TileBinary.run(["catalog", "list", "--data-dir", data])
        #expect(list.status == 0 && list.stdout.isEmpty, "\(list.stderr)")
    }

    @Test("--create --config on a catalog with another configuration is refused and imports nothing")
    func configConflict() throws {
        let root = TemporaryDirectory("config-conflict")
        defer { root.remove() }
        let data = root.file("data")
        try Self.write(#"{"attributes": [{"attributeName": "name", "type": "String"}]}"#, to: root.file("first.json"))
        try Self.write(#"{"attributesConfiguration": {"attributes": [{"attributeName": "name", "type": "String"}]}}"#,
                       to: root.file("same.json"))
        try Self.write(#"{"attributes": [{"attributeName": "other", "type": "Int32"}]}"#, to: root.file("other.json"))
        #expect(try Self.importOne(data, "alice.x", ["--create", "--config", root.file("first.json")]).status == 0)

        let refused = try Self.importOne(data, "alice.x", ["--create", "--config", root.file("other.json")],
                                         TestRasters.sample("south_up.tif"))
        #expect(refused.status == 2, "\(refused.stderr)")
        #expect(refused.stderr.contains("catalog alice.x already exists with another configuration"), "\(refused.stderr)")
        let items = try TileBinary.run(["catalog", "items", "--data-dir", data, "alice.x"])
        #expect(((try items.json() as? [String: Any])?["features"] as? [Any])?.count == 1)
        let names = (try Self.configuration(data, "alice.x")?["attributes"] as? [[String: Any]] ?? []).compactMap { $0["attributeName"] as? String }
        #expect(names == ["name"])

        // The same configuration (in either shape) imports into the existing catalog.
        let same = try Self.importOne(data, "alice.x", ["--create", "--config", root.file("same.json")],
                                      TestRasters.sample("south_up.tif"))
        #expect(same.status == 0, "\(same.stderr)")
        let after = try TileBinary.run(["catalog", "items", "--data-dir", data, "alice.x"])
        #expect(((try after.json() as? [String: Any])?["features"] as? [Any])?.count == 2)
    }

    @Test("--bbox takes bounds that start with '-'")
    func negativeBoundingBox() throws {
        let root = TemporaryDirectory("bbox-negative")
        defer { root.remove() }
        let data = root.file("data")
        // rotated.tif lies near 7.47E 54.13N; antimeridian.tif crosses 180.
        #expect(try Self.importOne(data, "alice.x", ["--create"]).status == 0)
        func count(_ bbox: String) throws -> Int? {
            let result = try TileBinary.run(["catalog", "items", "--data-dir", data, "alice.x", "--bbox", bbox])
            #expect(result.status == 0, "\(bbox): \(result.stderr)")
            return ((try? result.json() as? [String: Any])?["features"] as? [Any])?.count
        }
        #expect(try count("-80,20,-70,30") == 0)
        #expect(try count("-10,-10,10,60") == 1)
        #expect(try count("-180,-90,180,90") == 1)
        let bad = try TileBinary.run(["catalog", "items", "--data-dir", data, "alice.x", "--bbox", "-80,20"])
        #expect(bad.status == 2 && bad.stderr.contains("--bbox takes west,south,east,north"), "\(bad.stderr)")
    }
}
