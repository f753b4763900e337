import ArgumentParser
import DriftStudy
import Foundation
import NumberFormats

struct BenchInputs: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "inputs",
        abstract: "The normal generator (vectorised Box–Muller, rows of 128) beside the libm generator it replaced.")
    @Option(name: .long, help: "Also write the results as JSON.") var json: String?
    @Option(name: .long, help: "Seconds per measurement.") var seconds: Double = 0.5

    func run() throws {
        guard seconds > 0 && seconds <= 60 else { throw InputError("--seconds: expected (0, 60], got \(seconds)") }
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
    @Option(name: .long, help: "Tokens of the measured run.") var tokens: Int = 1 << 20
    @Option(name: .long, help: "Tokens of the like-for-like prefix runs (generic stepping vs fused, 1 thread, no certification), scaled to --tokens.") var baselineTokens: Int = 1 << 16
    @Option(name: .long, help: "Threads of the measured run.") var threads: Int = 2
    @Option(name: .long, help: "Also write the results as JSON.") var json: String?

    func run() throws {
        guard (1024...(1 << 24)).contains(tokens) else { throw InputError("--tokens: expected 1024...16777216, got \(tokens)") }
        guard (1024...tokens).contains(baselineTokens) else { throw InputError("--baseline-tokens: expected 1024...\(tokens), got \(baselineTokens)") }
        guard (1...64).contains(threads) else { throw InputError("--threads: expected 1...64, got \(threads)") }
        let scale = Double(tokens) / Double(baselineTokens)
        let fast = try LongRunBenchmark.timeGroup(tokens: tokens, fastPaths: true, threads: threads)
        let one = try LongRunBenchmark.timeGroup(tokens: tokens, fastPaths: true, threads: 1)
        // Like for like on a prefix without certification (a fixed cost), scaled to --tokens.
        let genericPrefix = try LongRunBenchmark.timeGroup(tokens: baselineTokens, fastPaths: false, threads: 1, certify: false)
        let fusedPrefix = try LongRunBenchmark.timeGroup(tokens: baselineTokens, fastPaths: true, threads: 1, certify: false)
        let cpu = BenchEnvironment.cpu, flags = BenchEnvironment.flags
        let prefixNote = "(\(baselineTokens) tokens, no certification, time ×\(String(format: "%g", scale)))"
        var results: [LongRunBenchmark.Measurement] = []
        func add(_ name: String, _ seconds: Double, threads: Int, baseline: (String, Double), target: Double?) {
            results.append(LongRunBenchmark.Measurement(
                name: name, unit: "s", value: seconds, baseline_name: baseline.0, baseline_value: baseline.1,
                ratio: baseline.1 / seconds, threads: threads, cpu: cpu, flags: flags, target: target,
                meets_target: target.map { seconds <= $0 }))
        }
        let oneName = "gdn_qwen3next_\(tokens)_fused_1_thread"
        add("gdn_qwen3next_\(tokens)_fused_\(threads)_threads", fast.seconds, threads: threads, baseline: (oneName, one.seconds), target: 10)
        add(oneName, one.seconds, threads: 1, baseline: (oneName, one.seconds), target: nil)
        let genericName = "generic_stepped_1_thread \(prefixNote)"
        add("fused_1_thread \(prefixNote)", fusedPrefix.seconds * scale, threads: 1, baseline: (genericName, genericPrefix.seconds * scale), target: nil)
        add(genericName, genericPrefix.seconds * scale, threads: 1, baseline: (genericName, genericPrefix.seconds * scale), target: nil)
        var rows = [["run (Float64 reference + bf16-state recipe, inputs generated)", "wall s", "baseline", "speed-up", "target", "met"]]
        for r in results {
            rows.append([r.name, String(format: "%.2f", r.value), r.baseline_name, String(format: "%.2f×", r.ratio),
                         r.target.map { String(format: "≤ %.0f s", $0) } ?? "(informational)", r.meets_target.map { $0 ? "yes" : "NO" } ?? ""])
        }
        print(FormatTables.markdownTable(rows))
        let rec = fast.record
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
    try AtomicFile.write(try enc.encode(value), to: path)
}
