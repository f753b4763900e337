import CMPFR
#if canImport(Glibc)
import Glibc
#elseif canImport(Darwin)
import Darwin
#endif
import AttentionVariants
import ExactArithmetic
import NumberFormats

/// `attnprec bench reference`: the reference tiers' throughput, each beside a baseline or
/// target measured or stated in the same run.
public enum ReferenceBenchmark {
    public struct Measurement: Sendable {
        public var name: String
        public var unit: String
        public var value: Double
        public var baselineName: String
        public var baselineValue: Double
        /// value / baseline (higher is better for every unit used here).
        public var ratio: Double { value / baselineValue }
        /// The target for `ratio` (≥).
        public var targetRatio: Double
        public var meetsTarget: Bool { ratio >= targetRatio }
    }

    @inline(never)
    static func blackHole<T>(_ x: T) { withExtendedLifetime(x) {} }

    /// CPU seconds used so far by the calling thread: time the thread spends descheduled (other
    /// processes on a busy machine) does not count, so a rate is per core actually used.
    static func threadSeconds() -> Double {
        var ts = timespec()
        clock_gettime(CLOCK_THREAD_CPUTIME_ID, &ts)
        return Double(ts.tv_sec) + Double(ts.tv_nsec) * 1e-9
    }

    /// This thread's CPU seconds taken by `body`, repeated until at least `minSeconds` have
    /// passed; returns (iterations, seconds).
    static func time(minSeconds: Double, _ body: () -> Void) -> (Int, Double) {
        body()  // warm-up
        var n = 0
        let start = threadSeconds()
        var elapsed = 0.0
        repeat {
            body()
            n += 1
            elapsed = threadSeconds() - start
        } while elapsed < minSeconds
        return (n, elapsed)
    }

    /// MPFR backend (rank-1 update + transposed matvec, 128×128 at `bits`) against a plain loop
    /// of `mpfr_fma` on preallocated values doing the same operations: million fma/s each.
    public static func mpfrBackend(bits: Int = 128, dim: Int = 128, minSeconds: Double = 0.5) -> Measurement {
        let K = dim, V = dim
        // Ceiling: plain arrays, plain loops.
        let s = MPFRArray(count: K * V, precision: bits), k = MPFRArray(count: K, precision: bits)
        let v = MPFRArray(count: V, precision: bits), q = MPFRArray(count: K, precision: bits)
        let o = MPFRArray(count: V, precision: bits)
        for i in 0..<K { k.set(i, Double(i % 7) * 0.125 - 0.375); q.set(i, Double(i % 5) * 0.25 - 0.5) }
        for j in 0..<V { v.set(j, Double(j % 3) * 0.5 - 0.5) }
        let (n0, t0) = time(minSeconds: minSeconds) {
            for i in 0..<K {
                for j in 0..<V { _ = mpfr_fma(s[i * V + j], k[i], v[j], s[i * V + j], MPFR_RNDN) }
            }
            for j in 0..<V { mpfr_set_zero(o[j], 1) }
            for i in 0..<K {
                for j in 0..<V { _ = mpfr_fma(o[j], s[i * V + j], q[i], o[j], MPFR_RNDN) }
            }
            blackHole(o.double(0))
        }
        let ceiling = Double(n0 * 2 * K * V) / t0 / 1e6
        // Backend.
        let b = MPFRBackend(precision: bits)
        let S = b.allocate(rows: K, cols: V), kt = b.allocate(K), vt = b.allocate(V), qt = b.allocate(K), ot = b.allocate(V)
        b.load(kt, (0..<K).map { Double($0 % 7) * 0.125 - 0.375 })
        b.load(qt, (0..<K).map { Double($0 % 5) * 0.25 - 0.5 })
        b.load(vt, (0..<V).map { Double($0 % 3) * 0.5 - 0.5 })
        let (n1, t1) = time(minSeconds: minSeconds) {
            b.rank1(S, kt, vt)
            b.matTvec(ot, S, qt)
            blackHole(b.read(ot.element(0)))
        }
        let backend = Double(n1 * 2 * K * V) / t1 / 1e6
        return Measurement(
            name: "mpfr_backend_rank1_matTvec_\(K)x\(V)_p\(bits)", unit: "Mfma/s", value: backend,
            baselineName: "plain_mpfr_fma_loop", baselineValue: ceiling, targetRatio: 1 / 1.5)
    }

    /// Tokens/s of the linear-attention decode kernel (K=V=`dim`, no decay) on one core:
    /// state update + read-out per token on inputs already loaded (input generation excluded,
    /// measured separately by `linearEndToEnd`).
    public static func linearDecode(tier: BackendTier, dim: Int = 128, minSeconds: Double = 0.5, target: Double) -> Measurement {
        let cfg = LinearAttentionConfig(keyDim: dim, valueDim: dim)
        func run<B: Backend>(_ backend: B) -> Double {
            let r = LinearAttentionDecode(config: cfg, backend: backend)
            r.step()
            let batch = 64
            let (n, t) = time(minSeconds: minSeconds) {
                for _ in 0..<batch { r.advance() }
                blackHole(backend.read(r.output.element(0)))
            }
            return Double(n * batch) / t
        }
        let value: Double
        switch tier {
        case .float64: value = run(Float64Backend())
        case .doubleDouble: value = run(DoubleDoubleBackend())
        case .float32: value = run(Float32Backend())
        case .mpfr(let bits): value = run(MPFRBackend(precision: bits))
        }
        return Measurement(
            name: "linear_decode_\(tier)_K\(dim)_V\(dim)", unit: "tokens/s", value: value,
            baselineName: "target", baselineValue: target, targetRatio: 1)
    }

    /// Tokens/s of whole steps including the counter-based input generation (no target).
    public static func linearEndToEnd(tier: BackendTier, dim: Int = 128, minSeconds: Double = 0.5, baseline: Double) -> Measurement {
        let cfg = LinearAttentionConfig(keyDim: dim, valueDim: dim)
        let r = try! LinearDefinition.makeRun(config: cfg, tier: tier)
        let batch = 64
        let (n, t) = time(minSeconds: minSeconds) { for _ in 0..<batch { r.step() } }
        return Measurement(
            name: "linear_step_with_inputs_\(tier)_K\(dim)_V\(dim)", unit: "tokens/s", value: Double(n * batch) / t,
            baselineName: "linear_decode_\(tier)_K\(dim)_V\(dim)", baselineValue: baseline, targetRatio: 0)
    }

    /// `m` beside `baseline` measured in the same run, under the name `name` (informational:
    /// no target). The ratio holds when the machine's speed drifts between runs.
    public static func relative(_ m: Measurement, to baseline: Measurement, name: String) -> Measurement {
        Measurement(
            name: name, unit: m.unit, value: m.value,
            baselineName: baseline.name, baselineValue: baseline.value, targetRatio: 0)
    }

    /// `bench reference`'s measurements in order: the MPFR backend at `bits`, the Float64 and
    /// double-double linear decodes against their targets, double-double per Float64, and the
    /// Float64 step with input generation.
    public static func run(bits: Int = 128, seconds: Double = 0.5) -> [Measurement] {
        let mpfr = mpfrBackend(bits: bits, minSeconds: seconds)
        let f64 = linearDecode(tier: .float64, minSeconds: seconds, target: 400_000)
        let dd = linearDecode(tier: .doubleDouble, minSeconds: seconds, target: 50_000)
        let f64e = linearEndToEnd(tier: .float64, minSeconds: seconds, baseline: f64.value)
        let ddPerF64 = relative(dd, to: f64, name: "linear_decode_double-double_vs_float64_K128_V128")
        return [mpfr, f64, dd, ddPerF64, f64e]
    }

    /// The measurements as `bench reference --json` writes them (the `bench` JSON contract of
    /// DESIGN.md §9): a target only where the baseline is one, a verdict only where a ratio is
    /// held to one.
    public static func records(_ all: [Measurement]) -> [BenchResult] {
        all.map {
            BenchResult(
                name: $0.name, unit: $0.unit, value: $0.value, baseline_name: $0.baselineName,
                baseline_value: $0.baselineValue, ratio: $0.ratio, threads: 1, cpu: BenchEnvironment.cpu,
                flags: BenchEnvironment.flags, target: $0.baselineName == "target" ? $0.baselineValue : nil,
                meets_target: $0.targetRatio > 0 ? $0.meetsTarget : nil)
        }
    }
}
