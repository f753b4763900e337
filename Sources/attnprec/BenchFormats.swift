import ArgumentParser
import Benchmarks
import Foundation
import NumberFormats

struct BenchFormats: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "formats",
        abstract: "Quantize→dequantize of 2^24 float32 values on one thread, beside a memory copy.")
    @Option(name: .long, help: "Also write the results as JSON.") var json: String?
    @Option(name: .long, parsing: .unconditional, help: "Elements per run.") var count: Int = 1 << 24
    @Option(name: .long, parsing: .unconditional, help: "Runs per case (the best is kept).") var repeats: Int = 5
    @Option(name: .long, help: "Only the cases whose name contains this text.") var only: String?

    func run() throws {
        guard count >= 128, count % 128 == 0 else { throw InputError("--count: expected a positive multiple of 128, got \(count)") }
        guard repeats >= 1 else { throw InputError("--repeats: expected at least 1, got \(repeats)") }
        try checkJSONPath(json)
        let results = FormatBenchmark.run(count: count, repeats: repeats, only: only)
        var rows = [["case", "G elements/s", "memory copy G/s", "ratio", "target", "met"]]
        var side = [["case", "G elements/s", "beside", "G/s", "ratio", "target", "met"]]
        for r in results where r.baseline_name != "memory copy" {
            side.append([r.name, String(format: "%.3f", r.value / 1e9), r.baseline_name, String(format: "%.3f", r.baseline_value / 1e9),
                String(format: "%.2f", r.ratio), r.target_ratio.map { String(format: "ratio ≥ %.2f", $0) } ?? "", r.meets_target == true ? "yes" : "NO"])
        }
        for r in results where r.baseline_name == "memory copy" {
            rows.append([
                r.name.replacingOccurrences(of: "quantize-dequantize ", with: ""),
                String(format: "%.3f", r.value / 1e9), String(format: "%.3f", r.baseline_value / 1e9),
                String(format: "%.2f", r.ratio), r.target.map { String(format: "≥ %.1f G/s", $0 / 1e9) } ?? "",
                r.meets_target == true ? "yes" : "NO",
            ])
        }
        print(FormatTables.markdownTable(rows))
        if side.count > 1 { print(""); print(FormatTables.markdownTable(side)) }
        if let first = results.first { print("threads: 1, cpu: \(first.cpu), flags: \(first.flags)") }
        if let path = json {
            let enc = JSONEncoder()
            enc.outputFormatting = [.prettyPrinted, .sortedKeys]
            let data = try enc.encode(results)
            try AtomicFile.write(data, to: path, creatingFolders: true)
        }
    }
}
