import AttentionVariants
import ExactArithmetic
import NumberFormats
import Workloads

extension KernelBenchmark {
    /// Issue 18's measurements: what emulating a kernel's compute store points costs, each beside
    /// the storage-only path in the same run (one thread, Float32 tier, the engine's own runs):
    /// softmax decode at 32k with `fa2-bf16` (P rounded, key blocks of 64) against the same
    /// recipe without P and blocks (q, k, v, output in bf16), target within 1.3×; the chunked
    /// Gated DeltaNet transform (C = 64, K = V = 128) with `fla-chunk-bf16` against the plain
    /// transform, target within 1.5×.
    public static func profiles(seconds: Double = 0.5, context: Int = 32768) throws -> [Measurement] {
        let storage = try Recipe.parse("q=bfloat16,k=bfloat16,v=bfloat16,output=bfloat16").fast
        let fa2 = try Recipe.parse("kernel=fa2-bf16").fast
        let base = try softmaxQueries(recipe: storage, context: context, seconds: seconds)
        let profiled = try softmaxQueries(recipe: fa2, context: context, seconds: seconds)
        let plain = try chunkedTransformTokens(recipe: .exact, seconds: seconds)
        let chunk = try chunkedTransformTokens(recipe: try Recipe.parse("kernel=fla-chunk-bf16").fast, seconds: seconds)
        func m(_ name: String, _ unit: String, _ v: Double, _ bn: String, _ b: Double, targetRatio: Double?) -> Measurement {
            Measurement(name: name, unit: unit, value: v, baseline_name: bn, baseline_value: b, ratio: v / b, threads: 1,
                        cpu: BenchEnvironment.cpu, flags: BenchEnvironment.flags, target: nil, target_ratio: targetRatio,
                        meets_target: targetRatio.map { v / b >= $0 })
        }
        let k = context / 1024
        let sName = "softmax_decode_bf16_io_\(k)k_d128_engine", cName = "gdn_chunked_transform_C64_K128_V128_exact"
        return [
            m(sName, "query positions/s", base, sName, base, targetRatio: nil),
            m("softmax_decode_fa2_bf16_\(k)k_d128_engine", "query positions/s", profiled, sName, base, targetRatio: 1 / 1.3),
            m(cName, "tokens/s", plain, cName, plain, targetRatio: nil),
            m("gdn_chunked_transform_C64_K128_V128_fla_chunk_bf16", "tokens/s", chunk, cName, plain, targetRatio: 1 / 1.5),
        ]
    }

    /// Query positions per second of the engine's softmax decode (one head, d = 128) at the
    /// last position of `context` tokens under `recipe`: the best of repeated evaluations.
    static func softmaxQueries(recipe: Recipe, context: Int, seconds: Double) throws -> Double {
        let config = SoftmaxAttentionConfig(queryHeads: 1, kvHeads: 1, headDim: 128, evaluation: EvaluationSchedule(dense: 0, perOctave: 0, stride: 0, last: context - 1))
        let run = try SoftmaxDecode(config: config, backend: Float32Backend(), recipe: recipe)
        for _ in 0..<context { run.step() }
        var best = Double.infinity
        let start = now()
        repeat {
            let t0 = now()
            run.evaluate(context - 1)
            best = min(best, now() - t0)
        } while now() - start < seconds
        blackHole(run.output)
        return 1 / best
    }

    /// Tokens per second of the chunked Gated DeltaNet transform alone under `recipe`.
    static func chunkedTransformTokens(recipe: Recipe, seconds: Double) throws -> Double {
        let run = try DeltaRuleChunked(config: config, backend: Float32Backend(), recipe: recipe)
        run.step()
        var best = Double.infinity
        let start = now()
        repeat {
            let t0 = now()
            for _ in 0..<8 { run.repeatTransformForBenchmark() }
            best = min(best, now() - t0)
        } while now() - start < seconds
        return Double(8 * config.chunkSize) / best
    }
}
