import ArgumentParser

@main
struct AttnPrec: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "attnprec",
        abstract: "How much accuracy attention KV caches and recurrent states lose in low precision.",
        subcommands: [FormatsCommand.self])
}
