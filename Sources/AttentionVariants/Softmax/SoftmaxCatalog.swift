import ExactArithmetic
import Workloads

/// Catalog entries, default workloads and presets of the softmax family (MHA/GQA/MQA/SWA).
public enum SoftmaxCatalog {
    public static let names = ["mha", "gqa", "mqa", "swa"]

    public static let entries: [VariantCatalog.Entry] = names.map {
        VariantCatalog.Entry(name: $0, family: "softmax", forms: ["recurrent", "chunked"], roles: SoftmaxAttentionConfig.roles)
    }

    /// The default certification workload (DESIGN.md §9): K = V = 64, Gaussian inputs, seed 0;
    /// one head for MHA and SWA (window 128, 4 sink tokens, sink logit 0.5), two query heads
    /// sharing one KV head for GQA and MQA; outputs at `EvaluationSchedule.certification`.
    public static func defaultConfig(_ name: String) -> SoftmaxAttentionConfig? {
        switch name {
        case "mha": return SoftmaxAttentionConfig()
        case "gqa", "mqa": return SoftmaxAttentionConfig(queryHeads: 2, kvHeads: 1)
        case "swa": return SoftmaxAttentionConfig(window: 128, sinkTokens: 4, sinkLogit: 0.5)
        default: return nil
        }
    }

    /// Public shapes (config.json of each model).
    public struct Preset: Sendable {
        public let name: String
        public let variant: String
        public let summary: String
        public let config: SoftmaxAttentionConfig
    }

    public static let presets: [Preset] = [
        Preset(name: "minimax-m2", variant: "gqa", summary: "MiniMax-M2: 48 query / 8 KV heads, head_dim 128, full attention",
               config: SoftmaxAttentionConfig(queryHeads: 48, kvHeads: 8, headDim: 128)),
        Preset(name: "llama3-8b", variant: "gqa", summary: "Llama-3-style GQA: 32 query / 8 KV heads, head_dim 128",
               config: SoftmaxAttentionConfig(queryHeads: 32, kvHeads: 8, headDim: 128)),
        Preset(name: "gpt-oss", variant: "swa", summary: "GPT-OSS sliding layers: 64 query / 8 KV heads, head_dim 64, window 128, sink logit",
               config: SoftmaxAttentionConfig(queryHeads: 64, kvHeads: 8, headDim: 64, window: 128, sinkLogit: 0)),
    ]

    public static func preset(_ name: String) throws -> Preset {
        guard let p = presets.first(where: { $0.name == name }) else {
            throw VariantError("preset: unknown '\(name)'; valid: \(presets.map(\.name).joined(separator: ", "))")
        }
        return p
    }

    /// Checks that `config` is an instance of `name` (MQA has one KV head, MHA as many as
    /// query heads, SWA a window).
    public static func check(_ name: String, _ config: SoftmaxAttentionConfig) throws {
        try config.validate()
        switch name {
        case "mha" where config.kvHeads != config.queryHeads:
            throw VariantError("kv_heads: mha needs kv_heads = query_heads (\(config.queryHeads)), got \(config.kvHeads)")
        case "mqa" where config.kvHeads != 1:
            throw VariantError("kv_heads: mqa needs kv_heads = 1, got \(config.kvHeads)")
        case "swa" where config.window == nil:
            throw VariantError("window: swa needs a window")
        default: break
        }
    }

    /// The parallel (prefill) form of `config` on `tier` (`SoftmaxPrefill`).
    public static func makePrefill(
        variant name: String, config: SoftmaxAttentionConfig, tier: BackendTier, recipe: Recipe = .exact
    ) throws -> SteppedRun {
        try check(name, config)
        switch tier {
        case .mpfr(let bits): return try SoftmaxPrefill(config: config, backend: MPFRBackend(precision: bits), recipe: recipe)
        case .float64: return try SoftmaxPrefill(config: config, backend: Float64Backend(), recipe: recipe)
        case .doubleDouble: return try SoftmaxPrefill(config: config, backend: DoubleDoubleBackend(), recipe: recipe)
        case .float32: return try SoftmaxPrefill(config: config, backend: Float32Backend(), recipe: recipe)
        }
    }

    /// A run of `config` on a backend of `tier`, the kernel specialised for that backend.
    public static func makeRun(
        variant name: String, config: SoftmaxAttentionConfig, tier: BackendTier, recipe: Recipe = .exact
    ) throws -> SoftmaxRun {
        try check(name, config)
        switch tier {
        case .mpfr(let bits): return .mpfr(try SoftmaxDecode(config: config, backend: MPFRBackend(precision: bits), recipe: recipe))
        case .float64: return .float64(try SoftmaxDecode(config: config, backend: Float64Backend(), recipe: recipe))
        case .doubleDouble: return .doubleDouble(try SoftmaxDecode(config: config, backend: DoubleDoubleBackend(), recipe: recipe))
        case .float32: return .float32(try SoftmaxDecode(config: config, backend: Float32Backend(), recipe: recipe))
        }
    }
}

/// A softmax run on one of the concrete backends (so callers reach its metrics).
public enum SoftmaxRun {
    case mpfr(SoftmaxDecode<MPFRBackend>)
    case float64(SoftmaxDecode<Float64Backend>)
    case doubleDouble(SoftmaxDecode<DoubleDoubleBackend>)
    case float32(SoftmaxDecode<Float32Backend>)

    public var run: SteppedRun {
        switch self {
        case .mpfr(let r): return r
        case .float64(let r): return r
        case .doubleDouble(let r): return r
        case .float32(let r): return r
        }
    }

    public var cacheRelativeError: Double {
        switch self {
        case .mpfr(let r): return r.cacheRelativeError
        case .float64(let r): return r.cacheRelativeError
        case .doubleDouble(let r): return r.cacheRelativeError
        case .float32(let r): return r.cacheRelativeError
        }
    }
}
