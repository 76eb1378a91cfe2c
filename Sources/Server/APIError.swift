import Catalog
import Foundation
import Hummingbird
import Scheduler
import Tiling

/// Every error the API returns: `{"error": CODE, "message": TEXT}` with a 4xx/5xx status.
struct APIError: HTTPResponseError, Sendable {
    let status: HTTPResponse.Status
    let code: String
    let message: String

    init(_ status: HTTPResponse.Status, _ code: String, _ message: String) {
        self.status = status
        self.code = code
        self.message = message
    }

    static func badRequest(_ message: String) -> APIError { APIError(.badRequest, "bad_request", message) }
    static func notFound(_ message: String) -> APIError { APIError(.notFound, "not_found", message) }
    static let unauthorized = APIError(.unauthorized, "unauthorized",
                                       "log in with POST /account/login and send the token as a cookie or a Bearer header")

    func response(from request: Request, context: some RequestContext) throws -> Response {
        JSONResponse.make(.object(["error": .string(code), "message": .string(message)]), status: status)
    }

    /// The API's view of any error a handler may throw.
    static func from(_ error: any Error) -> APIError {
        switch error {
        case let error as APIError:
            return error
        case let error as TaskRequestError:
            switch error {
            case let .badRequest(field, message): return APIError(.badRequest, "invalid_parameter", "\(field): \(message)")
            case let .forbidden(message): return APIError(.forbidden, "forbidden", message)
            case let .notFound(message): return APIError(.notFound, "not_found", message)
            case let .conflict(message): return APIError(.conflict, "conflict", message)
            }
        case let error as SchedulerError:
            switch error {
            case .notFound: return .notFound("no such task")
            case let .alreadyFinished(status):
                return APIError(.conflict, "already_finished", "the task has already finished (\(status.rawValue))")
            }
        case let error as CatalogError:
            switch error {
            case .notFound: return .notFound(error.description)
            case .alreadyExists: return APIError(.conflict, "conflict", error.description)
            case .storage: return APIError(.internalServerError, "internal", error.description)
            default: return .badRequest(error.description)
            }
        case let error as HTTPError:
            let message = error.body ?? (error.status == .notFound ? "no such route" : error.status.reasonPhrase)
            let code = error.status == .notFound ? "not_found"
                : error.status == .contentTooLarge ? "too_large" : error.status.reasonPhrase.lowercased().replacingOccurrences(of: " ", with: "_")
            return APIError(error.status, code, message)
        case is DecodingError:
            return .badRequest("the body is not the JSON this route expects: \(error)")
        default:
            return APIError(.internalServerError, "internal", "internal error: \(error)")
        }
    }
}

/// Turns whatever a handler throws into the API's JSON error, unknown routes included.
struct JSONErrorMiddleware<Context: RequestContext>: RouterMiddleware {
    func handle(_ request: Request, context: Context,
                next: (Request, Context) async throws -> Response) async throws -> Response {
        do {
            return try await next(request, context)
        } catch {
            let apiError = APIError.from(error)
            if apiError.status.code >= 500 {
                context.logger.error("request failed", metadata: ["path": "\(request.uri.path)", "error": "\(error)"])
            }
            return try apiError.response(from: request, context: context)
        }
    }
}

enum JSONResponse {
    static func make(_ value: JSONValue, status: HTTPResponse.Status = .ok, headers: HTTPFields = [:]) -> Response {
        var fields = headers
        fields[.contentType] = "application/json; charset=utf-8"
        return Response(status: status, headers: fields, body: ResponseBody(byteBuffer: ByteBuffer(string: value.jsonText)))
    }

    static func encode<T: Encodable>(_ value: T, status: HTTPResponse.Status = .ok) throws -> Response {
        let encoder = JSONEncoder()
        encoder.outputFormatting = [.sortedKeys, .withoutEscapingSlashes]
        return Response(status: status, headers: [.contentType: "application/json; charset=utf-8"],
                        body: ResponseBody(byteBuffer: ByteBuffer(bytes: try encoder.encode(value))))
    }
}

extension Request {
    /// The body as JSON, read up to `limit` bytes; malformed JSON and oversize bodies are 4xx.
    func jsonBody(limit: Int = 1 << 20) async throws -> JSONValue {
        let buffer: ByteBuffer
        do {
            buffer = try await body.collect(upTo: limit)
        } catch {
            throw APIError(.contentTooLarge, "too_large", "the JSON body is larger than \(limit) bytes")
        }
        guard buffer.readableBytes > 0 else { throw APIError.badRequest("the request needs a JSON body") }
        do {
            return try JSONValue.parse(String(buffer: buffer))
        } catch {
            throw APIError.badRequest("the body is not valid JSON")
        }
    }
}
