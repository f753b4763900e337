import ExactArithmetic
import Workloads

/// Linear attention (Katharopoulos et al. 2020), undecayed unless a constant decay is given.
public struct LinearDefinition: VariantDefinition {
    public var name: String { "linear" }
    public var family: VariantFamily { .linear }
    public var forms: [String] { ["recurrent", "chunked"] }
    public var roles: [Role] { LinearAttentionConfig.roles + [.chunkState, .attn, .qDecayed, .kDecayed] }
    public var math: String { "S_t = α S_{t−1} + k_t v_tᵀ, o_t = S_tᵀ (q_t/√K)" }
    public var overrides: VariantOverrides { [.keyValueDims, .decay] }
    public var capabilities: VariantCapabilities { [.stateCheckpoint, .rewind, .equalMemory] }

    public init() {}

    public func instance(_ p: VariantParameters) throws -> any VariantInstance {
        var c = LinearAttentionConfig(keyDim: p.keyDim ?? 64, valueDim: p.valueDim ?? 64, seed: p.seed, distribution: p.distribution)
        if let a = p.decay, a < 1 { c.gates = .constant(a) }
        return LinearInstance(config: c, decay: p.decay.flatMap { $0 < 1 ? $0 : nil })
    }

    public var replayTensors: [ReplayTensorSpec]? {
        [
            ReplayTensorSpec(name: "q", shape: "[T, H, K]", meaning: "queries as the kernel receives them", required: true),
            ReplayTensorSpec(name: "k", shape: "[T, H, K]", meaning: "keys", required: true),
            ReplayTensorSpec(name: "v", shape: "[T, H, V]", meaning: "values; scale K^-1/2, no decay", required: true),
            GatedLinearDefinition.initialState,
        ]
    }

    /// A run of `config` in `form`: the decode kernel, or the chunked form through the gated
    /// kernels (which take the constant decay too).
    public static func makeRun(config: LinearAttentionConfig, form: String = "recurrent", tier: BackendTier, recipe: Recipe = .exact) throws -> SteppedRun {
        try GatedLinearConfig(linear: config).validate()
        if form == "chunked" {
            return try GatedLinearDefinition.makeRun(config: GatedLinearConfig(linear: config), form: form, tier: tier, recipe: recipe)
        }
        return try makeDecode(config: config, tier: tier, recipe: recipe)
    }

    /// The decode kernel of `config` on `tier`, unchecked (replay checks one head's
    /// configuration and runs every head with it).
    public static func makeDecode(config: LinearAttentionConfig, tier: BackendTier, recipe: Recipe = .exact) throws -> SteppedRun {
        try tier.with(Make(config: config, recipe: recipe))
    }

    struct Make: BackendGeneric {
        let config: LinearAttentionConfig, recipe: Recipe
        func callAsFunction<B: Backend>(_ b: B) -> SteppedRun { LinearAttentionDecode(config: config, backend: b, recipe: recipe) }
    }
}

public struct LinearInstance: VariantInstance {
    public let config: LinearAttentionConfig
    /// The constant decay a < 1, if any.
    let decay: Double?
    public func makeRun(form: String, tier: BackendTier, recipe: Recipe) throws -> SteppedRun {
        try LinearDefinition.makeRun(config: config, form: form, tier: tier, recipe: recipe)
    }
    public var stateShape: (rows: Int, cols: Int)? { (config.keyDim, config.valueDim) }
    public var constantDecay: Double? { decay }
    public var undecayed: Bool { decay == nil }
}
