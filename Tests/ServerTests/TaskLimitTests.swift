import Foundation
import TestSupport
import Testing

/// What one user may ask of the workers: files per task (a pipeline's steps together), unfinished
/// tasks per user, and the order queued tasks of different users start in.
@Suite("task limits per user", .serialized)
struct TaskLimitTests {
    /// A tiling task; a `large.tif` among its files is converted to a COG with a polygonized footprint,
    /// which keeps a worker busy for seconds (a copy would take milliseconds).
    static func tiling(_ files: [String], catalog: String) -> [String: Any] {
        let slow = files.contains("large.tif")
        return ["target": ["type": "tileFeatureLayerTaskDataStorage", "serviceName": catalog, "createNewService": true,
                           "attributesConfiguration": [:] as [String: Any]],
                "files": files, "polygonize": slow, "useCog": slow]
    }

    static func pipeline(_ steps: [[String]]) -> [String: Any] {
        ["innerTasks": steps.enumerated().map { index, files in
            ["type": "tiling"].merging(tiling(files, catalog: "temp.step\(index)")) { $1 }
        }]
    }

    static func message(_ reply: APIClient.Reply) -> String { reply.object["message"] as? String ?? "" }

    static func tasks(_ client: APIClient) async throws -> [[String: Any]] {
        try await client.send("GET", "/scheduler/tasks").json as? [[String: Any]] ?? []
    }

    static func submit(_ client: APIClient, _ type: String, _ body: [String: Any]) async throws -> APIClient.Reply {
        try await client.send("POST", "/scheduler/tasks?type=\(type)", json: body)
    }

    @Test("more files than --max-files-per-task, in one task or over a pipeline's steps, or a file listed twice: 400, nothing queued")
    func filesPerTask() async throws {
        let server = try ServerProcess(users: ["alice"], arguments: ["--max-files-per-task", "3"])
        defer { server.stop(); server.removeData() }
        let alice = try await APIClient.login(server, as: "alice")
        let samples = ["rotated.tif", "south_up.tif", "wide_utm.tif", "nodata_collar.tif"]
        for (index, sample) in samples.enumerated() {
            #expect(try await alice.upload(TestRasters.sample(sample), as: "f\(index).tif").status == 200)
        }
        let four = try await Self.submit(alice, "tiling", Self.tiling(["f0.tif", "f1.tif", "f2.tif", "f3.tif"], catalog: "alice.x"))
        #expect(four.status == 400 && Self.message(four).hasPrefix("files:") && Self.message(four).contains("at most 3"),
                "\(four.status) \(Self.message(four))")
        let twice = try await Self.submit(alice, "tiling", Self.tiling(["f0.tif", "f1.tif", "f0.tif"], catalog: "alice.x"))
        #expect(twice.status == 400 && Self.message(twice).hasPrefix("files[2]:") && Self.message(twice).contains("twice"),
                "\(twice.status) \(Self.message(twice))")
        // Two steps of two files each: each within the limit, together past it.
        let split = try await Self.submit(alice, "pipeline", Self.pipeline([["f0.tif", "f1.tif"], ["f2.tif", "f3.tif"]]))
        #expect(split.status == 400 && Self.message(split).hasPrefix("innerTasks[1].files:"),
                "\(split.status) \(Self.message(split))")
        let duplicateStep = try await Self.submit(alice, "pipeline", Self.pipeline([["f0.tif"], ["f1.tif", "f1.tif"]]))
        #expect(duplicateStep.status == 400 && Self.message(duplicateStep).hasPrefix("innerTasks[1].files[1]:"),
                "\(duplicateStep.status) \(Self.message(duplicateStep))")
        let long = try await Self.submit(alice, "pipeline", Self.pipeline(Array(repeating: ["f0.tif"], count: 101)))
        #expect(long.status == 400 && Self.message(long).hasPrefix("innerTasks:") && Self.message(long).contains("at most 100 steps"),
                "\(long.status) \(Self.message(long))")
        #expect(try await Self.tasks(alice).isEmpty)

        // At the limit, both run.
        let three = try await Self.submit(alice, "tiling", Self.tiling(["f0.tif", "f1.tif", "f2.tif"], catalog: "alice.x"))
        #expect(three.status == 200)
        let steps = try await Self.submit(alice, "pipeline", Self.pipeline([["f0.tif"], ["f1.tif", "f3.tif"]]))
        #expect(steps.status == 200)
        for reply in [three, steps] {
            let done = try await alice.waitForTask(try #require(reply.object["taskId"] as? String))
            #expect(done["status"] as? String == "Completed", "\(done)")
        }
    }

    @Test("by default a task may name 10,000 files: 10,001 (or 20,000) are refused before any file is looked at")
    func defaultFileLimit() async throws {
        let server = try ServerProcess(users: ["alice"])
        defer { server.stop(); server.removeData() }
        let alice = try await APIClient.login(server, as: "alice")
        for count in [20_000, 10_001] {
            let names = (0..<count).map { "file\($0).tif" }
            let reply = try await Self.submit(alice, "tiling", Self.tiling(names, catalog: "alice.many"))
            #expect(reply.status == 400 && Self.message(reply).hasPrefix("files:") && Self.message(reply).contains("at most 10000"),
                    "\(count): \(reply.status) \(Self.message(reply))")
        }
        // 10,000 pass the count and fail on the first file, which was never uploaded.
        let names = (0..<10_000).map { "file\($0).tif" }
        let reply = try await Self.submit(alice, "tiling", Self.tiling(names, catalog: "alice.many"))
        #expect(reply.status == 400 && Self.message(reply).hasPrefix("files[0]:"), "\(reply.status) \(Self.message(reply))")
        let repeated = try await Self.submit(alice, "tiling", Self.tiling(Array(repeating: "file0.tif", count: 20_000), catalog: "alice.many"))
        #expect(repeated.status == 400, "\(Self.message(repeated))")
        #expect(try await Self.tasks(alice).isEmpty)
    }

    @Test("past --max-queued-tasks-per-user unfinished tasks a user's new task is 429 and not queued; others still submit")
    func unfinishedTasksPerUser() async throws {
        let server = try ServerProcess(arguments: ["--max-queued-tasks-per-user", "2", "--workers", "1"])
        defer { server.stop(); server.removeData() }
        let alice = try await APIClient.login(server, as: "alice")
        let bob = try await APIClient.login(server, as: "bob")
        let inputs = TemporaryDirectory("queue-limit")
        defer { inputs.remove() }
        #expect(try await alice.upload(try LargeRaster.make(in: inputs.path), as: "large.tif").status == 200)
        #expect(try await alice.upload(TestRasters.sample("rotated.tif"), as: "small.tif").status == 200)
        #expect(try await bob.upload(TestRasters.sample("rotated.tif"), as: "small.tif").status == 200)

        // One worker: the first large task runs, the second waits in the queue.
        let first = try await Self.submit(alice, "tiling", Self.tiling(["large.tif"], catalog: "alice.one"))
        let second = try await Self.submit(alice, "pipeline", Self.pipeline([["large.tif"], ["small.tif"]]))
        #expect(first.status == 200 && second.status == 200)
        let firstID = try #require(first.object["taskId"] as? String)
        let secondID = try #require(second.object["taskId"] as? String)

        let refused = try await Self.submit(alice, "tiling", Self.tiling(["small.tif"], catalog: "alice.three"))
        #expect(refused.status == 429, "\(refused.status) \(Self.message(refused))")
        #expect(refused.errorCode == "too_many_tasks")
        #expect(Self.message(refused).contains("2 unfinished tasks"), "\(Self.message(refused))")
        #expect(try await Self.tasks(alice).count == 2)

        // The limit is per user.
        let bobs = try await Self.submit(bob, "tiling", Self.tiling(["small.tif"], catalog: "bob.one"))
        #expect(bobs.status == 200)

        // A cancelled task no longer counts.
        let cancelled = try await alice.send("POST", "/scheduler/tasks/\(firstID)/cancel")
        try #require(cancelled.status == 200 && cancelled.object["status"] as? String == "Canceled",
                     "the first task had to be running still: \(cancelled.status) \(cancelled.object)")
        let third = try await Self.submit(alice, "tiling", Self.tiling(["small.tif"], catalog: "alice.three"))
        #expect(third.status == 200, "\(third.status) \(Self.message(third))")
        let fourth = try await Self.submit(alice, "tiling", Self.tiling(["small.tif"], catalog: "alice.four"))
        #expect(fourth.status == 429)

        _ = try await alice.send("POST", "/scheduler/tasks/\(secondID)/cancel")
        for (client, reply) in [(alice, third), (bob, bobs)] {
            let done = try await client.waitForTask(try #require(reply.object["taskId"] as? String))
            #expect(done["status"] as? String == "Completed", "\(done)")
        }
        #expect(try await Self.tasks(alice).count == 3)
    }

    @Test("a freed worker goes to the queued task of the user with the fewest running tasks, not to the oldest")
    func fairBetweenUsers() async throws {
        let server = try ServerProcess(arguments: ["--workers", "2"])
        defer { server.stop(); server.removeData() }
        let alice = try await APIClient.login(server, as: "alice")
        let bob = try await APIClient.login(server, as: "bob")
        let inputs = TemporaryDirectory("fair-queue")
        defer { inputs.remove() }
        let large = try LargeRaster.make(in: inputs.path)
        #expect(try await alice.upload(large, as: "large.tif").status == 200)
        #expect(try await alice.upload(TestRasters.sample("rotated.tif"), as: "small.tif").status == 200)
        #expect(try await bob.upload(TestRasters.sample("rotated.tif"), as: "small.tif").status == 200)

        // Alice's two large tasks take both workers; then her small task is queued before bob's.
        var aliceLarge: [String] = []
        for index in 0..<2 {
            let reply = try await Self.submit(alice, "tiling", Self.tiling(["large.tif"], catalog: "alice.large\(index)"))
            aliceLarge.append(try #require(reply.object["taskId"] as? String))
        }
        let aliceSmall = try #require(try await Self.submit(alice, "tiling", Self.tiling(["small.tif"], catalog: "alice.small"))
            .object["taskId"] as? String)
        let bobSmall = try #require(try await Self.submit(bob, "tiling", Self.tiling(["small.tif"], catalog: "bob.small"))
            .object["taskId"] as? String)

        // Free one worker: alice still runs one task, bob none, so bob's task starts first.
        let cancelled = try await alice.send("POST", "/scheduler/tasks/\(aliceLarge[0])/cancel")
        try #require(cancelled.object["status"] as? String == "Canceled",
                     "the large task had to be running still: \(cancelled.object)")
        let bobDone = try await bob.waitForTask(bobSmall)
        #expect(bobDone["status"] as? String == "Completed")
        _ = try await alice.send("POST", "/scheduler/tasks/\(aliceLarge[1])/cancel")
        let aliceDone = try await alice.waitForTask(aliceSmall)
        #expect(aliceDone["status"] as? String == "Completed")

        let bobRecord = try await bob.send("GET", "/scheduler/tasks/\(bobSmall)").object
        let aliceRecord = try await alice.send("GET", "/scheduler/tasks/\(aliceSmall)").object
        let bobStarted = try #require(bobRecord["startedDate"] as? String)
        let aliceStarted = try #require(aliceRecord["startedDate"] as? String)
        // Same format (UTC, milliseconds): text order is time order.
        #expect(bobStarted < aliceStarted, "bob's task started \(bobStarted), alice's older one \(aliceStarted)")
    }
}
