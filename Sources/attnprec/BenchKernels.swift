import ArgumentParser
import DriftStudy
import Foundation
import NumberFormats

struct BenchKernels: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "kernels",
        abstract: "Gated DeltaNet decode (K=V=128, Float32) with fp32 / bf16 / e4m3 state beside the fp32-state loop; chunked prefill.")
    @Option(name: .long, help: "Also write the results as JSON.") var json: String?
    @Option(name: .long, help: "Seconds per measurement.") var seconds: Double = 0.5

    func run() throws {
        guard seconds > 0 && seconds <= 60 else { throw InputError("--seconds: expected (0, 60], got \(seconds)") }
        let results = try KernelBenchmark.run(seconds: seconds) + KernelBenchmark.softmaxDecode(seconds: seconds)
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
        if let path = json {
            let enc = JSONEncoder()
            enc.outputFormatting = [.prettyPrinted, .sortedKeys]
            do { try enc.encode(results).write(to: URL(fileURLWithPath: path), options: .atomic) } catch {
                throw InputError("\(path): cannot write the JSON results")
            }
        }
    }
}
