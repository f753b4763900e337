import ExactArithmetic
import Workloads

/// RWKV-7 "Goose": a generalised delta rule with a per-channel decay and a separate in-context
/// learning rate.
public struct RWKV7Definition: VariantDefinition {
    public var name: String { "rwkv7" }
    public var family: VariantFamily { .delta }
    public var forms: [String] { ["recurrent", "chunked"] }
    public var roles: [Role] { RWKV7Config.roles }
    public var math: String { "S_t = S_{t−1}(Diag(w_t) − κ̂_tᵀ(a_t ⊙ κ̂_t)) + v_tᵀ k_t, o_t = S_t r_t" }
    public var overrides: VariantOverrides { .headDim }
    public var capabilities: VariantCapabilities { .stateCheckpoint }

    public init() {}

    public func instance(_ p: VariantParameters) throws -> any VariantInstance {
        var c = RWKV7Config()
        c.seed = p.seed
        c.distribution = p.distribution
        if let h = p.headDim { c.headDim = h }
        return RWKV7Instance(config: c)
    }

    public var replayTensors: [ReplayTensorSpec]? {
        [
            ReplayTensorSpec(name: "r", shape: "[T, H, K]", meaning: "receptance (the query); no scale (FLA's RWKV7 layer: scale 1.0)", required: true, stream: "q"),
            ReplayTensorSpec(name: "w", shape: "[T, H, K]", meaning: "log decay: w_t = exp(w) (x070: −0.606531·σ(w_raw))", required: true),
            ReplayTensorSpec(name: "k", shape: "[T, H, K]", meaning: "keys after the a-mix: k ⊙ (1 + (a − 1)·k_a)", required: true),
            ReplayTensorSpec(name: "v", shape: "[T, H, K]", meaning: "values (square heads: V = K)", required: true),
            ReplayTensorSpec(name: "a", shape: "[T, H, K]", meaning: "−κ̂ (FLA's a = −kk); S ← Diag(exp w) S + b (Sᵀa)ᵀ + k vᵀ, o = Sᵀ r", required: true),
            ReplayTensorSpec(name: "b", shape: "[T, H, K]", meaning: "κ̂ ⊙ σ(a_raw) (FLA's b = kk·a); states written K×V (RWKV's code holds V×K)", required: true),
        ]
    }

    /// A run of `config` in `form` on a backend of `tier` (the chunked form with chunks of
    /// `chunkSize` tokens over `length` tokens).
    public static func makeRun(
        config: RWKV7Config, form: String = "recurrent", tier: BackendTier, recipe: Recipe = .exact, chunkSize: Int = 64, length: Int? = nil
    ) throws -> SteppedRun {
        try tier.with(Make(config: config, chunked: form == "chunked", recipe: recipe, chunkSize: chunkSize, length: length))
    }

    struct Make: BackendGeneric {
        let config: RWKV7Config, chunked: Bool, recipe: Recipe, chunkSize: Int, length: Int?
        func callAsFunction<B: Backend>(_ b: B) throws -> SteppedRun {
            chunked
                ? try RWKV7Chunked(config: config, backend: b, recipe: recipe, chunkSize: chunkSize, length: length)
                : try RWKV7Decode(config: config, backend: b, recipe: recipe)
        }
    }
}

public struct RWKV7Instance: VariantInstance {
    public let config: RWKV7Config
    public func makeRun(form: String, tier: BackendTier, recipe: Recipe) throws -> SteppedRun {
        try RWKV7Definition.makeRun(config: config, form: form, tier: tier, recipe: recipe)
    }
    public var stateShape: (rows: Int, cols: Int)? { (config.headDim, config.headDim) }
}
