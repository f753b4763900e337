import AttentionVariants
import NumberFormats

extension KernelBenchmark {
    /// Issue 4's measurement: softmax decode at context 32k, d = 128, e4m3 per-token KV stored
    /// as 1-byte codes plus fp32 scales and dequantized on read (Float32, one thread), beside a
    /// plain Float32 loop over an unquantized Float32 cache in the same run; target within 1.5×
    /// (ratio ≥ 2/3). Unit: query positions per second, each attending over the whole context.
    public static func softmaxDecode(seconds: Double = 0.5, context: Int = 32768) throws -> [Measurement] {
        let r = try SoftmaxKernelBenchmark.run(context: context, d: 128, seconds: seconds)
        let base = "softmax_decode_fp32_kv_\(context / 1024)k_d128"
        func m(_ name: String, _ value: Double, target: Double?) -> Measurement {
            Measurement(name: name, unit: "query positions/s", value: value, baseline_name: base, baseline_value: r.baselineQueriesPerSecond,
                        ratio: value / r.baselineQueriesPerSecond, threads: 1, cpu: BenchEnvironment.cpu, flags: BenchEnvironment.flags,
                        target: nil, target_ratio: target, meets_target: target.map { value / r.baselineQueriesPerSecond >= $0 })
        }
        return [
            m(base, r.baselineQueriesPerSecond, target: nil),
            m("softmax_decode_e4m3_per_token_kv_\(context / 1024)k_d128", r.queriesPerSecond, target: r.targetRatio),
        ]
    }
}
