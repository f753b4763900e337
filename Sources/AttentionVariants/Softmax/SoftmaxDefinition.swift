import ExactArithmetic
import Workloads

/// Softmax attention with a KV cache (MHA, GQA, MQA, SWA): one kernel, four canonical names that
/// differ in how KV heads are shared and whether a window applies.
public struct SoftmaxDefinition: VariantDefinition {
    /// How query heads share KV heads.
    public enum KVSharing: Sendable {
        /// One KV head per query head (MHA).
        case perQueryHead
        /// Any KV head count dividing the query heads (GQA).
        case grouped
        /// One KV head for every query head (MQA).
        case single
    }

    public let name: String
    public let math: String
    public let sharing: KVSharing
    /// A sliding window is required (SWA).
    public let windowed: Bool
    /// The default certification workload (DESIGN.md §9).
    public let defaultConfig: SoftmaxAttentionConfig
    /// Public shapes of models using the variant (config.json of each model).
    public let modelPresets: [(preset: VariantPreset, config: SoftmaxAttentionConfig)]
    public let capabilities: VariantCapabilities

    public var family: VariantFamily { .softmax }
    public var forms: [String] { ["recurrent", "chunked"] }
    /// The cache and input roles, and the decode kernel's compute store points (scores, P).
    public var roles: [Role] { SoftmaxAttentionConfig.roles + SoftmaxAttentionConfig.computeRoles }
    public var overrides: VariantOverrides { .headDim }
    public var presets: [VariantPreset] { modelPresets.map(\.preset) }
    public func roles(form: String) -> [Role] { form == "chunked" ? SoftmaxAttentionConfig.roles : roles }

    /// Checks that `config` is an instance of this variant (MQA has one KV head, MHA as many
    /// as query heads, SWA a window).
    public func check(_ config: SoftmaxAttentionConfig) throws {
        try config.validate()
        switch sharing {
        case .perQueryHead where config.kvHeads != config.queryHeads:
            throw VariantError("kv_heads: \(name) needs kv_heads = query_heads (\(config.queryHeads)), got \(config.kvHeads)")
        case .single where config.kvHeads != 1:
            throw VariantError("kv_heads: \(name) needs kv_heads = 1, got \(config.kvHeads)")
        default: break
        }
        if windowed && config.window == nil { throw VariantError("window: \(name) needs a window") }
    }

    public func instance(_ p: VariantParameters) throws -> any VariantInstance {
        var c = defaultConfig
        if let name = p.preset {
            // One KV head of the preset, with the query heads that read it.
            c = try configuration(of: name, in: modelPresets)
            c.queryHeads = max(c.queryHeads / max(c.kvHeads, 1), 1)
            c.kvHeads = 1
        }
        c.seed = p.seed
        c.distribution = p.distribution
        if let s = p.schedule { c.evaluation = s }
        if let h = p.headDim { c.headDim = h; c.valueDim = h }
        return SoftmaxInstance(definition: self, config: c)
    }

    public var replayTensors: [ReplayTensorSpec]? {
        [
            ReplayTensorSpec(name: "q", shape: "[T, HQ, D]", meaning: "queries; scale D^-1/2" + (windowed
                ? "; window, sink tokens and sink logit from --preset (default: window 128, 4 sink tokens, sink logit 0.5)" : ""), required: true),
            ReplayTensorSpec(name: "k", shape: "[T, HKV, D]", meaning: "keys; HQ a multiple of HKV (mha: HKV = HQ, mqa: HKV = 1)", required: true),
            ReplayTensorSpec(name: "v", shape: "[T, HKV, Dv]", meaning: "values", required: true),
        ]
    }

    /// The preset of `model`'s softmax layers (`ModelFacts.softmax`).
    static func preset(_ model: ModelFacts) -> (preset: VariantPreset, config: SoftmaxAttentionConfig) {
        let f = model.softmax!
        return (VariantPreset(name: model.name, summary: f.summary),
                SoftmaxAttentionConfig(queryHeads: f.queryHeads, kvHeads: f.kvHeads, headDim: f.headDim, window: f.window, sinkLogit: f.sinkLogit ? 0 : nil))
    }

    /// The decode (or, `chunked`, prefill) run of `config` on `tier`.
    public func makeRun(config: SoftmaxAttentionConfig, form: String = "recurrent", tier: BackendTier, recipe: Recipe = .exact) throws -> SteppedRun {
        try check(config)
        if form == "chunked" { return try SoftmaxCatalog.makePrefill(config: config, tier: tier, recipe: recipe) }
        return try SoftmaxCatalog.makeDecode(config: config, tier: tier, recipe: recipe)
    }
}

/// One softmax instance: its configuration resolved.
public struct SoftmaxInstance: VariantInstance {
    public let definition: SoftmaxDefinition
    public let config: SoftmaxAttentionConfig

    public func makeRun(form: String, tier: BackendTier, recipe: Recipe) throws -> SteppedRun {
        try definition.makeRun(config: config, form: form, tier: tier, recipe: recipe)
    }

    /// A sliding window holds its window plus its sink tokens (DESIGN §4: 2·d·(W+n)).
    public func cachedTokens(_ tokens: Int) -> Int {
        if let w = config.window { return min(tokens, w + config.sinkTokens) }
        return tokens
    }

    public func cacheBytesPerToken(recipe: Recipe) -> Double? { config.cacheBytesPerToken(recipe: recipe) }
}
