import ArgumentParser
import DriftStudy
import ExactArithmetic
import Foundation
import NumberFormats

struct BenchReference: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "reference",
        abstract: "MPFR backend vs a plain mpfr_fma loop; Float64 and double-double linear decode tokens/s.")
    @Option(name: .long, help: "Also write the results as JSON.") var json: String?
    @Option(name: .long, help: "MPFR precision in bits.") var bits: Int = 128
    @Option(name: .long, help: "Seconds per measurement.") var seconds: Double = 0.5

    func run() throws {
        guard (24...8192).contains(bits) else { throw InputError("--bits: expected 24...8192, got \(bits)") }
        guard seconds > 0 && seconds <= 60 else { throw InputError("--seconds: expected (0, 60], got \(seconds)") }
        let mpfr = ReferenceBenchmark.mpfrBackend(bits: bits, minSeconds: seconds)
        let f64 = ReferenceBenchmark.linearDecode(tier: .float64, minSeconds: seconds, target: 400_000)
        let dd = ReferenceBenchmark.linearDecode(tier: .doubleDouble, minSeconds: seconds, target: 50_000)
        let f64e = ReferenceBenchmark.linearEndToEnd(tier: .float64, minSeconds: seconds, baseline: f64.value)
        let ddPerF64 = ReferenceBenchmark.relative(dd, to: f64, name: "linear_decode_double-double_vs_float64_K128_V128")
        let all = [mpfr, f64, dd, ddPerF64, f64e]
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
        let cpu = BenchEnvironment.cpu, flags = BenchEnvironment.flags
        print("threads: 1, cpu: \(cpu), flags: \(flags)")
        if let path = json {
            let results = all.map {
                ReferenceBenchRecord(
                    name: $0.name, unit: $0.unit, value: $0.value, baseline_name: $0.baselineName,
                    baseline_value: $0.baselineValue, ratio: $0.ratio, threads: 1, cpu: cpu, flags: flags,
                    target: $0.baselineName == "target" ? $0.baselineValue : nil,
                    meets_target: $0.targetRatio > 0 ? $0.meetsTarget : nil)
            }
            let enc = JSONEncoder()
            enc.outputFormatting = [.prettyPrinted, .sortedKeys]
            try AtomicFile.write(try enc.encode(results), to: path)
        }
    }
}

/// One line of `bench reference --json` (the `bench` JSON contract of DESIGN.md §9).
struct ReferenceBenchRecord: Codable {
    var name: String
    var unit: String
    var value: Double
    var baseline_name: String
    var baseline_value: Double
    var ratio: Double
    var threads: Int
    var cpu: String
    var flags: String
    var target: Double?
    var meets_target: Bool?
}
