import ExactArithmetic
import Workloads

/// The variants this build implements, and how to make a run of one on a given tier.
public enum VariantCatalog {
    public struct Entry: Sendable {
        public let name: String
        public let family: String
        public let forms: [String]
        public let roles: [Role]
    }

    public static let entries: [Entry] = [
        Entry(name: "linear", family: "linear", forms: ["recurrent", "chunked"], roles: LinearAttentionConfig.roles + [.chunkState]),
    ] + DeltaCatalog.entries + GatedFamily.entries + SoftmaxFamily.entries

    /// Every canonical name of DESIGN.md §4 (implemented or not), for error messages.
    public static let canonicalNames = [
        "mha", "gqa", "mqa", "swa", "mla", "dsa", "moba", "nsa", "linear", "retnet", "lightning", "gla",
        "mamba2", "deltanet", "gated_deltanet", "kda", "rwkv7",
    ]

    public static func entry(_ name: String) throws -> Entry {
        if let e = entries.first(where: { $0.name == name }) { return e }
        if canonicalNames.contains(name) {
            throw VariantError("variant '\(name)' is not implemented yet; implemented: \(entries.map(\.name).joined(separator: ", "))")
        }
        throw VariantError("unknown variant '\(name)'; valid: \(canonicalNames.joined(separator: ", "))")
    }

    /// A backend of the given tier.
    public static func withBackend<R>(_ tier: BackendTier, _ body: (any Backend) throws -> R) rethrows -> R {
        switch tier {
        case .mpfr(let bits): return try body(MPFRBackend(precision: bits))
        case .float64: return try body(Float64Backend())
        case .doubleDouble: return try body(DoubleDoubleBackend())
        case .float32: return try body(Float32Backend())
        }
    }

    /// The default certification workload of `name` (DESIGN.md §9): one head, K=V=64 unless
    /// the variant fixes its shapes, Gaussian inputs, the variant's default gates, seed 0.
    public static func makeRun(
        variant name: String, form: String = "recurrent", tier: BackendTier, recipe: Recipe = .exact,
        linear: LinearAttentionConfig = LinearAttentionConfig()
    ) throws -> SteppedRun {
        let e = try entry(name)
        guard e.forms.contains(form) else {
            throw VariantError("variant '\(name)' has no '\(form)' form; its forms: \(e.forms.joined(separator: ", "))")
        }
        switch name {
        case "linear":
            try GatedFamily.validate(linear: linear)
            if form == "chunked" {
                return try GatedFamily.makeRun(config: GatedLinearConfig(linear: linear), form: form, tier: tier, recipe: recipe)
            }
            // Concrete instantiations so each kernel is specialised for its backend.
            switch tier {
            case .mpfr(let bits): return LinearAttentionDecode(config: linear, backend: MPFRBackend(precision: bits), recipe: recipe)
            case .float64: return LinearAttentionDecode(config: linear, backend: Float64Backend(), recipe: recipe)
            case .doubleDouble: return LinearAttentionDecode(config: linear, backend: DoubleDoubleBackend(), recipe: recipe)
            case .float32: return LinearAttentionDecode(config: linear, backend: Float32Backend(), recipe: recipe)
            }
        case "deltanet", "gated_deltanet", "kda":
            return try DeltaCatalog.makeRun(config: DeltaCatalog.defaultConfig(DeltaKind(rawValue: name)!), form: form, tier: tier, recipe: recipe)
        case "retnet", "lightning", "gla", "mamba2":
            return try GatedFamily.makeRun(config: GatedFamily.defaultConfig(name)!, form: form, tier: tier, recipe: recipe)
        case "rwkv7":
            return try GatedFamily.makeRWKV7(config: RWKV7Config(), form: form, tier: tier, recipe: recipe)
        case _ where SoftmaxFamily.handles(name):
            return try SoftmaxFamily.makeRun(variant: name, form: form, tier: tier, recipe: recipe)
        default:
            throw VariantError("variant '\(name)' has no run factory")
        }
    }
}
