import AttentionVariants
import Dispatch
import ExactArithmetic
import NumberFormats

/// `attnprec bench kernels`: Gated DeltaNet decode (K = V = 128, Float32 compute) with the
/// state stored as fp32, bf16 and e4m3, each beside the fp32-state loop measured in the same
/// run; the generic (unfused) decode and the chunked prefill for comparison.
public enum KernelBenchmark {
    public struct Measurement: Sendable, Codable {
        public var name: String
        public var unit: String
        public var value: Double
        public var baseline_name: String
        public var baseline_value: Double
        public var ratio: Double
        public var threads: Int
        public var cpu: String
        public var flags: String
        /// The absolute target (tokens/s), when there is one.
        public var target: Double?
        /// The target for `ratio`, when there is one.
        public var target_ratio: Double?
        public var meets_target: Bool?
    }

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

    /// Tokens/s of the chunked prefill (generic UT transform on Float32Backend, OpenBLAS gemm),
    /// input generation included.
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

    /// Tokens/s of the chunked UT transform alone (generic, Float32Backend with OpenBLAS gemm)
    /// on one chunk of loaded inputs, repeated.
    public static func chunkedTransform(config: DeltaRuleConfig, seconds: Double) throws -> Double {
        let run = try DeltaRuleChunked(config: config, backend: Float32Backend())
        run.step()
        var n = 0
        let start = now()
        var elapsed = 0.0
        repeat {
            run.repeatTransformForBenchmark()
            n += config.chunkSize
            elapsed = now() - start
        } while elapsed < seconds
        return Double(n) / elapsed
    }

    public static func run(seconds: Double = 0.5, tokens: Int = 2048) throws -> [Measurement] {
        let cfg = DeltaRuleConfig(kind: .gatedDeltaNet, keyDim: 128, valueDim: 128)
        let inputs = try Inputs(config: cfg, tokens: tokens)
        let bf16 = try FormatSpec.parse("bfloat16").elementRounder!
        let e4m3 = try FormatSpec.parse("e4m3").elementRounder!
        let cpu = BenchEnvironment.cpu, flags = BenchEnvironment.flags
        // Interleaved rounds, best of each: the three loops see the same machine load.
        var fp32 = 0.0, b = 0.0, e = 0.0
        for _ in 0..<5 {
            fp32 = max(fp32, fusedDecode(inputs, state: nil, seconds: seconds / 5))
            b = max(b, fusedDecode(inputs, state: bf16, seconds: seconds / 5))
            e = max(e, fusedDecode(inputs, state: e4m3, seconds: seconds / 5))
        }
        let generic = try genericDecode(config: cfg, recipe: .exact, seconds: seconds)
        let genericBF16 = try genericDecode(config: cfg, recipe: Recipe.parse("state=bfloat16"), seconds: seconds)
        let chunked = try chunkedPrefill(config: cfg, seconds: seconds)
        let transform = try chunkedTransform(config: cfg, seconds: seconds)
        func m(_ name: String, _ value: Double, _ baseName: String, _ base: Double, target: Double?, ratio: Double?) -> Measurement {
            var met: Bool?
            if target != nil || ratio != nil { met = value >= (target ?? 0) && value / base >= (ratio ?? 0) }
            return Measurement(name: name, unit: "tokens/s", value: value, baseline_name: baseName, baseline_value: base,
                               ratio: value / base, threads: 1, cpu: cpu, flags: flags, target: target, target_ratio: ratio,
                               meets_target: met)
        }
        let fusedName = "gdn_decode_fused_fp32_state_K128_V128"
        return [
            m(fusedName, fp32, fusedName, fp32, target: 800_000, ratio: nil),
            m("gdn_decode_fused_bf16_state_K128_V128", b, fusedName, fp32, target: 500_000, ratio: 0.6),
            m("gdn_decode_fused_e4m3_state_K128_V128", e, fusedName, fp32, target: 500_000, ratio: 0.6),
            m("gdn_decode_generic_fp32_state_K128_V128", generic, fusedName, fp32, target: nil, ratio: nil),
            m("gdn_decode_generic_bf16_state_K128_V128", genericBF16, fusedName, fp32, target: nil, ratio: nil),
            m("gdn_chunked_prefill_C64_K128_V128_with_inputs", chunked, fusedName, fp32, target: 1_000_000, ratio: nil),
            m("gdn_chunked_transform_only_C64_K128_V128", transform, fusedName, fp32, target: 1_000_000, ratio: nil),
        ]
    }
}
