import ExactArithmetic

/// The softmax-side variants (softmax, MLA, sparse) as the variant catalog sees them: entries,
/// default-workload runs and presets, in one place so the shared catalog needs one line each.
public enum SoftmaxFamily {
    public static var entries: [VariantCatalog.Entry] {
        SoftmaxCatalog.entries + [
            VariantCatalog.Entry(name: "mla", family: "softmax", forms: ["recurrent"], roles: MLAConfig.roles),
            VariantCatalog.Entry(name: "dsa", family: "sparse", forms: ["recurrent"], roles: DSAConfig.roles),
        ] + SparseCatalog.entries
    }

    public static func handles(_ name: String) -> Bool { entries.contains { $0.name == name } }

    /// The default certification workloads: MLA one head with the published shapes (latent 512,
    /// RoPE 64, nope 128, value 128); DSA the same with 4 indexer heads and top-k 256 (so the
    /// selection is active within the 2048 certified tokens).
    public static let defaultMLA = MLAConfig()
    public static let defaultDSA = DSAConfig(topK: 256)

    public struct MLAPreset: Sendable {
        public let name: String
        public let variant: String
        public let summary: String
        public let dsa: DSAConfig
    }

    /// Public shapes (config.json): DeepSeek-V3 (128 heads, kv_lora_rank 512, rope 64, nope 128,
    /// v 128, YaRN factor 40), DeepSeek-V3.2 (the same + indexer 64 heads × 128, top-k 2048),
    /// Kimi Linear's MLA layers (32 heads, NoPE, no YaRN).
    public static let mlaPresets: [MLAPreset] = [
        MLAPreset(name: "deepseek-v3", variant: "mla", summary: "DeepSeek-V3 MLA: 128 heads, latent 512 + RoPE 64, nope 128, v 128, mscale² YaRN",
                  dsa: DSAConfig(mla: MLAConfig(heads: 128))),
        MLAPreset(name: "deepseek-v3.2", variant: "dsa", summary: "DeepSeek-V3.2 DSA: V3 MLA + indexer 64 heads × 128, top-k 2048",
                  dsa: DSAConfig(mla: MLAConfig(heads: 128), indexHeads: 64, indexDim: 128, indexRopeDim: 64, topK: 2048)),
        MLAPreset(name: "kimi-linear", variant: "mla", summary: "Kimi Linear MLA layers: 32 heads, latent 512, NoPE",
                  dsa: DSAConfig(mla: MLAConfig(heads: 32, rope: false, mscale: 1))),
    ]

    /// Cache bytes per token of `name`'s default workload under `recipe`.
    public static func cacheBytesPerToken(_ name: String, recipe: Recipe) -> Double? {
        if let c = SoftmaxCatalog.defaultConfig(name) { return c.cacheBytesPerToken(recipe: recipe) }
        if name == "mla" { return defaultMLA.cacheBytesPerToken(recipe: recipe) }
        if name == "dsa" { return defaultDSA.cacheBytesPerToken(recipe: recipe) }
        if let c = SparseCatalog.defaultConfig(name) { return c.attention.cacheBytesPerToken(recipe: recipe) }
        return nil
    }

    /// The default certification workload of `name` on `tier`.
    public static func makeRun(variant name: String, form: String = "recurrent", tier: BackendTier, recipe: Recipe = .exact) throws -> SteppedRun {
        if let c = SoftmaxCatalog.defaultConfig(name) {
            if form == "chunked" { return try SoftmaxCatalog.makePrefill(variant: name, config: c, tier: tier, recipe: recipe) }
            return try SoftmaxCatalog.makeRun(variant: name, config: c, tier: tier, recipe: recipe).run
        }
        switch name {
        case "mla": return try makeMLA(defaultMLA, tier: tier, recipe: recipe)
        case "dsa": return try makeDSA(defaultDSA, tier: tier, recipe: recipe)
        default: break
        }
        if let c = SparseCatalog.defaultConfig(name) { return try SparseCatalog.makeRun(config: c, tier: tier, recipe: recipe) }
        throw VariantError("variant '\(name)' has no run factory")
    }

    public static func makeMLA(_ config: MLAConfig, tier: BackendTier, recipe: Recipe = .exact) throws -> SteppedRun {
        switch tier {
        case .mpfr(let bits): return try MLADecode(config: config, backend: MPFRBackend(precision: bits), recipe: recipe)
        case .float64: return try MLADecode(config: config, backend: Float64Backend(), recipe: recipe)
        case .doubleDouble: return try MLADecode(config: config, backend: DoubleDoubleBackend(), recipe: recipe)
        case .float32: return try MLADecode(config: config, backend: Float32Backend(), recipe: recipe)
        }
    }

    public static func makeDSA(_ config: DSAConfig, tier: BackendTier, recipe: Recipe = .exact) throws -> SteppedRun {
        switch tier {
        case .mpfr(let bits): return try DSA.makeRun(config: config, backend: MPFRBackend(precision: bits), recipe: recipe).0
        case .float64: return try DSA.makeRun(config: config, backend: Float64Backend(), recipe: recipe).0
        case .doubleDouble: return try DSA.makeRun(config: config, backend: DoubleDoubleBackend(), recipe: recipe).0
        case .float32: return try DSA.makeRun(config: config, backend: Float32Backend(), recipe: recipe).0
        }
    }
}
