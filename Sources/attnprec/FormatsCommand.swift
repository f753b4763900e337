import ArgumentParser
import NumberFormats

struct FormatsCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "formats", abstract: "Storage formats: list, show, quantize.",
        subcommands: [List.self])

    struct List: ParsableCommand {
        func run() throws {
            for f in ElementFormat.named { print(f.name, f.maxFinite, f.minNormal, f.minSubnormal ?? 0) }
        }
    }
}
