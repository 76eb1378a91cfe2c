import ArgumentParser
import Foundation

struct Tile: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "tile",
        abstract: "Import GeoTIFFs into raster catalogs as Cloud Optimized GeoTIFFs with valid-data footprints.",
        discussion: "Exit status: 0 when everything asked for succeeded, 1 when some of it failed (reasons on "
            + "stderr), 2 for usage errors.",
        subcommands: [ImportCommand.self, CatalogCommand.self, InfoCommand.self, ValidateCommand.self,
                      RunTaskCommand.self, ServeCommand.self, UsersCommand.self])
}

@main
enum TileMain {
    static func main() async {
        // Everything written under the data folder is the owner's only: files 0600, folders 0700.
        umask(0o077)
        do {
            var command = try Tile.parseAsRoot()
            do {
                if var asyncCommand = command as? AsyncParsableCommand {
                    try await asyncCommand.run()
                } else {
                    try command.run()
                }
            } catch let error as ValidationError {
                // Refused while running (a missing data directory, a bad --config): the reason is the
                // whole message; the usage line is for errors in the command line itself.
                FileHandle.standardError.write(Data("Error: \(error.message)\n".utf8))
                exit(2)
            }
        } catch {
            // ArgumentParser reports usage errors as 64 (EX_USAGE); our interface promises 2.
            if Tile.exitCode(for: error) == .validationFailure {
                FileHandle.standardError.write(Data((Tile.fullMessage(for: error) + "\n").utf8))
                exit(2)
            }
            Tile.exit(withError: error)
        }
    }
}
