import Catalog
import Foundation
import Hummingbird
import Scheduler
import Tiling

extension TileServer {
    func addSchedulerRoutes(_ group: RouterGroup<AppContext>) {
        group.post("scheduler/tasks") { request, context in
            let user = try context.requireUser()
            let body = try await request.jsonBody()
            guard case let .object(fields) = body else { throw APIError.badRequest("the task parameters must be a JSON object") }
            // The seeds put the type in the URL fragment (never sent); it arrives as ?type= or in the body.
            var type = try request.queryParameters().get("type")
            if type == nil, case let .string(bodyType)? = fields["type"] { type = bodyType }
            guard let type, !type.isEmpty else {
                throw APIError(.badRequest, "invalid_parameter", "type: give the task type as ?type=tiling (or \"type\" in the body)")
            }
            let record = try await scheduler.submit(type: type, parameters: body, owner: user)
            return JSONResponse.make(.object([
                "taskId": .string(record.id), "type": .null, "owner": .null,
                "status": .string(TaskStatus.scheduled.rawValue), "taskResult": .null,
            ]))
        }
        group.get("scheduler/tasks") { request, context in
            let user = try context.requireUser()
            let query = try request.queryParameters()
            var status: TaskStatus?
            if let text = query.get("status") {
                guard let parsed = TaskStatus.allCases.first(where: { $0.rawValue.lowercased() == text.lowercased() }) else {
                    throw APIError.badRequest("status: use one of " + TaskStatus.allCases.map(\.rawValue).joined(separator: ", "))
                }
                status = parsed
            }
            let limit = try Self.integer(query.get("limit"), name: "limit", default: 100, range: 1...1000)
            let offset = try Self.integer(query.get("offset"), name: "offset", default: 0, range: 0...Int.max)
            let records = try await scheduler.list(owner: user, status: status, limit: limit, offset: offset)
            return JSONResponse.make(redactor.redact(.array(records.map(\.apiObject))))
        }
        for prefix in ["scheduler", "scheduler/tasks"] {
            group.get("\(prefix)/:id") { _, context in
                let record = try await scheduler.record(try context.parameters.require("id"), owner: try context.requireUser())
                return JSONResponse.make(redactor.redact(record.apiObject))
            }
            group.get("\(prefix)/:id/progress") { _, context in
                let progress = try await scheduler.progress(try context.parameters.require("id"), owner: try context.requireUser())
                return JSONResponse.make(redactor.redact(try JSONValue.from(progress)))
            }
        }
        group.post("scheduler/tasks/:id/cancel") { _, context in
            let progress = try await scheduler.cancel(try context.parameters.require("id"), owner: try context.requireUser())
            return JSONResponse.make(redactor.redact(try JSONValue.from(progress)))
        }
    }

    static func integer(_ text: String?, name: String, default value: Int, range: ClosedRange<Int>) throws -> Int {
        guard let text else { return value }
        guard let number = Int(text), range.contains(number) else {
            throw APIError.badRequest("\(name): expected a whole number in \(range.lowerBound)...\(range.upperBound)")
        }
        return number
    }
}
