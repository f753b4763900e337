import ArgumentParser
import Benchmarks
import Foundation
import NumberFormats

struct BenchReference: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "reference",
        abstract: "MPFR backend vs a plain mpfr_fma loop; Float64 and double-double linear decode tokens/s.")
    @Option(name: .long, help: "Also write the results as JSON.") var json: String?
    @Option(name: .long, parsing: .unconditional, help: "MPFR precision in bits.") var bits: Int = 128
    @Option(name: .long, parsing: .unconditional, help: "Seconds per measurement.") var seconds: Double = 0.5

    func run() throws {
        guard (24...8192).contains(bits) else { throw InputError("--bits: expected 24...8192, got \(bits)") }
        guard seconds > 0 && seconds <= 60 else { throw InputError("--seconds: expected (0, 60], got \(seconds)") }
        try checkJSONPath(json)
        let all = ReferenceBenchmark.run(bits: bits, seconds: seconds)
        var rows = [["measurement", "value", "baseline", "ratio", "target", "met"]]
        for m in all {
            let target: String
            if m.baselineName == "target" {
                target = "≥ \(Int(m.baselineValue)) \(m.unit)"
            } else if m.targetRatio > 0 {
                target = String(format: "ratio ≥ %.3f (within 1.5×)", m.targetRatio)
            } else {
                target = "(informational)"
            }
            rows.append([
                m.name, String(format: "%.4g %@", m.value, m.unit),
                String(format: "%@ %.4g", m.baselineName, m.baselineValue), String(format: "%.3f", m.ratio), target,
                m.targetRatio > 0 ? (m.meetsTarget ? "yes" : "NO") : "",
            ])
        }
        print(FormatTables.markdownTable(rows))
        print("threads: 1, cpu: \(BenchEnvironment.cpu), flags: \(BenchEnvironment.flags)")
        try writeJSON(ReferenceBenchmark.records(all), to: json)
    }
}
