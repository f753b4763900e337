import Dispatch
import DriftStudy
import Foundation
import NumberFormats
import Workloads

/// `attnprec bench inputs` and `attnprec bench long`: the input generator, and a 1M-token
/// Gated DeltaNet head run as the study runs it, each beside a baseline measured in the same run.
public enum LongRunBenchmark {
    public typealias Measurement = BenchResult

    @inline(never)
    static func blackHole<T>(_ x: T) { withExtendedLifetime(x) {} }

    static func now() -> Double { Double(DispatchTime.now().uptimeNanoseconds) * 1e-9 }

    /// Nanoseconds per normal of `body` (which makes `count` normals per call), best of rounds.
    static func nsPerNormal(count: Int, seconds: Double, _ body: () -> Double) -> Double {
        var best = Double.infinity
        var sink = 0.0
        for _ in 0..<5 {
            var n = 0
            let start = now()
            var elapsed = 0.0
            repeat { sink += body(); n += 1; elapsed = now() - start } while elapsed < seconds / 5
            best = min(best, elapsed / Double(n * count) * 1e9)
        }
        blackHole(sink)
        return best
    }

    /// The normal generator: rows of 128 (a new counter stream per row, as input generation
    /// does), the scalar `normal(i)`, and the libm generator it replaced, on one thread.
    public static func normals(seconds: Double = 0.5) -> [Measurement] {
        let rows = 64, width = 128
        var buffer = [Double](repeating: 0, count: width)
        var position = 0
        let simd = nsPerNormal(count: rows * width, seconds: seconds) {
            var s = 0.0
            buffer.withUnsafeMutableBufferPointer { b in
                for _ in 0..<rows {
                    position &+= 1
                    let cs = CounterStream(seed: 1, stream: "q", head: 0, position: position)
                    cs.normals(into: b.baseAddress!, from: 0, count: width)
                    s += b[width - 1]
                }
            }
            return s
        }
        let scalar = nsPerNormal(count: rows * width, seconds: seconds) {
            var s = 0.0
            for _ in 0..<rows {
                position &+= 1
                let cs = CounterStream(seed: 1, stream: "q", head: 0, position: position)
                for i in 0..<width { s += cs.normal(i) }
            }
            return s
        }
        let libm = nsPerNormal(count: rows * width, seconds: seconds) {
            var s = 0.0
            for _ in 0..<rows {
                position &+= 1
                let cs = CounterStream(seed: 1, stream: "q", head: 0, position: position)
                for i in 0..<width { s += cs.libmNormal(i) }
            }
            return s
        }
        let cpu = BenchEnvironment.cpu, flags = BenchEnvironment.flags
        func m(_ name: String, _ v: Double, target: Double?) -> Measurement {
            Measurement(name: name, unit: "ns/normal", value: v, baseline_name: "libm_box_muller_one_output", baseline_value: libm,
                        ratio: libm / v, threads: 1, cpu: cpu, flags: flags, target: target, meets_target: target.map { v <= $0 })
        }
        return [m("box_muller_simd_rows_of_128", simd, target: 5), m("box_muller_scalar_normal_i", scalar, target: nil),
                m("libm_box_muller_one_output", libm, target: nil)]
    }

    /// The benchmark's study group: Qwen3-Next's GDN head 0 (K = V = 128), q/k/v in bf16, the
    /// state in bf16, the default study's reference and sampling settings.
    public static func group(tokens: Int, certify: Bool = true) throws -> PlannedGroup {
        let text = """
        name: bench-long
        tokens: [\(tokens)]
        inputs: bfloat16
        reference: {tier: float64, certify_tokens: \(certify ? 128 : 0), bits: 128, double_precision_tokens: 32}
        sampling: {per_octave: 16}
        variants:
          - {name: gated_deltanet, preset: qwen3-next, head: 0}
        recipes:
          - {name: bf16, store: bfloat16}
        workloads: [gaussian]
        """
        let groups = try StudyPlan.expand([try StudyConfig.parse(text, file: "bench-long.yaml", defaultName: "bench-long")])
        precondition(groups.count == 1)
        return groups[0]
    }

    /// Wall seconds of the study's run of `group(tokens:)`, and its record.
    public static func timeGroup(tokens: Int, fastPaths: Bool, threads: Int, certify: Bool = true) throws -> (seconds: Double, record: StudyRecord) {
        let g = try group(tokens: tokens, certify: certify)
        let start = now()
        let r = try GroupRunner.run(g, fastPaths: fastPaths, threads: threads)
        return (now() - start, r[0])
    }

    /// `bench long`: the measured run on `threads` threads and on one, and the like-for-like
    /// prefix runs of `baselineTokens` (generic stepping vs fused, one thread, no certification:
    /// a fixed cost) with their times scaled to `tokens`; and the measured run's record.
    public static func run(tokens: Int, baselineTokens: Int, threads: Int) throws -> (results: [Measurement], record: StudyRecord) {
        let scale = Double(tokens) / Double(baselineTokens)
        let fast = try timeGroup(tokens: tokens, fastPaths: true, threads: threads)
        let one = try timeGroup(tokens: tokens, fastPaths: true, threads: 1)
        let genericPrefix = try timeGroup(tokens: baselineTokens, fastPaths: false, threads: 1, certify: false)
        let fusedPrefix = try timeGroup(tokens: baselineTokens, fastPaths: true, threads: 1, certify: false)
        let cpu = BenchEnvironment.cpu, flags = BenchEnvironment.flags
        let prefixNote = "(\(baselineTokens) tokens, no certification, time ×\(String(format: "%g", scale)))"
        var results: [Measurement] = []
        func add(_ name: String, _ seconds: Double, threads: Int, baseline: (String, Double), target: Double?) {
            results.append(Measurement(
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
        return (results, fast.record)
    }
}
