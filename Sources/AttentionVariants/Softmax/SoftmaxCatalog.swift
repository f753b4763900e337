import ExactArithmetic
import Workloads

/// The softmax kernels' run factories (decode and prefill on each backend tier), and lookups
/// of the softmax definitions by name.
public enum SoftmaxCatalog {
    /// The canonical names of the softmax definitions, in registry order.
    public static var names: [String] { VariantRegistry.all.compactMap { ($0 as? SoftmaxDefinition)?.name } }

    /// The softmax definition named `name`.
    public static func definition(_ name: String) throws -> SoftmaxDefinition {
        guard let d = VariantRegistry.definition(name) as? SoftmaxDefinition else {
            throw VariantError("variant '\(name)': expected a softmax variant (\(names.joined(separator: ", ")))")
        }
        return d
    }

    /// The default certification workload of `name` (DESIGN.md §9).
    public static func defaultConfig(_ name: String) -> SoftmaxAttentionConfig? { (try? definition(name))?.defaultConfig }

    /// A model preset of any softmax variant.
    public struct Preset: Sendable {
        public let name: String
        public let variant: String
        public let summary: String
        public let config: SoftmaxAttentionConfig
    }

    public static var presets: [Preset] {
        VariantRegistry.all.compactMap { $0 as? SoftmaxDefinition }.flatMap { d in
            d.modelPresets.map { Preset(name: $0.preset.name, variant: d.name, summary: $0.preset.summary, config: $0.config) }
        }
    }

    public static func preset(_ name: String) throws -> Preset {
        guard let p = presets.first(where: { $0.name == name }) else {
            throw VariantError("preset: unknown '\(name)'; valid: \(presets.map(\.name).joined(separator: ", "))")
        }
        return p
    }

    /// Checks that `config` is an instance of `name`.
    public static func check(_ name: String, _ config: SoftmaxAttentionConfig) throws { try definition(name).check(config) }

    /// The parallel (prefill) form of `config` on `tier` (`SoftmaxPrefill`), checked as `name`.
    public static func makePrefill(
        variant name: String, config: SoftmaxAttentionConfig, tier: BackendTier, recipe: Recipe = .exact
    ) throws -> SteppedRun {
        try check(name, config)
        return try makePrefill(config: config, tier: tier, recipe: recipe)
    }

    /// A decode run of `config` on `tier`, checked as `name`.
    public static func makeRun(
        variant name: String, config: SoftmaxAttentionConfig, tier: BackendTier, recipe: Recipe = .exact
    ) throws -> SteppedRun {
        try check(name, config)
        return try makeDecode(config: config, tier: tier, recipe: recipe)
    }

    /// The prefill kernel on a backend of `tier`.
    public static func makePrefill(config: SoftmaxAttentionConfig, tier: BackendTier, recipe: Recipe = .exact) throws -> SteppedRun {
        try tier.with(Prefill(config: config, recipe: recipe))
    }

    struct Prefill: BackendGeneric {
        let config: SoftmaxAttentionConfig, recipe: Recipe
        func callAsFunction<B: Backend>(_ b: B) throws -> SteppedRun { try SoftmaxPrefill(config: config, backend: b, recipe: recipe) }
    }

    /// The decode kernel on a backend of `tier`.
    public static func makeDecode(config: SoftmaxAttentionConfig, tier: BackendTier, recipe: Recipe = .exact) throws -> SteppedRun {
        try tier.with(Decode(config: config, recipe: recipe))
    }

    struct Decode: BackendGeneric {
        let config: SoftmaxAttentionConfig, recipe: Recipe
        func callAsFunction<B: Backend>(_ b: B) throws -> SteppedRun { try SoftmaxDecode(config: config, backend: b, recipe: recipe) }
    }
}
