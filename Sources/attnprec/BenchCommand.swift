import ArgumentParser

struct BenchCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "bench",
        abstract: "Throughput side by side with a baseline measured in the same run.",
        subcommands: [BenchFormats.self, BenchReference.self, BenchKernels.self, BenchInputs.self, BenchLong.self, BenchHybrid.self])
}
