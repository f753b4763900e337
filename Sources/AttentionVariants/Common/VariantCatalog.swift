import ExactArithmetic
import Workloads

/// Lookups over `VariantRegistry` for callers that have a name: the definition, and a run of
/// its default certification workload (DESIGN.md §9).
public enum VariantCatalog {
    public static var entries: [any VariantDefinition] { VariantRegistry.all }

    /// The canonical names, for error messages.
    public static var canonicalNames: [String] { VariantRegistry.all.map(\.name) }

    public static func entry(_ name: String) throws -> any VariantDefinition { try VariantRegistry.named(name) }

    /// The default certification workload of `name` in `form` on `tier`: one head, K=V=64
    /// unless the variant fixes its shapes, Gaussian inputs, the variant's default gates, seed 0.
    public static func makeRun(variant name: String, form: String = "recurrent", tier: BackendTier, recipe: Recipe = .exact) throws -> SteppedRun {
        let d = try entry(name)
        try d.check(form: form)
        return try d.instance(VariantParameters()).makeRun(form: form, tier: tier, recipe: recipe)
    }
}
