import ExactArithmetic
import Workloads

/// Catalog entries and run factories of the gated-linear family and RWKV-7.
public enum GatedFamily {
    public static let entries: [VariantCatalog.Entry] = [
        VariantCatalog.Entry(name: "retnet", family: "linear", forms: ["recurrent", "chunked"], roles: GatedLinearConfig.roles),
        VariantCatalog.Entry(name: "lightning", family: "linear", forms: ["recurrent", "chunked"], roles: GatedLinearConfig.roles),
        VariantCatalog.Entry(name: "gla", family: "linear", forms: ["recurrent", "chunked"], roles: GatedLinearConfig.roles),
        VariantCatalog.Entry(name: "mamba2", family: "ssm", forms: ["recurrent", "chunked"], roles: GatedLinearConfig.mamba2Roles),
        VariantCatalog.Entry(name: "rwkv7", family: "delta", forms: ["recurrent", "chunked"], roles: RWKV7Config.roles),
    ]

    /// The default certification workload of each variant (DESIGN.md §9): one head, K=V=64
    /// unless the model fixes its shapes (Lightning 128×128, Mamba2 N×P = 128×64), the
    /// variant's default gates, seed 0.
    public static func defaultConfig(_ name: String) -> GatedLinearConfig? {
        switch name {
        case "linear": return GatedLinearConfig(kind: .linear)
        case "retnet": return .retnet()
        case "lightning": return .lightning()
        case "gla": return .gla()
        case "mamba2": return .mamba2()
        default: return nil
        }
    }

    /// A run of a gated-linear variant (form "recurrent" or "chunked") on `tier`.
    public static func makeRun(config: GatedLinearConfig, form: String, tier: BackendTier, recipe: Recipe = .exact) throws -> SteppedRun {
        let chunked = form == "chunked"
        switch tier {
        case .mpfr(let bits):
            let b = MPFRBackend(precision: bits)
            return chunked ? try GatedLinearChunked(config: config, backend: b, recipe: recipe) : try GatedLinearDecode(config: config, backend: b, recipe: recipe)
        case .float64:
            let b = Float64Backend()
            return chunked ? try GatedLinearChunked(config: config, backend: b, recipe: recipe) : try GatedLinearDecode(config: config, backend: b, recipe: recipe)
        case .doubleDouble:
            let b = DoubleDoubleBackend()
            return chunked ? try GatedLinearChunked(config: config, backend: b, recipe: recipe) : try GatedLinearDecode(config: config, backend: b, recipe: recipe)
        case .float32:
            let b = Float32Backend()
            return chunked ? try GatedLinearChunked(config: config, backend: b, recipe: recipe) : try GatedLinearDecode(config: config, backend: b, recipe: recipe)
        }
    }

    public static func makeRWKV7(
        config: RWKV7Config, form: String = "recurrent", tier: BackendTier, recipe: Recipe = .exact, chunkSize: Int = 64, length: Int? = nil
    ) throws -> SteppedRun {
        func make<B: Backend>(_ b: B) throws -> SteppedRun {
            form == "chunked"
                ? try RWKV7Chunked(config: config, backend: b, recipe: recipe, chunkSize: chunkSize, length: length)
                : try RWKV7Decode(config: config, backend: b, recipe: recipe)
        }
        switch tier {
        case .mpfr(let bits): return try make(MPFRBackend(precision: bits))
        case .float64: return try make(Float64Backend())
        case .doubleDouble: return try make(DoubleDoubleBackend())
        case .float32: return try make(Float32Backend())
        }
    }

    /// Checks linear attention's constant decay (the existing decode kernel takes it as given).
    public static func validate(linear c: LinearAttentionConfig) throws {
        try GatedLinearConfig(linear: c).validate()
    }
}
