import ArgumentParser
import Benchmarks
import Foundation
import NumberFormats

struct BenchKernels: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "kernels",
        abstract: "Gated DeltaNet decode (K=V=128, Float32) with fp32 / bf16 / e4m3 state beside the fp32-state loop; chunked prefill.")
    @Option(name: .long, help: "Also write the results as JSON.") var json: String?
    @Option(name: .long, parsing: .unconditional, help: "Seconds per measurement.") var seconds: Double = 0.5
    @Flag(name: .long, help: "Only the chunked-prefill measurements.") var chunkedOnly = false
    @Flag(name: .long, help: "Only the kernel-profile measurements (fa2-bf16 softmax decode, fla-chunk-bf16 transform).") var profilesOnly = false

    func run() throws {
        guard seconds > 0 && seconds <= 60 else { throw InputError("--seconds: expected (0, 60], got \(seconds)") }
        try checkJSONPath(json)
        var results: [KernelBenchmark.Measurement]
        var ownCore: String?
        if chunkedOnly {
            results = try KernelBenchmark.chunked(seconds: seconds)
        } else if profilesOnly {
            results = try KernelBenchmark.profiles(seconds: seconds)
        } else {
            results = try KernelBenchmark.run(seconds: seconds) + KernelBenchmark.softmaxDecode(seconds: seconds) + KernelBenchmark.profiles(seconds: seconds)
            let (rows, why) = try ownCoreChunked()
            results += rows
            ownCore = why
        }
        var rows = [["measurement", "value", "baseline", "ratio", "target", "met"]]
        func shown(_ x: Double, _ unit: String) -> String {
            guard unit == "tokens/s" else { return String(format: "%.1f %@", x, unit) }
            return x >= 10_000 ? String(format: "%.0fk tokens/s", x / 1000) : String(format: "%.0f tokens/s", x)
        }
        for r in results {
            var target: [String] = []
            if let t = r.target { target.append(String(format: "≥ %.0fk tokens/s", t / 1000)) }
            if let q = r.target_ratio { target.append(String(format: "ratio ≥ %.2f", q)) }
            rows.append([
                r.name, shown(r.value, r.unit), "\(r.baseline_name) \(shown(r.baseline_value, r.unit))",
                String(format: "%.3f", r.ratio), target.isEmpty ? "(informational)" : target.joined(separator: ", "),
                r.meets_target.map { $0 ? "yes" : "NO" } ?? "",
            ])
        }
        print(FormatTables.markdownTable(rows))
        if let first = results.first { print("threads: 1 unless stated, cpu: \(first.cpu), flags: \(first.flags)") }
        for r in results where r.threads != 1 || r.note != nil {
            print("\(r.name): \(r.threads) threads\(r.note.map { "; " + $0 } ?? "")")
        }
        if let ownCore { print("rows …@openblas_own_core: \(ownCore)") }
        try writeJSON(results, to: json)
    }

    /// When `OPENBLAS_CORETYPE` forces OpenBLAS's kernel family (it is read once, when the
    /// library loads), the chunked rows again from a child process without it: OpenBLAS's own
    /// choice for this CPU, side by side with the forced one. Rows renamed `…@openblas_own_core`.
    func ownCoreChunked() throws -> ([KernelBenchmark.Measurement], String?) {
        var env = ProcessInfo.processInfo.environment
        guard let forced = env.removeValue(forKey: "OPENBLAS_CORETYPE") else { return ([], nil) }
        let out = FileManager.default.temporaryDirectory.appendingPathComponent("attnprec-bench-\(getpid()).json")
        defer { try? FileManager.default.removeItem(at: out) }
        let child = Process()
        child.executableURL = URL(fileURLWithPath: "/proc/self/exe")
        if !FileManager.default.fileExists(atPath: "/proc/self/exe") {
            child.executableURL = Bundle.main.executableURL ?? URL(fileURLWithPath: CommandLine.arguments[0])
        }
        child.arguments = ["bench", "kernels", "--chunked-only", "--seconds", "\(seconds)", "--json", out.path]
        child.environment = env
        child.standardOutput = FileHandle.nullDevice
        try child.run()
        child.waitUntilExit()
        guard child.terminationStatus == 0, let data = try? Data(contentsOf: out),
              let rows = try? JSONDecoder().decode([KernelBenchmark.Measurement].self, from: data)
        else { throw InputError("bench kernels: the child run without OPENBLAS_CORETYPE failed (exit \(child.terminationStatus))") }
        let (own, core) = KernelBenchmark.ownCore(rows)
        return (own, "measured after the rows above by a child process without OPENBLAS_CORETYPE=\(forced): \(core)")
    }
}
