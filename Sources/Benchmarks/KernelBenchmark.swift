import AttentionVariants
import Dispatch
import ExactArithmetic
import NumberFormats

/// `attnprec bench kernels`: Gated DeltaNet decode (K = V = 128, Float32 compute) with the
/// state stored as fp32, bf16 and e4m3, each beside the fp32-state loop measured in the same
/// run; the generic (unfused) decode and the chunked prefill for comparison.
public enum KernelBenchmark {
    public typealias Measurement = BenchResult

    @inline(never)
    static func blackHole<T>(_ x: T) { withExtendedLifetime(x) {} }

    static func now() -> Double { Double(DispatchTime.now().uptimeNanoseconds) * 1e-9 }

    /// Prepared inputs of `tokens` Gated DeltaNet tokens (scale·q̂, k̂, v, α, β) as Float32,
    /// made by the generic Float32 decode's own input path.
    public struct Inputs {
        public var keyDim: Int, valueDim: Int, tokens: Int
        public var q: [Float], k: [Float], v: [Float], alpha: [Float], beta: [Float]

        public init(config: DeltaRuleConfig, tokens: Int) throws {
            let run = try DeltaRuleDecode(config: config, backend: Float32Backend())
            let K = config.keyDim, V = config.valueDim, b = run.backend
            keyDim = K; valueDim = V; self.tokens = tokens
            q = []; k = []; v = []; alpha = []; beta = []
            q.reserveCapacity(tokens * K); k.reserveCapacity(tokens * K); v.reserveCapacity(tokens * V)
            for t in 0..<tokens {
                run.loadInputs(t)
                q += b.buffer(run.q); k += b.buffer(run.k); v += b.buffer(run.v)
                alpha.append(run.alpha.map { b.buffer($0)[0] } ?? 1)
                beta.append(b.buffer(run.beta)[0])
            }
        }
    }

    /// Tokens/s of the fused kernel over the prepared inputs: the fastest of the runs over all
    /// `tokens` made until `seconds` pass.
    public static func fusedDecode(_ inputs: Inputs, state: ElementRounder?, seconds: Double) -> Double {
        guard let kernel = GatedDeltaFusedKernel(keyDim: inputs.keyDim, valueDim: inputs.valueDim, state: state) else { return 0 }
        let K = inputs.keyDim, V = inputs.valueDim, T = inputs.tokens
        var S = [Float](repeating: 0, count: K * V)
        var out = [Float](repeating: 0, count: T * V)
        var kS = [Float](repeating: 0, count: V)
        func once() {
            S.withUnsafeMutableBufferPointer { s in
                out.withUnsafeMutableBufferPointer { o in
                    kS.withUnsafeMutableBufferPointer { ks in
                        kernel.run(state: s.baseAddress!, q: inputs.q, k: inputs.k, v: inputs.v, alpha: inputs.alpha,
                                   beta: inputs.beta, output: o.baseAddress!, tokens: T, kS: ks.baseAddress!)
                    }
                }
            }
        }
        once()
        // The fastest single run of T tokens: other processes on a shared machine preempt
        // some runs; the shortest one is the kernel's own speed (the same estimator for every
        // loop the ratios compare).
        var best = Double.infinity
        let start = now()
        repeat {
            let t0 = now()
            once()
            best = min(best, now() - t0)
        } while now() - start < seconds
        blackHole(out[V - 1])
        return Double(T) / best
    }

    /// Tokens/s of the generic decode (`DeltaRuleDecode.advance` on Float32Backend, inputs
    /// loaded once: the kernel part only).
    public static func genericDecode(config: DeltaRuleConfig, recipe: Recipe, seconds: Double) throws -> Double {
        let run = try DeltaRuleDecode(config: config, backend: Float32Backend(), recipe: recipe)
        run.step()
        let batch = 64
        var n = 0
        let start = now()
        var elapsed = 0.0
        repeat {
            for _ in 0..<batch { run.advance() }
            n += batch
            elapsed = now() - start
        } while elapsed < seconds
        blackHole(run.backend.buffer(run.output)[0])
        return Double(n) / elapsed
    }

    /// A Float32 backend whose gemm is the fixed-order kernel or, `blas`, OpenBLAS's sgemm.
    static func float32(blas: Bool) -> Float32Backend {
        let b = Float32Backend()
        b.core.gemmViaBLAS = blas
        return b
    }

    /// Tokens/s of the chunked prefill (generic UT transform on Float32Backend, the fixed-order
    /// gemm), input generation included.
    public static func chunkedPrefill(config: DeltaRuleConfig, seconds: Double) throws -> Double {
        var n = 0
        let start = now()
        var elapsed = 0.0
        repeat {
            let run = try DeltaRuleChunked(config: config, backend: Float32Backend())
            for _ in 0..<(4 * config.chunkSize) { run.step() }
            n += 4 * config.chunkSize
            elapsed = now() - start
        } while elapsed < seconds
        return Double(n) / elapsed
    }

    /// Tokens/s of the chunked UT transform alone (generic, Float32Backend) on one chunk of
    /// loaded inputs, repeated: the fastest batch of 8 chunks; with the fixed-order gemm and,
    /// interleaved in rounds so both see the same machine load, with OpenBLAS's sgemm.
    public static func chunkedTransform(config: DeltaRuleConfig, seconds: Double) throws -> (own: Double, blas: Double) {
        let own = try DeltaRuleChunked(config: config, backend: float32(blas: false))
        let blas = try DeltaRuleChunked(config: config, backend: float32(blas: true))
        own.step()
        blas.step()
        var best = (own: Double.infinity, blas: Double.infinity)
        let start = now()
        repeat {
            var t0 = now()
            for _ in 0..<8 { own.repeatTransformForBenchmark() }
            best.own = min(best.own, now() - t0)
            t0 = now()
            for _ in 0..<8 { blas.repeatTransformForBenchmark() }
            best.blas = min(best.blas, now() - t0)
        } while now() - start < seconds
        let tokens = Double(8 * config.chunkSize)
        return (tokens / best.own, tokens / best.blas)
    }

    /// Floating-point operations of one chunk of the UT transform as `DeltaRuleChunked` runs it
    /// (C tokens, K keys, V values; gemms counted dense at 2 flops per multiply-add, the n²
    /// element-wise work and the C³/3 forward substitution beside them):
    /// [β K; Q]·Kᵀ (2C·C·K), T·[β e^γ K | β V] (C·C·(K+V)), [W; Q e^γ]·Ŝ (2C·K·V),
    /// P·V_new (C·C·V), S += (K e^{γ_C−γ})ᵀ V_new (K·C·V).
    public static func chunkFlops(chunk C: Int, keyDim K: Int, valueDim V: Int) -> (dense: Double, triangular: Double) {
        let c = Double(C), k = Double(K), v = Double(V)
        let square = 2 * c * c * k + c * c * (k + v) + c * c * v  // products with a C×C factor or result
        let wide = 2 * c * k * v + k * c * v
        let solve = c * c * c / 3
        // Each C×C factor or result is triangular: half of `square` is structurally zero.
        return (2 * (square + wide) + solve, 2 * (square / 2 + wide) + solve)
    }

    /// Single-thread OpenBLAS sgemm speed (flop/s) on n×n×n, the fastest of the runs made in
    /// `seconds`. n = 512 in `run`: near the large-gemm peak and short enough (≈ 2 ms) that
    /// some runs escape preemption on a shared machine.
    public static func sgemmPeak(n: Int, seconds: Double) -> Double {
        let b = Float32Backend(capacity: 3 * n * n)
        b.core.gemmViaBLAS = true
        let x = b.allocate(rows: n, cols: n), y = b.allocate(rows: n, cols: n), z = b.allocate(rows: n, cols: n)
        let bx = b.buffer(x), by = b.buffer(y)
        for i in 0..<(n * n) { bx[i] = Float(i % 7) * 0.125 - 0.375; by[i] = Float(i % 5) * 0.25 - 0.5 }
        b.gemm(z, x, transposeA: false, y, transposeB: false, accumulate: false)
        var best = Double.infinity
        let start = now()
        repeat {
            let t0 = now()
            b.gemm(z, x, transposeA: false, y, transposeB: false, accumulate: false)
            best = min(best, now() - t0)
        } while now() - start < seconds
        blackHole(b.buffer(z)[0])
        return 2 * Double(n * n * n) / best
    }

    /// Heads of the chunked transform for the two-thread measurement (each touched by one thread).
    final class TransformHeads: @unchecked Sendable {
        let runs: [DeltaRuleChunked<Float32Backend>]
        init(config: DeltaRuleConfig, heads: Int) throws {
            runs = try (0..<heads).map { h in
                var c = config
                c.head = h
                let run = try DeltaRuleChunked(config: c, backend: Float32Backend())
                run.step()
                return run
            }
        }
        func states() -> [[Float]] { runs.map { Array($0.backend.buffer($0.state)) } }
    }

    /// Aggregate tokens/s of the chunked transform with one head per thread on `threads`
    /// threads (the fastest batch of 8 chunks per head, all heads running at once), and whether
    /// every head's state is bit-identical to the same head run alone on one thread.
    public static func chunkedTransformHeads(config: DeltaRuleConfig, threads: Int, seconds: Double) throws -> (Double, Bool) {
        let parallel = try TransformHeads(config: config, heads: threads)
        let alone = try TransformHeads(config: config, heads: threads)
        var best = Double.infinity
        var batches = 0
        let start = now()
        repeat {
            let t0 = now()
            DispatchQueue.concurrentPerform(iterations: threads) { h in
                for _ in 0..<8 { parallel.runs[h].repeatTransformForBenchmark() }
            }
            best = min(best, now() - t0)
            batches += 1
        } while now() - start < seconds
        for run in alone.runs { for _ in 0..<(8 * batches) { run.repeatTransformForBenchmark() } }
        let identical = zip(parallel.states(), alone.states()).allSatisfy { a, b in
            zip(a, b).allSatisfy { $0.bitPattern == $1.bitPattern }
        }
        return (Double(threads * 8 * config.chunkSize) / best, identical)
    }

    static let config = DeltaRuleConfig(kind: .gatedDeltaNet, keyDim: 128, valueDim: 128)

    static func measurement(
        _ name: String, _ value: Double, _ baseName: String, _ base: Double, target: Double?, ratio: Double?
    ) -> Measurement {
        var met: Bool?
        if target != nil || ratio != nil { met = value >= (target ?? 0) && value / base >= (ratio ?? 0) }
        return Measurement(name: name, unit: "tokens/s", value: value, baseline_name: baseName, baseline_value: base,
                           ratio: value / base, threads: 1, cpu: BenchEnvironment.cpu, flags: BenchEnvironment.flags,
                           target: target, target_ratio: ratio, meets_target: met)
    }

    /// Every kernel measurement: the decode loops, then the chunked prefill.
    public static func run(seconds: Double = 0.5, tokens: Int = 2048) throws -> [Measurement] {
        try decode(seconds: seconds, tokens: tokens) + chunked(seconds: seconds)
    }

    /// The fused decode with fp32, bf16 and e4m3 state (interleaved), and the generic decode.
    public static func decode(seconds: Double = 0.5, tokens: Int = 2048) throws -> [Measurement] {
        let cfg = config
        let inputs = try Inputs(config: cfg, tokens: tokens)
        let bf16 = try FormatSpec.parse("bfloat16").elementRounder!
        let e4m3 = try FormatSpec.parse("e4m3").elementRounder!
        // Interleaved rounds, best of each: the three loops see the same machine load.
        var fp32 = 0.0, b = 0.0, e = 0.0
        for _ in 0..<5 {
            fp32 = max(fp32, fusedDecode(inputs, state: nil, seconds: seconds / 5))
            b = max(b, fusedDecode(inputs, state: bf16, seconds: seconds / 5))
            e = max(e, fusedDecode(inputs, state: e4m3, seconds: seconds / 5))
        }
        let generic = try genericDecode(config: cfg, recipe: .exact, seconds: seconds)
        let genericBF16 = try genericDecode(config: cfg, recipe: Recipe.parse("state=bfloat16"), seconds: seconds)
        func m(_ n: String, _ v: Double, _ bn: String, _ b: Double, target: Double?, ratio: Double?) -> Measurement {
            measurement(n, v, bn, b, target: target, ratio: ratio)
        }
        let fusedName = "gdn_decode_fused_fp32_state_K128_V128"
        return [
            m(fusedName, fp32, fusedName, fp32, target: 800_000, ratio: nil),
            m("gdn_decode_fused_bf16_state_K128_V128", b, fusedName, fp32, target: 500_000, ratio: 0.6),
            m("gdn_decode_fused_e4m3_state_K128_V128", e, fusedName, fp32, target: 500_000, ratio: 0.6),
            m("gdn_decode_generic_fp32_state_K128_V128", generic, fusedName, fp32, target: nil, ratio: nil),
            m("gdn_decode_generic_bf16_state_K128_V128", genericBF16, fusedName, fp32, target: nil, ratio: nil),
        ]
    }

    /// The chunked prefill (C = 64): with input generation, the transform alone on one thread
    /// (fixed-order gemm, target 700k tokens/s, beside the same transform through OpenBLAS) and
    /// two heads on two threads, beside the bounds the single-thread sgemm peak sets.
    public static func chunked(seconds: Double = 0.5) throws -> [Measurement] {
        let cfg = config
        let chunked = try chunkedPrefill(config: cfg, seconds: seconds)
        let (transform, transformBLAS) = try chunkedTransform(config: cfg, seconds: seconds)
        let (twoHeads, twoHeadsIdentical) = try chunkedTransformHeads(config: cfg, threads: 2, seconds: seconds)
        let peak = sgemmPeak(n: 512, seconds: seconds)
        let flops = chunkFlops(chunk: cfg.chunkSize, keyDim: cfg.keyDim, valueDim: cfg.valueDim)
        // The transform's tokens/s if every flop ran at the large-gemm peak.
        let denseBound = peak / (flops.dense / Double(cfg.chunkSize))
        let triangularBound = peak / (flops.triangular / Double(cfg.chunkSize))
        func m(_ n: String, _ v: Double, _ bn: String, _ b: Double, target: Double?, ratio: Double?) -> Measurement {
            measurement(n, v, bn, b, target: target, ratio: ratio)
        }
        let transformName = "gdn_chunked_transform_only_C64_K128_V128"
        let blasName = "gdn_chunked_transform_only_C64_K128_V128_openblas_sgemm"
        return [
            m("gdn_chunked_prefill_C64_K128_V128_with_inputs", chunked, transformName, transform, target: nil, ratio: nil),
            m(transformName, transform, blasName, transformBLAS, target: 700_000, ratio: nil),
            m(blasName, transformBLAS, "bound_dense_flops_at_sgemm_peak", denseBound, target: nil, ratio: nil),
            {
                // Aggregate of 2 heads on 2 threads (not per core); met only with identical bits.
                var r = m("gdn_chunked_transform_2_heads_2_threads_aggregate", twoHeads, transformName,
                          transform, target: 1_000_000, ratio: nil)
                r.threads = 2
                r.meets_target = twoHeadsIdentical && twoHeads >= 1_000_000
                r.note = "each head's state after the run is \(twoHeadsIdentical ? "bit-identical" : "NOT bit-identical") to the same head run alone on 1 thread"
                return r
            }(),
            m("bound_dense_flops_at_sgemm_peak", denseBound, "bound_dense_flops_at_sgemm_peak", denseBound, target: nil, ratio: nil),
            m("bound_triangular_flops_at_sgemm_peak", triangularBound, "bound_dense_flops_at_sgemm_peak", denseBound,
              target: nil, ratio: nil),
            Measurement(name: "openblas_sgemm_512", unit: "Gflop/s", value: peak / 1e9, baseline_name: "openblas_sgemm_512",
                        baseline_value: peak / 1e9, ratio: 1, threads: 1, cpu: BenchEnvironment.cpu, flags: BenchEnvironment.flags,
                        target: nil, target_ratio: nil, meets_target: nil, note: "OpenBLAS core \(blasCoreName)"),
        ]
    }

    /// The chunked rows measured with OpenBLAS's own kernel family for this CPU, renamed
    /// `…@openblas_own_core` (the sgemm rows lose their note), and the core the sgemm row named.
    public static func ownCore(_ rows: [Measurement]) -> ([Measurement], core: String) {
        let core = rows.first { $0.name == "openblas_sgemm_512" }?.note ?? "OpenBLAS core unknown"
        var rows = rows
        for i in rows.indices {
            rows[i].name += "@openblas_own_core"
            rows[i].baseline_name += "@openblas_own_core"
            if rows[i].name.hasPrefix("openblas_sgemm") { rows[i].note = nil }
        }
        return (rows, core)
    }
}
