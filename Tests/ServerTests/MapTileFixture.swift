import Foundation
import TestSupport
import Testing

/// One raster the map tile suites import with `tile import` before their server starts.
struct MapImport: Sendable {
    /// The name tests look the item up by.
    var key: String
    var catalog: String
    /// The raster's path, made in the suite's scratch folder when it is synthetic.
    var file: @Sendable (TemporaryDirectory) throws -> String
    /// More `tile import` arguments (`--config`, `--attr`), which may name files in the scratch folder.
    var arguments: @Sendable (TemporaryDirectory) throws -> [String] = { _ in [] }
}

/// An imported item: where it is in the catalog and on disk.
struct MapItem: Sendable {
    var catalog: String
    var id: String
    /// The item's `path` property (relative to the data directory) made absolute.
    var storedPath: String
}

/// A real `tile serve` with the map suites' rasters imported, shared by every test of a suite (see
/// `MapServerTrait`): alice owns the catalogs, bob owns none.
final class MapServer: Sendable {
    @TaskLocal static var current: MapServer?

    let server: ServerProcess
    let alice: APIClient
    let bob: APIClient
    let items: [String: MapItem]
    /// Imports that failed, by key, with `tile import`'s words: only the tests that use them fail.
    let failedImports: [String: String]
    let scratch: TemporaryDirectory

    var baseURL: String { server.baseURL }
    var aliceToken: String { alice.token ?? "" }
    var anonymous: APIClient { APIClient(baseURL: server.baseURL) }

    /// The suite's server; a test outside a suite with `.mapServer` fails here.
    static func shared() throws -> MapServer {
        try #require(current, "the suite needs the .mapServer trait")
    }

    func item(_ key: String, sourceLocation: SourceLocation = #_sourceLocation) throws -> MapItem {
        try #require(items[key], "\(key) was not imported: \(failedImports[key] ?? "not in the suite's imports")",
                     sourceLocation: sourceLocation)
    }

    private init(server: ServerProcess, alice: APIClient, bob: APIClient, items: [String: MapItem],
                 failedImports: [String: String], scratch: TemporaryDirectory) {
        self.server = server
        self.alice = alice
        self.bob = bob
        self.items = items
        self.failedImports = failedImports
        self.scratch = scratch
    }

    static func start(_ imports: [MapImport]) async throws -> MapServer {
        let scratch = TemporaryDirectory("map-tiles-input")
        let dataFolder = TemporaryDirectory("map-tiles-data")
        do {
            return try await start(imports, scratch: scratch, data: dataFolder.path)
        } catch {
            scratch.remove()
            dataFolder.remove()
            throw error
        }
    }

    private static func start(_ imports: [MapImport], scratch: TemporaryDirectory, data: String) async throws -> MapServer {
        for user in ["alice", "bob"] {
            let added = try TileBinary.run(["users", "add", "--data-dir", data, user, "--password-stdin"], stdin: "password-\(user)\n")
            guard added.status == 0 else { throw ServerProcess.ServerError.setup(added.stderr) }
        }
        // One at a time and in order: the later import is the newer item.
        var ids: [(String, String, String)] = []
        var failed: [String: String] = [:]
        for entry in imports {
            let file = try entry.file(scratch)
            let result = try TileBinary.run(["import", "--json", "--data-dir", data, "--catalog", entry.catalog, "--create"]
                + entry.arguments(scratch) + [file])
            let json = try? JSONSerialization.jsonObject(with: Data(result.stdout.utf8)) as? [String: Any]
            guard let imported = (json?["imported"] as? [[String: Any]])?.first, let id = imported["id"] as? String else {
                failed[entry.key] = "tile import exited with \(result.status): \(result.stderr)"
                continue
            }
            ids.append((entry.key, entry.catalog, id))
        }
        let server = try ServerProcess(users: [], dataDirectory: data)
        var started = false
        defer { if !started { server.stop() } }
        let alice = try await APIClient.login(server, as: "alice")
        let bob = try await APIClient.login(server, as: "bob")
        var items: [String: MapItem] = [:]
        for (key, catalog, id) in ids {
            // The stored file is found as a client finds it: the feature's `path`, relative to the data directory.
            let feature = try await alice.send("GET", "/layers/\(catalog)/features/\(id)")
            guard let path = (feature.object["properties"] as? [String: Any])?["path"] as? String else {
                throw ServerProcess.ServerError.setup("feature \(id) of \(catalog) has no path: \(feature.status)")
            }
            items[key] = MapItem(catalog: catalog, id: id, storedPath: (data as NSString).appendingPathComponent(path))
        }
        started = true
        return MapServer(server: server, alice: alice, bob: bob, items: items, failedImports: failed, scratch: scratch)
    }

    func stop() {
        server.stop()
        server.removeData()
        scratch.remove()
    }

    // MARK: Requests

    /// `/layers/CATALOG[/features/ID]/tiles/Z/X/Y[@2x].EXT[?QUERY]`.
    static func tilePath(_ catalog: String, item: String? = nil, z: Int, x: Int, y: Int, ext: String = "png",
                         retina: Bool = false, query: String = "") -> String {
        let base = item.map { "/layers/\(catalog)/features/\($0)" } ?? "/layers/\(catalog)"
        return "\(base)/tiles/\(z)/\(x)/\(y)\(retina ? "@2x" : "").\(ext)" + (query.isEmpty ? "" : "?" + query)
    }

    /// A tile as alice gets it (Bearer token); fails the test unless it is a 200 image.
    func tile(_ path: String, client: APIClient? = nil, sourceLocation: SourceLocation = #_sourceLocation) async throws
        -> (reply: APIClient.Reply, image: RasterImage) {
        let reply = try await (client ?? alice).send("GET", path)
        try #require(reply.status == 200, "\(path): \(reply.status) \(String(decoding: reply.data.prefix(300), as: UTF8.self))",
                     sourceLocation: sourceLocation)
        let ext = (path.split(separator: "?").first.map(String.init) ?? path).split(separator: ".").last.map(String.init) ?? "img"
        // Tiles are encoded with as few bands as show them (grey, no alpha when opaque): compared as RGBA (RGB for JPEG).
        let decoded = try RasterImage(encoded: reply.data, fileExtension: ext)
        try #require((1...4).contains(decoded.bands.count), "\(path): \(decoded.bands.count) bands", sourceLocation: sourceLocation)
        let image = ext == "jpg" ? decoded.rgb : decoded.rgba
        return (reply, image)
    }

    /// The JSON properties of a feature.
    func properties(_ item: MapItem) async throws -> [String: Any] {
        let reply = try await alice.send("GET", "/layers/\(item.catalog)/features/\(item.id)")
        return try #require(reply.object["properties"] as? [String: Any])
    }
}

/// Starts one `MapServer` for a whole suite, and stops it after the suite's last test.
struct MapServerTrait: SuiteTrait, TestScoping {
    let imports: [MapImport]

    var isRecursive: Bool { false }

    func provideScope(for test: Test, testCase: Test.Case?, performing function: @Sendable () async throws -> Void) async throws {
        let server = try await MapServer.start(imports)
        defer { server.stop() }
        try await MapServer.$current.withValue(server) {
            try await function()
        }
    }
}

extension Trait where Self == MapServerTrait {
    /// A server shared by the suite's tests, with `imports` imported before it starts.
    static func mapServer(_ imports: [MapImport]) -> MapServerTrait { MapServerTrait(imports: imports) }
}

/// The rasters of the map tile suites.
enum MapRasters {
    /// A one-band Byte raster of a constant value in EPSG:3857, made with `gdal_create`.
    static func constant(_ value: Int, name: String, bounds: [Double], width: Int = 256, height: Int = 256)
        -> @Sendable (TemporaryDirectory) throws -> String {
        { folder in
            let path = folder.file(name)
            try GDALTool.check("gdal_create", ["-q", "-of", "GTiff", "-outsize", String(width), String(height), "-bands", "1",
                                               "-ot", "Byte", "-burn", String(value), "-a_srs", "EPSG:3857",
                                               "-a_ullr", String(bounds[0]), String(bounds[3]), String(bounds[2]), String(bounds[1]),
                                               path])
            return path
        }
    }

    static func real(_ name: String) -> @Sendable (TemporaryDirectory) throws -> String {
        { _ in TestRasters.real(name) }
    }

    static func sample(_ name: String) -> @Sendable (TemporaryDirectory) throws -> String {
        { _ in TestRasters.sample(name) }
    }

    /// cog_int16.tif at a quarter of its size (Int16, nodata -32768): small enough to import quickly.
    static let smallInt16: @Sendable (TemporaryDirectory) throws -> String = { folder in
        let path = folder.file("int16.tif")
        try GDALTool.check("gdal_translate", ["-q", "-outsize", "25%", "25%", TestRasters.real("cog_int16.tif"), path])
        return path
    }

    /// byte.tif as Float32 from -1 to 1, without nodata.
    static let float32: @Sendable (TemporaryDirectory) throws -> String = { folder in
        let path = folder.file("float32.tif")
        try GDALTool.check("gdal_translate", ["-q", "-ot", "Float32", "-scale", "0", "255", "-1", "1",
                                              TestRasters.real("byte.tif"), path])
        return path
    }

    /// byte.tif as Int16 from 1000 to 3000, without nodata: far above cog_int16.tif's values.
    static let int16FromByte: @Sendable (TemporaryDirectory) throws -> String = { folder in
        let path = folder.file("int16-from-byte.tif")
        try GDALTool.check("gdal_translate", ["-q", "-ot", "Int16", "-scale", "0", "255", "1000", "3000",
                                              TestRasters.real("byte.tif"), path])
        return path
    }

    /// `--config` for a catalog with one Int32 attribute, `rank`, and the item's `--attr rank=N`.
    static func ranked(_ rank: Int) -> @Sendable (TemporaryDirectory) throws -> [String] {
        { folder in
            let path = folder.file("rank.json")
            if !FileManager.default.fileExists(atPath: path) {
                try Data(#"{"attributes": [{"attributeName": "rank", "type": "Int32"}]}"#.utf8).write(to: URL(fileURLWithPath: path))
            }
            return ["--config", path, "--attr", "rank=\(rank)"]
        }
    }
}
