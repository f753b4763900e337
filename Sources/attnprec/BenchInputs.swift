import ArgumentParser
import Benchmarks
import Foundation
import NumberFormats

struct BenchInputs: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "inputs",
        abstract: "The normal generator (vectorised Box–Muller, rows of 128) beside the libm generator it replaced.")
    @Option(name: .long, help: "Also write the results as JSON.") var json: String?
    @Option(name: .long, parsing: .unconditional, help: "Seconds per measurement.") var seconds: Double = 0.5

    func run() throws {
        guard seconds > 0 && seconds <= 60 else { throw InputError("--seconds: expected (0, 60], got \(seconds)") }
        try checkJSONPath(json)
        let results = LongRunBenchmark.normals(seconds: seconds)
        var rows = [["measurement", "ns/normal", "baseline", "speed-up", "target", "met"]]
        for r in results {
            rows.append([
                r.name, String(format: "%.2f", r.value), String(format: "%@ %.2f", r.baseline_name, r.baseline_value),
                String(format: "%.1f×", r.ratio), r.target.map { String(format: "≤ %.0f ns/normal", $0) } ?? "(informational)",
                r.meets_target.map { $0 ? "yes" : "NO" } ?? "",
            ])
        }
        print(FormatTables.markdownTable(rows))
        if let first = results.first { print("threads: 1, cpu: \(first.cpu), flags: \(first.flags)") }
        try writeJSON(results, to: json)
    }
}

struct BenchLong: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "long",
        abstract: "A 1,048,576-token Gated DeltaNet head (Qwen3-Next head 0, K=V=128, bf16 state) run as the study runs it, against the 10 s target.")
    @Option(name: .long, parsing: .unconditional, help: "Tokens of the measured run.") var tokens: Int = 1 << 20
    @Option(name: .long, parsing: .unconditional, help: "Tokens of the like-for-like prefix runs (generic stepping vs fused, 1 thread, no certification), scaled to --tokens.") var baselineTokens: Int = 1 << 16
    @Option(name: .long, parsing: .unconditional, help: "Threads of the measured run.") var threads: Int = 2
    @Option(name: .long, help: "Also write the results as JSON.") var json: String?

    func run() throws {
        guard (1024...(1 << 24)).contains(tokens) else { throw InputError("--tokens: expected 1024...16777216, got \(tokens)") }
        guard (1024...tokens).contains(baselineTokens) else { throw InputError("--baseline-tokens: expected 1024...\(tokens), got \(baselineTokens)") }
        guard (1...64).contains(threads) else { throw InputError("--threads: expected 1...64, got \(threads)") }
        try checkJSONPath(json)
        let (results, rec) = try LongRunBenchmark.run(tokens: tokens, baselineTokens: baselineTokens, threads: threads)
        var rows = [["run (Float64 reference + bf16-state recipe, inputs generated)", "wall s", "baseline", "speed-up", "target", "met"]]
        for r in results {
            rows.append([r.name, String(format: "%.2f", r.value), r.baseline_name, String(format: "%.2f×", r.ratio),
                         r.target.map { String(format: "≤ %.0f s", $0) } ?? "(informational)", r.meets_target.map { $0 ? "yes" : "NO" } ?? ""])
        }
        print(FormatTables.markdownTable(rows))
        let cpu = BenchEnvironment.cpu, flags = BenchEnvironment.flags
        let err = rec.summary.errorAt.last?.outputRelErr ?? .nan
        print(String(format: "record: output_rel_err @%d = %.3e, reference certified: %@; cpu: %@, flags: %@",
                     tokens, err, rec.reference.pass.map { $0 ? "yes" : "no" } ?? "n/a", cpu, flags))
        try writeJSON(results, to: json)
    }
}

func writeJSON<T: Encodable>(_ value: T, to path: String?) throws {
    guard let path else { return }
    let enc = JSONEncoder()
    enc.outputFormatting = [.prettyPrinted, .sortedKeys]
    try AtomicFile.write(try enc.encode(value), to: path, creatingFolders: true)
}

/// `--json PATH` checked before a benchmark runs (`OutputLocation`).
func checkJSONPath(_ path: String?) throws {
    if let path { try OutputLocation.check(path, kind: .file, flag: "--json") }
}
