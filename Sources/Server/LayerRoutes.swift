import Catalog
import Foundation
import Hummingbird
import Raster
import Tiling

extension TileServer {
    func addLayerRoutes(_ group: RouterGroup<AppContext>) {
        group.get("layers") { _, context in
            let user = try context.requireUser()
            let infos = try await Blocking.run { [library] in
                try library.store.catalogs(namespace: user)
                    + library.store.catalogs(namespace: RasterLibrary.temporaryNamespace(of: user))
            }
            return JSONResponse.make(redactor.redact(.array(try infos.map { try Self.layerObject($0, user: user) })))
        }
        group.get("layers/:name") { _, context in
            let (user, name) = try catalog(context)
            let info = try await Blocking.run { [library] in try library.store.requireCatalog(name) }
            return JSONResponse.make(redactor.redact(try Self.layerObject(info, user: user)))
        }
        group.delete("layers/:name") { _, context in
            let (_, name) = try catalog(context)
            try await Blocking.run { [library] in
                _ = try library.store.requireCatalog(name)
                try library.deleteCatalog(name)
            }
            return JSONResponse.make(.object(["deleted": .string(try context.parameters.require("name"))]))
        }
        group.get("layers/:name/features") { request, context in
            let (_, name) = try catalog(context)
            let parameters = try request.queryParameters()
            let query = try FeaturePaging.query(parameters)
            let page = try await Blocking.run { [library] in try library.store.page(of: name, query: query) }
            // A raster's stored path is shown relative to the data directory.
            return JSONResponse.make(redactor.redact(
                try FeaturePaging.collection(page, path: request.uri.path, parameters: parameters)))
        }
        group.get("layers/:name/features/:id") { _, context in
            let item = try await item(context)
            return JSONResponse.make(redactor.redact(try item.geoJSONFeature()))
        }
        group.delete("layers/:name/features/:id") { _, context in
            let (_, name) = try catalog(context)
            let id = try context.parameters.require("id")
            guard try await Blocking.run({ [library] in try library.deleteItem(id: id, in: name) }) else {
                throw APIError.notFound("no item \(id)")
            }
            return JSONResponse.make(.object(["deleted": .string(id)]))
        }
        group.head("layers/:name/features/:id/raster") { request, context in
            try await raster(request, context, headOnly: true)
        }
        group.get("layers/:name/features/:id/raster") { request, context in
            try await raster(request, context, headOnly: false)
        }
    }

    /// The stored raster, whole or the byte range asked for (so GDAL's /vsicurl/ reads it remotely).
    private func raster(_ request: Request, _ context: AppContext, headOnly: Bool) async throws -> Response {
        let path = library.absolutePath(of: try await item(context).system.path)
        guard let size = (try? FileManager.default.attributesOfItem(atPath: path))?[.size] as? NSNumber else {
            throw APIError.notFound("the raster file is missing")
        }
        let length = size.intValue
        var headers: HTTPFields = [.contentType: "image/tiff", .acceptRanges: "bytes"]
        var range = 0...max(0, length - 1)
        var status = HTTPResponse.Status.ok
        if let header = request.headers[.range] {
            guard let requested = Self.byteRange(header, length: length) else {
                headers[.contentRange] = "bytes */\(length)"
                return Response(status: .rangeNotSatisfiable, headers: headers)
            }
            range = requested
            status = .partialContent
            headers[.contentRange] = "bytes \(range.lowerBound)-\(range.upperBound)/\(length)"
        }
        headers[.contentLength] = String(range.count)
        if headOnly || length == 0 { return Response(status: status, headers: headers) }
        let body = try await FileIO().loadFile(path: path, range: range, context: context)
        return Response(status: status, headers: headers, body: body)
    }

    /// The caller's catalog named in the path. Another user's catalog is 404, like one that does not exist.
    func catalog(_ context: AppContext) throws -> (String, CatalogName) {
        let user = try context.requireUser()
        let text = try context.parameters.require("name")
        do {
            return (user, try library.catalogName(text, user: user, field: "name"))
        } catch TaskRequestError.forbidden {
            throw APIError.notFound("catalog \(text) does not exist")
        }
    }

    private func item(_ context: AppContext) async throws -> CatalogItem {
        let (_, name) = try catalog(context)
        let id = try context.parameters.require("id")
        guard let item = try await Blocking.run({ [library] in try library.store.item(id: id, in: name) }) else {
            throw APIError.notFound("no item \(id)")
        }
        return item
    }

    static func layerObject(_ info: CatalogInfo, user: String) throws -> JSONValue {
        guard case var .object(fields) = try JSONValue.from(info) else { return .null }
        fields["name"] = .string(RasterLibrary.displayName(info.name, user: user))
        return .object(fields)
    }

    /// One range of a `Range: bytes=...` header, clamped to the file; nil when unsatisfiable.
    static func byteRange(_ header: String, length: Int) -> ClosedRange<Int>? {
        guard header.hasPrefix("bytes="), length > 0 else { return nil }
        let spec = header.dropFirst(6).split(separator: ",").first.map(String.init) ?? ""
        let parts = spec.split(separator: "-", omittingEmptySubsequences: false).map { $0.trimmingCharacters(in: .whitespaces) }
        guard parts.count == 2 else { return nil }
        if parts[0].isEmpty {
            guard let suffix = Int(parts[1]), suffix > 0 else { return nil }
            return max(0, length - suffix)...(length - 1)
        }
        guard let start = Int(parts[0]), start < length else { return nil }
        let end = parts[1].isEmpty ? length - 1 : min(Int(parts[1]) ?? -1, length - 1)
        return end >= start ? start...end : nil
    }
}
