import ExactArithmetic
import Workloads

/// DeepSeek sparse attention (V3.2): MLA attending only to the top-k keys a lightning indexer
/// selects.
public struct DSADefinition: VariantDefinition {
    public var name: String { "dsa" }
    public var family: VariantFamily { .sparse }
    public var forms: [String] { ["recurrent"] }
    public var roles: [Role] { DSAConfig.roles }
    public var math: String { "MLA attending only to the top-k keys chosen by a lightning indexer" }

    /// The default certification workload: MLA's, with 4 indexer heads and top-k 256 (so the
    /// selection is active within the 2048 certified tokens).
    public static let defaultConfig = DSAConfig(topK: 256)

    /// DeepSeek-V3.2: V3's MLA plus the lightning indexer (`ModelFacts.indexer`).
    public static let modelPresets: [(preset: VariantPreset, config: DSAConfig)] = [ModelFacts.deepSeekV32].map { m in
        let i = m.indexer!
        return (VariantPreset(name: m.name, summary: i.summary),
                DSAConfig(mla: MLAConfig(m.latent!), indexHeads: i.heads, indexDim: i.headDim, indexRopeDim: i.ropeDim, topK: i.topK))
    }

    public var presets: [VariantPreset] { Self.modelPresets.map(\.preset) }

    public init() {}

    public func instance(_ p: VariantParameters) throws -> any VariantInstance {
        var c = Self.defaultConfig
        if let name = p.preset {
            c = try configuration(of: name, in: Self.modelPresets)
            c.mla.heads = 1
        }
        c.mla.seed = p.seed
        c.mla.distribution = p.distribution
        if let s = p.schedule { c.mla.evaluation = s }
        return DSAInstance(config: c)
    }

    public var replayTensors: [ReplayTensorSpec]? {
        MLADefinition.latentTensors + [
            ReplayTensorSpec(name: "indexer_q", shape: "[T, Hi, D]", meaning: "indexer queries after RoPE and the Hadamard rotation (V3.2: Hi = 64, D = 128)", required: true),
            ReplayTensorSpec(name: "indexer_k", shape: "[T, D]", meaning: "indexer keys after k_norm, RoPE and the Hadamard rotation", required: true),
            ReplayTensorSpec(name: "indexer_weights", shape: "[T, Hi]", meaning: "weights_proj output; scaled by (Hi·D)^-1/2 here; top --top-k tokens (default 256; --preset deepseek-v3.2: 2048)", required: true),
        ]
    }

    /// The decode run of `config` on a backend of `tier`.
    public static func makeRun(_ config: DSAConfig, tier: BackendTier, recipe: Recipe = .exact) throws -> SteppedRun {
        try tier.with(Make(config: config, recipe: recipe))
    }

    struct Make: BackendGeneric {
        let config: DSAConfig, recipe: Recipe
        func callAsFunction<B: Backend>(_ b: B) throws -> SteppedRun { try DSA.makeRun(config: config, backend: b, recipe: recipe).0 }
    }
}

public struct DSAInstance: VariantInstance {
    public let config: DSAConfig
    public func makeRun(form: String, tier: BackendTier, recipe: Recipe) throws -> SteppedRun {
        try DSADefinition.makeRun(config, tier: tier, recipe: recipe)
    }
    public func cacheBytesPerToken(recipe: Recipe) -> Double? { config.cacheBytesPerToken(recipe: recipe) }
}
