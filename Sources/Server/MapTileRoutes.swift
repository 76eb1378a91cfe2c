import Catalog
import Foundation
import Hummingbird
import Tiles
import Tiling

/// Map tiles of a catalog: XYZ tiles of its mosaic and of single items, TileJSON and WMTS. Thin:
/// parsing and headers here, everything else in `Tiles`.
extension TileServer {
    /// Render parameters (and the mosaic's `condition` and `order`) that TileJSON and WMTS carry
    /// into the tile URLs they give out.
    static let mapParameters = ["bands", "rescale", "colormap", "resampling", "condition", "order"]

    func addMapTileRoutes(_ group: RouterGroup<AppContext>) {
        group.get("layers/:name/tiles/:z/:x/:tile") { request, context in
            let (_, name) = try catalog(context)
            let parameters = try request.queryParameters()
            let (tile, tileName) = try Self.tile(context)
            let options = try Self.renderOptions(parameters)
            let order = try await itemOrder(parameters, name)
            let reply = try await tiles.mosaicTile(name, tile: tile, name: tileName, options: options,
                                                   condition: parameters.get("condition"), order: order,
                                                   ifNoneMatch: request.headers[.ifNoneMatch])
            return Self.response(reply, format: tileName.format)
        }
        group.get("layers/:name/features/:id/tiles/:z/:x/:tile") { request, context in
            let (_, name) = try catalog(context)
            let (tile, tileName) = try Self.tile(context)
            let options = try Self.renderOptions(try request.queryParameters())
            let reply = try await tiles.itemTile(name, id: try context.parameters.require("id"), tile: tile, name: tileName,
                                                 options: options, ifNoneMatch: request.headers[.ifNoneMatch])
            return Self.response(reply, format: tileName.format)
        }
        group.get("layers/:name/tilejson.json") { request, context in
            let (user, name) = try catalog(context)
            try await checkCarriedParameters(request, name)
            let layer = try await tiles.layerDescription(name, displayName: RasterLibrary.displayName(name, user: user))
            let template = try tileURL(request, path: "layers/\(Self.escaped(layer.name))/tiles/{z}/{x}/{y}.png")
            return JSONResponse.make(TileJSON.document(layer, tileURLTemplate: template))
        }
        group.get("layers/:name/features/:id/tilejson.json") { request, context in
            let (user, name) = try catalog(context)
            try await checkCarriedParameters(request, name)
            let id = try context.parameters.require("id")
            let layer = try await tiles.layerDescription(name, displayName: RasterLibrary.displayName(name, user: user), item: id)
            let template = try tileURL(request, path: "layers/\(Self.escaped(RasterLibrary.displayName(name, user: user)))"
                + "/features/\(Self.escaped(id))/tiles/{z}/{x}/{y}.png")
            return JSONResponse.make(TileJSON.document(layer, tileURLTemplate: template))
        }
        group.get("layers/:name/WMTSCapabilities.xml") { request, context in
            let (user, name) = try catalog(context)
            try await checkCarriedParameters(request, name)
            let layer = try await tiles.layerDescription(name, displayName: RasterLibrary.displayName(name, user: user))
            let base = "layers/\(Self.escaped(layer.name))"
            let resources = try TileFormat.allCases.map { format in
                (format: format.mimeType,
                 template: try tileURL(request, path: "\(base)/tiles/{TileMatrix}/{TileCol}/{TileRow}.\(format.rawValue)"))
            }
            let document = WMTSCapabilities.document(layer, resources: resources,
                                                     serviceURL: try tileURL(request, path: "\(base)/WMTSCapabilities.xml"))
            return Response(status: .ok, headers: [.contentType: "application/xml; charset=utf-8"],
                            body: ResponseBody(byteBuffer: ByteBuffer(string: document)))
        }
    }

    private static func tile(_ context: AppContext) throws -> (TileCoordinate, TileName) {
        let tileName = try TileName(try context.parameters.require("tile"))
        let number = { (key: String) throws -> Int in
            guard let text = context.parameters.get(key), text.count <= 9, let value = Int(text) else {
                throw TileRequestError.invalid(parameter: key, message: "must be a whole number")
            }
            return value
        }
        return (try TileCoordinate(z: try number("z"), x: try number("x"), y: tileName.row), tileName)
    }

    private static func renderOptions(_ parameters: QueryParameters) throws -> RenderOptions {
        var values: [String: String] = [:]
        for name in ["bands", "rescale", "colormap", "resampling"] { values[name] = parameters.get(name) }
        return try RenderOptions(parameters: values)
    }

    private static func response(_ reply: TileService.Reply, format: TileFormat) -> Response {
        // Tiles are private to their user and revalidated on every use: a deleted item never shows
        // from a cache.
        var headers: HTTPFields = [.cacheControl: "private, no-cache"]
        switch reply {
        case let .notModified(etag):
            headers[.eTag] = etag
            return Response(status: .notModified, headers: headers)
        case let .image(data, etag), let .empty(data, etag):
            headers[.eTag] = etag
            headers[.contentType] = format.mimeType
            return Response(status: .ok, headers: headers, body: ResponseBody(byteBuffer: ByteBuffer(bytes: data)))
        }
    }

    /// Refuses render parameters (and `order`) that every tile URL given out would then fail with.
    private func checkCarriedParameters(_ request: Request, _ name: CatalogName) async throws {
        let parameters = try request.queryParameters()
        _ = try Self.renderOptions(parameters)
        _ = try await itemOrder(parameters, name)
    }

    /// `order=`, checked against the catalog's attributes.
    private func itemOrder(_ parameters: QueryParameters, _ name: CatalogName) async throws -> ItemOrder? {
        guard let text = parameters.get("order") else { return nil }
        let configuration = try await Blocking.run { [library] in try library.store.requireCatalog(name).configuration }
        return try ItemOrder(text, configuration: configuration)
    }

    /// An absolute URL of this server for `path`, with the request's map parameters and, when the
    /// request authenticated with `access_token`, that token: the URL works as it is, in a client
    /// that sends no headers.
    private func tileURL(_ request: Request, path: String) throws -> String {
        let parameters = try request.queryParameters()
        var pairs = Self.mapParameters.compactMap { name in parameters.get(name).map { (name: name, value: $0) } }
        if AuthMiddleware.headerToken(in: request) == nil, let token = try AuthMiddleware.queryToken(in: request) {
            pairs.append((name: AuthMiddleware.accessTokenParameter, value: token))
        }
        let base = settings.basePath.trimmingCharacters(in: CharacterSet(charactersIn: "/"))
        let prefix = "\(Self.origin(of: request))/" + (base.isEmpty ? "" : base + "/")
        let query = pairs.isEmpty ? "" : "?" + QueryParameters.encode(pairs)
        return prefix + path + query
    }

    /// Scheme and host the client used: `Host`, and `X-Forwarded-Proto` from a TLS proxy in front.
    private static func origin(of request: Request) -> String {
        let host = request.head.authority ?? "localhost"
        let forwarded = request.headers.first { $0.name.canonicalName == "x-forwarded-proto" }?.value
        let scheme = forwarded == "https" ? "https" : "http"
        return "\(scheme)://\(host)"
    }

    private static func escaped(_ segment: String) -> String {
        segment.addingPercentEncoding(withAllowedCharacters: .urlPathAllowed.subtracting(CharacterSet(charactersIn: "/?#")))
            ?? segment
    }
}
