import Catalog
import Foundation
import Hummingbird
import Scheduler
import Tiles
import Tiling

/// Every error the API returns: `{"error": CODE, "message": TEXT}` with a 4xx/5xx status.
struct APIError: HTTPResponseError, Sendable {
    let status: HTTPResponse.Status
    let code: String
    let message: String
    var headers: HTTPFields = [:]

    init(_ status: HTTPResponse.Status, _ code: String, _ message: String, headers: HTTPFields = [:]) {
        self.status = status
        self.code = code
        self.message = message
        self.headers = headers
    }

    static func badRequest(_ message: String) -> APIError { APIError(.badRequest, "bad_request", message) }
    static func notFound(_ message: String) -> APIError { APIError(.notFound, "not_found", message) }
    static let unauthorized = APIError(.unauthorized, "unauthorized",
                                       "log in with POST /account/login and send the token as a cookie or a Bearer header")

    /// Refused before any password check; the same whether or not the user exists.
    static func tooManyLogins(retryAfter wait: Duration) -> APIError {
        let seconds = max(1, Int((Double(wait.components.seconds) + Double(wait.components.attoseconds) / 1e18).rounded(.up)))
        return APIError(.tooManyRequests, "too_many_requests",
                        "too many failed logins; try again in \(seconds) seconds",
                        headers: [.retryAfter: String(seconds)])
    }

    /// What a client sees of a failure it cannot fix: no detail (paths, SQL, library messages), only a
    /// reference to find the detail in the server log.
    static func internalError(reference: String) -> APIError {
        APIError(.internalServerError, "internal", "internal error (reference \(reference)); the server log has the details")
    }

    func response(from request: Request, context: some RequestContext) throws -> Response {
        JSONResponse.make(.object(["error": .string(code), "message": .string(message)]), status: status, headers: headers)
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
            case let .tooManyUnfinishedTasks(limit):
                return APIError(.tooManyRequests, "too_many_tasks",
                                "you already have \(limit) unfinished tasks (Scheduled, Planning or Executing), the most "
                                    + "allowed; wait for one to finish or cancel one")
            }
        case let error as CatalogError:
            switch error {
            case .notFound: return .notFound(error.description)
            case .alreadyExists: return APIError(.conflict, "conflict", error.description)
            case .storage: return APIError(.internalServerError, "internal", "catalog storage failed")
            default: return .badRequest(error.description)
            }
        case let error as TileRequestError:
            return APIError(.badRequest, "invalid_parameter", error.description)
        case let error as RenderWorkersError:
            return APIError(.tooManyRequests, "too_many_requests", error.description, headers: [.retryAfter: "1"])
        case let error as TileServiceError:
            return APIError(.badRequest, "too_many_items", error.description)
        case let error as HTTPError:
            let message = error.body ?? (error.status == .notFound ? "no such route" : error.status.reasonPhrase)
            let code = error.status == .notFound ? "not_found"
                : error.status == .contentTooLarge ? "too_large" : error.status.reasonPhrase.lowercased().replacingOccurrences(of: " ", with: "_")
            return APIError(error.status, code, message)
        case let error as DecodingError:
            return .badRequest("the body is not the JSON this route expects" + Self.location(of: error))
        default:
            return APIError(.internalServerError, "internal", "internal error")
        }
    }

    /// Where in the body a decoding error is, as `at a.b[0]` (never the decoder's own text).
    private static func location(of error: DecodingError) -> String {
        let path: [any CodingKey]
        switch error {
        case let .typeMismatch(_, context), let .valueNotFound(_, context), let .dataCorrupted(context):
            path = context.codingPath
        case let .keyNotFound(key, context):
            path = context.codingPath + [key]
        @unknown default:
            path = []
        }
        guard !path.isEmpty else { return "" }
        let location = path.map { key in key.intValue.map { "[\($0)]" } ?? ".\(key.stringValue)" }.joined()
        return " (at \(location.drop { $0 == "." }))"
    }
}

/// Turns whatever a handler throws into the API's JSON error, unknown routes included. A server error
/// is answered with a generic message and a reference; its detail goes to the log only. Client errors
/// keep their message, with any path inside the data directory made relative.
struct JSONErrorMiddleware<Context: RequestContext>: RouterMiddleware {
    let redactor: PathRedactor

    func handle(_ request: Request, context: Context,
                next: (Request, Context) async throws -> Response) async throws -> Response {
        do {
            return try await next(request, context)
        } catch {
            var apiError = APIError.from(error)
            if apiError.status.code >= 500 {
                let reference = String(UUID().uuidString.prefix(8)).lowercased()
                context.logger.error("request failed", metadata: [
                    "reference": "\(reference)", "method": "\(request.method)", "path": "\(request.uri.path)",
                    "error": "\(error)", "message": "\(apiError.message)",
                ])
                apiError = APIError.internalError(reference: reference)
            } else {
                apiError = APIError(apiError.status, apiError.code, redactor.redact(apiError.message), headers: apiError.headers)
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
