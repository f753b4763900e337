import ExactArithmetic

/// The softmax-side variants (softmax, MLA, sparse) as the variant catalog sees them: entries
/// and default-workload runs, in one place so the shared catalog needs one line each.
public enum SoftmaxFamily {
    public static var entries: [VariantCatalog.Entry] { SoftmaxCatalog.entries }

    public static func handles(_ name: String) -> Bool { entries.contains { $0.name == name } }

    /// The default certification workload of `name` on `tier`.
    public static func makeRun(variant name: String, tier: BackendTier, recipe: Recipe = .exact) throws -> SteppedRun {
        if let c = SoftmaxCatalog.defaultConfig(name) {
            return try SoftmaxCatalog.makeRun(variant: name, config: c, tier: tier, recipe: recipe).run
        }
        throw VariantError("variant '\(name)' has no run factory")
    }
}
