import DriftStudy
import Foundation
import HybridStacks
import NumberFormats

/// `attnprec bench hybrid`: a whole stack over T tokens with an fp32-state and a bf16-state
/// recipe and its Float64 reference (the fast paths a study uses), its wall time beside the
/// time its mixer kernels took in the same run (what the stack costs above its kernels), and
/// the full-width model's cost per 1,000 tokens.
public enum HybridBenchmark {
    public struct Result: Sendable {
        public var spec: HybridSpec
        public var wallSeconds: Double
        public var timing: StackTiming
        public var fullWidthMACsPer1000: Double
        public var benchWidthMACsPer1000: Double
        public var records: [HybridRecord]
    }

    /// The two recipes: the state kept in fp32 or stored in bf16 (conv state and caches bf16 in both).
    public static func recipes(_ shape: StackShape, form: String) throws -> [StackRecipe] {
        var fp32: [(key: String, value: String)] = [], bf16: [(key: String, value: String)] = []
        for k in shape.kinds where k != .mlp {
            let cache = k == .mla ? "latent=bfloat16,rope_cache=bfloat16" : "k_cache=bfloat16,v_cache=bfloat16"
            if k.keepsCache {
                fp32.append((k.name, cache))
                bf16.append((k.name, cache))
            } else {
                let conv = k.hasConv ? ",conv_state=bfloat16" : ""
                if k.hasConv { fp32.append((k.name, String(conv.dropFirst()))) }
                bf16.append((k.name, "state=bfloat16" + conv))
            }
        }
        return [try StackRecipe.parse(name: "fp32-state", fp32, shape: shape, form: form, where: "bench"),
                try StackRecipe.parse(name: "bf16-state", bf16, shape: shape, form: form, where: "bench")]
    }

    public static func run(preset: String, width: Double, tokens: Int, form: String, jobs: Int) throws -> Result {
        let shape = try StackShape(model: try StackModel.preset(preset), width: width)
        var o = StackRunOptions(tokens: tokens)
        o.form = form
        o.attribution = false
        o.jobs = jobs
        o.blockRun = { BlockRuns.make($0, fast: true) }
        let spec = HybridSpec(name: preset, shape: shape, recipes: try recipes(shape, form: form), options: o)
        try spec.checkMemory(place: "bench hybrid")
        let start = Date()
        let (records, timing) = try HybridRunner.timed(spec)
        let full = try StackShape(model: shape.model, width: 1)
        return Result(spec: spec, wallSeconds: Date().timeIntervalSince(start), timing: timing,
                      fullWidthMACsPer1000: 1000 * StackCost.macsPerToken(full, context: tokens, form: form),
                      benchWidthMACsPer1000: 1000 * StackCost.macsPerToken(shape, context: tokens, form: form), records: records)
    }
}
