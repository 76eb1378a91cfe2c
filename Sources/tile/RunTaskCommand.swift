import ArgumentParser
import Foundation
import Raster
import Tiling

struct RunTaskCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "run-task",
        abstract: "Run a tiling task body (the API's JSON) and print its final progress JSON.",
        discussion: "Files are taken from DIR/uploads/USER/. Exit 0 when the task completes, 1 when it fails, "
            + "2 when the task is invalid (the message names the field).")

    @Argument(help: "The task body, a JSON file.") var taskFile: String
    @OptionGroup var data: DataDirectoryOption
    @Option(help: "The user the task runs as.") var user: String
    @Option(help: "Files processed at once.") var jobs: Int = ProcessInfo.processInfo.activeProcessorCount
    @OptionGroup(title: "Limits on the task's rasters") var limits: RasterLimitArguments

    func run() async throws {
        let task: TilingTask
        do {
            task = try JSONDecoder().decode(TilingTask.self, from: Data(contentsOf: URL(fileURLWithPath: taskFile)))
        } catch {
            throw ValidationError("\(taskFile) is not a tiling task: \(error)")
        }
        // The task's files are in the data directory's uploads: a missing directory is a mistyped one.
        try data.requireDirectory()
        let library = try RasterLibrary(directory: data.dataDir)
        defer { library.close() }
        let executor = TilingExecutor(library: library, jobs: jobs, limits: limits.limits)
        let validated: ValidatedTilingTask
        do {
            validated = try executor.validate(task, user: user)
        } catch let error as TaskRequestError {
            throw ValidationError(error.description)
        }
        let cancellation = CancellationFlag()
        let interrupt = SignalTrap(SIGINT) { cancellation.cancel() }
        let progress = await executor.run(validated, id: UUID().uuidString.lowercased(), cancellation: cancellation)
        withExtendedLifetime(interrupt) {}
        try Output.printJSON(progress)
        if progress.status != .completed { throw ExitCode.failure }
    }
}
