import ExactArithmetic
import Workloads

/// Multi-head latent attention (DeepSeek-V3, Kimi Linear's attention layers): a cached latent
/// and RoPE key, absorbed up-projections.
public struct MLADefinition: VariantDefinition {
    public var name: String { "mla" }
    public var family: VariantFamily { .softmax }
    /// The absorbed decode, and the decompressed blocked prefill (`MLAPrefill`).
    public var forms: [String] { ["recurrent", "chunked"] }
    public var roles: [Role] { MLAConfig.roles }
    public var math: String { "latent cache c_t (+ RoPE key); k, v = up-projections of c; o = softmax(q·kᵀ/√d) v" }

    /// The default certification workload: one head with the published shapes (latent 512,
    /// RoPE 64, nope 128, value 128).
    public static let defaultConfig = MLAConfig()

    /// The MLA layers of DeepSeek-V3 and Kimi Linear (`ModelFacts.latent`).
    public static let modelPresets: [(preset: VariantPreset, config: MLAConfig)] = [ModelFacts.deepSeekV3, .kimiLinear].map {
        (VariantPreset(name: $0.name, summary: $0.latent!.summary), MLAConfig($0.latent!))
    }

    public var presets: [VariantPreset] { Self.modelPresets.map(\.preset) }

    public init() {}

    public func instance(_ p: VariantParameters) throws -> any VariantInstance {
        var c = Self.defaultConfig
        if let name = p.preset {
            c = try configuration(of: name, in: Self.modelPresets)
            c.heads = 1  // one query head: the latent cache is shared by all heads
        }
        c.seed = p.seed
        c.distribution = p.distribution
        if let s = p.schedule { c.evaluation = s }
        return MLAInstance(config: c)
    }

    /// What replay reads for MLA (DSA adds its indexer's tensors).
    public static let latentTensors = [
        ReplayTensorSpec(name: "kv_cache", shape: "[T, L]", meaning: "the latent after kv_norm, as DeepSeek's kv_cache holds it (L = kv_lora_rank, 512)", required: true),
        ReplayTensorSpec(name: "pe_cache", shape: "[T, R]", meaning: "k_pe after RoPE, as DeepSeek's pe_cache holds it (R = 64; [T, 1, R] accepted)", required: true),
        ReplayTensorSpec(name: "q_nope", shape: "[T, H, N]", meaning: "queries' no-RoPE part (N = qk_nope_head_dim, 128), before absorbing W_UK", required: true),
        ReplayTensorSpec(name: "q_pe", shape: "[T, H, R]", meaning: "queries' RoPE part, after RoPE; scale (N+R)^-1/2·mscale² (--preset kimi-linear: mscale 1)", required: true),
        ReplayTensorSpec(name: "wkv_b", shape: "[H·(N+V), L]", meaning: "DeepSeek's wkv_b.weight (or viewed [H, N+V, L]): W_UK = wkv_b[:, :N], W_UV = wkv_b[:, -V:]", required: true),
    ]

    public var replayTensors: [ReplayTensorSpec]? { Self.latentTensors }

    /// The decode (or, `chunked`, prefill) run of `config` on a backend of `tier`.
    public static func makeRun(_ config: MLAConfig, form: String = "recurrent", tier: BackendTier, recipe: Recipe = .exact) throws -> SteppedRun {
        try tier.with(Make(config: config, recipe: recipe, chunked: form == "chunked"))
    }

    struct Make: BackendGeneric {
        let config: MLAConfig, recipe: Recipe, chunked: Bool
        func callAsFunction<B: Backend>(_ b: B) throws -> SteppedRun {
            chunked ? try MLAPrefill(config: config, backend: b, recipe: recipe) : try MLADecode(config: config, backend: b, recipe: recipe)
        }
    }
}

public struct MLAInstance: VariantInstance {
    public let config: MLAConfig
    public func makeRun(form: String, tier: BackendTier, recipe: Recipe) throws -> SteppedRun {
        try MLADefinition.makeRun(config, form: form, tier: tier, recipe: recipe)
    }
    public func cacheBytesPerToken(recipe: Recipe) -> Double? { config.cacheBytesPerToken(recipe: recipe) }
}
