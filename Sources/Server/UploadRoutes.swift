import Catalog
import Foundation
import Hummingbird
import NIOCore
import Tiling

extension TileServer {
    func addUploadRoutes(_ group: RouterGroup<AppContext>) {
        group.post("upload") { request, context in
            let user = try context.requireUser()
            let folder = try library.uploadFolder(for: user)
            let writer = UploadWriter(folder: folder, limit: settings.maxUploadBytes)
            defer { writer.discardUnfinished() }
            let contentType = request.headers[.contentType] ?? ""
            if contentType.lowercased().hasPrefix("multipart/form-data") {
                guard let boundary = Self.boundary(of: contentType) else {
                    throw APIError.badRequest("multipart/form-data without a boundary")
                }
                let parser = MultipartStream(boundary: boundary)
                parser.onPart = { headers in
                    // Plain form fields (no filename) are ignored.
                    if let name = Self.fileName(in: headers["content-disposition"] ?? "") { try writer.begin(name: name) }
                }
                parser.onBody = { bytes in try writer.write(bytes) }
                parser.onPartEnd = { try writer.finish() }
                do {
                    for try await buffer in request.body {
                        try buffer.withUnsafeReadableBytes { try parser.feed($0) }
                    }
                } catch let error as MultipartStream.Failure {
                    throw APIError.badRequest(error.description)
                }
                guard parser.isComplete else { throw APIError.badRequest("the multipart body ended before its closing boundary") }
            } else {
                guard let name = try request.queryParameters().get("name") else {
                    throw APIError.badRequest("send multipart/form-data, or a raw body with ?name=FILE")
                }
                try writer.begin(name: name)
                for try await buffer in request.body {
                    try buffer.withUnsafeReadableBytes { try writer.write($0) }
                }
                try writer.finish()
            }
            guard !writer.stored.isEmpty else { throw APIError.badRequest("the request carried no file") }
            return JSONResponse.make(.object(["files": .array(writer.stored.map(JSONValue.string))]))
        }
        group.get("upload") { _, context in
            let folder = try library.uploadFolder(for: try context.requireUser())
            let names = (try? FileManager.default.contentsOfDirectory(atPath: folder.path)) ?? []
            let files: [JSONValue] = names.filter { !$0.hasPrefix(".") }.sorted().map { name in
                let size = (try? FileManager.default.attributesOfItem(atPath: folder.appendingPathComponent(name).path))?[.size]
                return .object(["name": .string(name), "size": .int((size as? NSNumber)?.int64Value ?? 0)])
            }
            return JSONResponse.make(.object(["files": .array(files)]))
        }
        group.delete("upload/:name") { _, context in
            let folder = try library.uploadFolder(for: try context.requireUser())
            let name = try UploadName.sanitize(try context.parameters.require("name"), field: "name")
            let path = folder.appendingPathComponent(name).path
            guard FileManager.default.fileExists(atPath: path) else { throw APIError.notFound("no uploaded file \(name)") }
            try FileManager.default.removeItem(atPath: path)
            return JSONResponse.make(.object(["deleted": .string(name)]))
        }
    }

    static func boundary(of contentType: String) -> String? {
        headerParameter("boundary", in: contentType)
    }

    /// `filename` from a Content-Disposition header, or nil for a plain form field.
    static func fileName(in disposition: String) -> String? {
        guard let value = headerParameter("filename", in: disposition) else { return nil }
        // Browsers may send a path; keep only the base name.
        return value.split(whereSeparator: { $0 == "/" || $0 == "\\" }).last.map(String.init) ?? value
    }

    /// The value of `name=value` (quotes removed) among a header's `;`-separated parameters.
    private static func headerParameter(_ name: String, in header: String) -> String? {
        let prefix = name + "="
        for part in header.split(separator: ";") {
            let trimmed = part.trimmingCharacters(in: .whitespaces)
            if trimmed.lowercased().hasPrefix(prefix) {
                return String(trimmed.dropFirst(prefix.count)).trimmingCharacters(in: CharacterSet(charactersIn: "\""))
            }
        }
        return nil
    }
}

/// Streams one uploaded file at a time to disk under a temporary name, renaming it when complete.
final class UploadWriter {
    let folder: URL
    let limit: Int64
    private(set) var stored: [String] = []
    private var handle: FileHandle?
    private var temporary: URL?
    private var name = ""
    private var written: Int64 = 0

    init(folder: URL, limit: Int64) {
        self.folder = folder
        self.limit = limit
    }

    var isOpen: Bool { handle != nil }

    func begin(name rawName: String) throws {
        name = try UploadName.sanitize(rawName, field: "file name")
        let url = folder.appendingPathComponent(UploadLeftovers.uploadPrefix + UUID().uuidString)
        guard FileManager.default.createFile(atPath: url.path, contents: nil) else {
            throw APIError(.internalServerError, "internal", "cannot write the upload")
        }
        temporary = url
        handle = try FileHandle(forWritingTo: url)
        written = 0
    }

    func write(_ bytes: some Collection<UInt8>) throws {
        guard let handle else { return }
        written += Int64(bytes.count)
        guard written <= limit else {
            throw APIError(.contentTooLarge, "too_large", "\(name) is larger than the upload limit of \(limit) bytes")
        }
        try handle.write(contentsOf: Array(bytes))
    }

    func finish() throws {
        guard let handle, let temporary else { return }
        try handle.close()
        self.handle = nil
        self.temporary = nil
        let destination = folder.appendingPathComponent(name)
        _ = try? FileManager.default.removeItem(at: destination)
        try FileManager.default.moveItem(at: temporary, to: destination)
        stored.append(name)
    }

    /// Removes a file whose upload did not complete.
    func discardUnfinished() {
        try? handle?.close()
        if let temporary { try? FileManager.default.removeItem(at: temporary) }
        handle = nil
        temporary = nil
    }
}
