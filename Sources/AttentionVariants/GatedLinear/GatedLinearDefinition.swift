import ExactArithmetic
import Workloads

/// The gated linear recurrences that share the `GatedLinearConfig` kernels (RetNet, Lightning,
/// GLA, Mamba2): S_t = Diag(α_t) S_{t−1} + k_t v_tᵀ with each variant's own gates.
public struct GatedLinearDefinition: VariantDefinition {
    public let name: String
    public let family: VariantFamily
    public let roles: [Role]
    public let math: String
    public let presets: [VariantPreset]
    public let overrides: VariantOverrides
    public let capabilities: VariantCapabilities
    public let replayTensors: [ReplayTensorSpec]?
    /// The instance's configuration from the study's parameters (the default workload when
    /// none are set: DESIGN.md §9).
    let configure: @Sendable (VariantParameters) throws -> GatedLinearConfig
    /// A constant decay of the default workload (for the theory).
    let defaultDecay: Double?

    public var forms: [String] { ["recurrent", "chunked"] }

    /// The default certification workload.
    public var defaultConfig: GatedLinearConfig { try! configure(VariantParameters()) }

    public func instance(_ p: VariantParameters) throws -> any VariantInstance {
        var c = try configure(p)
        c.seed = p.seed
        c.distribution = p.distribution
        if let k = p.keyDim { c.keyDim = k }
        if let d = p.valueDim { c.valueDim = d }
        if let log = p.decayLog { c.decayLog = log }
        return GatedLinearInstance(config: c, constantDecay: defaultDecay)
    }

    /// A run of `config` (form "recurrent" or "chunked") on `tier`.
    public static func makeRun(config: GatedLinearConfig, form: String, tier: BackendTier, recipe: Recipe = .exact) throws -> SteppedRun {
        try tier.with(Make(config: config, chunked: form == "chunked", recipe: recipe))
    }

    struct Make: BackendGeneric {
        let config: GatedLinearConfig, chunked: Bool, recipe: Recipe
        func callAsFunction<B: Backend>(_ b: B) throws -> SteppedRun {
            chunked ? try GatedLinearChunked(config: config, backend: b, recipe: recipe) : try GatedLinearDecode(config: config, backend: b, recipe: recipe)
        }
    }

    /// Replay's q, k, v and initial state of a recurrence with one value head per key head.
    static func qkvTensors(q: String, k: String, v: String) -> [ReplayTensorSpec] {
        [
            ReplayTensorSpec(name: "q", shape: "[T, H, K]", meaning: q, required: true),
            ReplayTensorSpec(name: "k", shape: "[T, H, K]", meaning: k, required: true),
            ReplayTensorSpec(name: "v", shape: "[T, H, V]", meaning: v, required: true),
        ]
    }

    static let initialState = ReplayTensorSpec(name: "initial_state", shape: "[HV, K, V]", meaning: "state before position 0 (optional; zero when absent)", required: false)
}

public struct GatedLinearInstance: VariantInstance {
    public let config: GatedLinearConfig
    public let constantDecay: Double?
    public func makeRun(form: String, tier: BackendTier, recipe: Recipe) throws -> SteppedRun {
        try GatedLinearDefinition.makeRun(config: config, form: form, tier: tier, recipe: recipe)
    }
    public var stateShape: (rows: Int, cols: Int)? { (config.keyDim, config.valueDim) }
}
