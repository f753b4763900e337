import ExactArithmetic
import Workloads

/// Catalog entries and run factories of the delta family.
public enum DeltaCatalog {
    public static let names = DeltaKind.allCases.map(\.rawValue)

    public static let entries: [VariantCatalog.Entry] = DeltaKind.allCases.map {
        VariantCatalog.Entry(name: $0.rawValue, family: "delta", forms: ["recurrent", "chunked"], roles: DeltaRuleConfig.roles)
    }

    /// The default certification workload: one head, K = V = 64, Gaussian inputs, model gates
    /// (Mamba initialisation; none for DeltaNet), β = sigmoid, seed 0.
    public static func defaultConfig(_ kind: DeltaKind) -> DeltaRuleConfig { DeltaRuleConfig(kind: kind) }

    /// A run of `config` in `form` ("recurrent" or "chunked") on a backend of `tier`, each
    /// kernel specialised for its backend.
    public static func makeRun(config: DeltaRuleConfig, form: String, tier: BackendTier, recipe: Recipe = .exact) throws -> SteppedRun {
        let allowed = form == "chunked" ? DeltaRuleConfig.roles : DeltaRuleConfig.recurrentRoles
        if let bad = recipe.roles.first(where: { !allowed.contains($0) }) {
            throw VariantError("recipe: role '\(bad.rawValue)' does not exist in the \(form) form of \(config.kind.rawValue); its roles: \(allowed.map(\.rawValue).joined(separator: ", "))")
        }
        func make<B: Backend>(_ b: B) throws -> SteppedRun {
            switch form {
            case "recurrent": return try DeltaRuleDecode(config: config, backend: b, recipe: recipe)
            case "chunked": return try DeltaRuleChunked(config: config, backend: b, recipe: recipe)
            default: throw VariantError("form: expected recurrent or chunked, got '\(form)'")
            }
        }
        switch tier {
        case .mpfr(let bits): return try make(MPFRBackend(precision: bits))
        case .float64: return try make(Float64Backend())
        case .doubleDouble: return try make(DoubleDoubleBackend())
        case .float32: return try make(Float32Backend())
        }
    }
}
