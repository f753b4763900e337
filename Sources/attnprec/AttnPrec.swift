import ArgumentParser
import Foundation
import NumberFormats

@main
struct AttnPrec: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "attnprec",
        abstract: "How much accuracy attention KV caches and recurrent states lose in low precision.",
        subcommands: [FormatsCommand.self, BenchCommand.self, ReferenceCommand.self, VariantsCommand.self, RunCommand.self, ReportCommand.self, ValidateCommand.self, ReplayCommand.self, ProfilesCommand.self, VersionCommand.self])

    /// Bad input (`InputError`, whichever module threw it) exits 2 with its one line on stderr;
    /// usage errors too (not ArgumentParser's 64). The one place that maps errors to exit codes.
    static func main() {
        if CommandLine.arguments.dropFirst().elementsEqual(["--version"]) { return VersionCommand.printReport() }
        do {
            var command = try parseAsRoot()
            try command.run()
        } catch let error as InputError {
            FileHandle.standardError.write(Data("attnprec: \(error.message)\n".utf8))
            Foundation.exit(2)
        } catch {
            let code = exitCode(for: error)
            if code == .validationFailure {
                var message = fullMessage(for: error).split(separator: "\n").first.map(String.init) ?? "invalid arguments"
                if message.hasPrefix("Error: ") { message.removeFirst(7) }
                // Through InputError: control characters from the command line come out escaped.
                FileHandle.standardError.write(Data("attnprec: \(InputError(message).message)\n".utf8))
                Foundation.exit(2)
            }
            exit(withError: error)
        }
    }
}
