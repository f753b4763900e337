import ArgumentParser
import Benchmarks
import Foundation
import HybridStacks
import NumberFormats

struct BenchHybrid: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "hybrid",
        abstract: "A whole stack over T tokens (fp32- and bf16-state recipes and the Float64 reference) beside its mixer kernels' time.",
        discussion: "Target (issue 19): the 48-layer Qwen3-Next stack at width 1/16 over 32,768 tokens under 10 minutes on 2 cores.")
    @Option(name: .long, help: "Stack preset.") var preset: String = "qwen3-next"
    @Option(name: .long, help: "Width: a fraction of heads, d_model and MLP width.") var width: String = "1/16"
    @Option(name: .long, parsing: .unconditional, help: "Tokens.") var tokens: Int = 32_768
    @Option(name: .long, help: "recurrent (decode) or chunked (prefill).") var form: String = "recurrent"
    @Option(name: .long, parsing: .unconditional, help: "Worker threads.") var jobs: Int = ProcessInfo.processInfo.activeProcessorCount

    func run() throws {
        guard (16...(1 << 20)).contains(tokens) else { throw InputError("--tokens: expected 16...1048576, got \(tokens)") }
        guard ["recurrent", "chunked"].contains(form) else { throw InputError("--form: expected recurrent or chunked, got '\(form)'") }
        guard jobs >= 1 else { throw InputError("--jobs: expected ≥ 1, got \(jobs)") }
        let w: Double, r: HybridBenchmark.Result
        do {
            w = try parseWidth(width)
            r = try HybridBenchmark.run(preset: preset, width: w, tokens: tokens, form: form, jobs: jobs)
        } catch let e as InputError where e.message.hasPrefix("width:") || e.message.hasPrefix("preset:") {
            throw InputError("--" + e.message)
        }
        let s = r.spec.shape, t = r.timing
        print("stack: \(preset) (\(s.model.checkpoint)), \(s.layers.count) layers at width \(StackShape.text(w)) (d_model \(s.dModel)), \(tokens) tokens, \(form) form")
        print("streams: \(t.streams) (Float64 reference, fp32-state, bf16-state), \(jobs) jobs")
        let rows = [
            ["measurement", "value", "baseline", "ratio", "target", "met"],
            ["wall time", String(format: "%.1f s", r.wallSeconds), "target 600 s", String(format: "%.3f", r.wallSeconds / 600),
             "≤ 600 s (10 min)", preset == "qwen3-next" && tokens == 32_768 && w == 1.0 / 16 ? (r.wallSeconds <= 600 ? "yes" : "NO") : ""],
            ["stack time (all streams' layers)", String(format: "%.1f s", t.layerSeconds), String(format: "mixer kernels %.1f s", t.mixerSeconds),
             String(format: "%.2f", t.layerSeconds / max(t.mixerSeconds, 1e-9)), "(informational)", ""],
        ]
        print(FormatTables.markdownTable(rows))
        print(String(format: "cost per 1,000 tokens at context %d: %.3g GMAC at width %@, %.3g TMAC at full width", tokens,
                     r.benchWidthMACsPer1000 / 1e9, StackShape.text(w), r.fullWidthMACsPer1000 / 1e12))
        for rec in r.records {
            print("\(rec.recipeName): final hidden error \(String(format: "%.3e", rec.finalError)), KL \(String(format: "%.3e", rec.logitsKL.last ?? .nan)), top-1 \(String(format: "%.3f", rec.top1.last ?? .nan))")
        }
        print("cpu: \(BenchEnvironment.cpu), flags: \(BenchEnvironment.flags)")
    }
}
