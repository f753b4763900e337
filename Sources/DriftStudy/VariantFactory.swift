import AttentionVariants
import ExactArithmetic
import NumberFormats
import Workloads

/// Recipes as a study writes them: format specs and `role=SPEC` lists, resolved against a
/// variant's roles.
public enum RecipeResolver {
    public static func parseSpec(_ s: String) throws -> FormatSpec { try FormatSpec.parse(s) }

    public static func parseRoles(_ s: String) throws -> Recipe { try Recipe.parse(s) }

    /// The roles a `store:` recipe applies to: the recurrent state, else the KV cache, else
    /// MLA's latent cache (its RoPE keys too).
    public static func storageRoles(_ roles: [Role]) -> [Role] {
        if roles.contains(.state) { return [.state] }
        if roles.contains(.kCache) { return [.kCache, .vCache] }
        if roles.contains(.latent) { return [.latent, .ropeCache] }
        return []
    }

    /// The emulated recipe of `spec` for a variant with `roles`, inputs (q, k, v) at `inputs`.
    public static func resolve(_ spec: StudyConfig.RecipeSpec, inputs: String?, roles: [Role], variant: String) throws -> Recipe {
        var r = try inputRecipe(inputs, roles: roles)
        if let store = spec.store {
            let targets = storageRoles(roles)
            guard !targets.isEmpty else { throw StudyInputError("recipe '\(spec.name)': variant '\(variant)' has no state or cache role") }
            let f = try FormatSpec.parse(store)
            for role in targets {
                // A float32 cache in a float32 kernel stores exactly what it computed: leave it unrounded
                // (the quantized caches keep codes of at most 16 bits).
                if f.description == "float32" && role != .state { continue }
                r[role] = f
            }
        }
        if let text = spec.roles {
            do {
                let explicit = try Recipe.parse(text, allowed: roles)
                for role in explicit.roles { r[role] = explicit[role] }
            } catch {
                throw StudyInputError("recipe '\(spec.name)' for variant '\(variant)': \(error); exclude the pair or change the recipe")
            }
        }
        return r.fast
    }

    /// The rounding of the inputs alone (what the reference sees too).
    public static func inputRecipe(_ inputs: String?, roles: [Role]) throws -> Recipe {
        var r = Recipe()
        if let inputs {
            for role in [Role.q, .k, .v] where roles.contains(role) { r[role] = try FormatSpec.parse(inputs) }
        }
        return r.fast
    }

    /// role → canonical spec.
    public static func canonical(_ r: Recipe) -> [String: String] {
        var m: [String: String] = [:]
        for role in r.roles { m[role.rawValue] = r[role]!.spec }
        return m
    }
}

/// How the study builds a run of a variant instance on a workload (the catalog's default
/// workloads with the study's input distribution, seed, shapes and decay).
public enum VariantFactory {
    /// Per-variant facts the runner and the theory need.
    public struct Shape: Sendable {
        /// Softmax-like: the outputs exist only at evaluated positions; memory grows per token.
        public var isCache: Bool
        public var stateRows: Int
        public var stateCols: Int
        /// A constant decay when the variant has one (for the theory).
        public var constantDecay: Double?
        /// The gates are the identity (α = 1), so the undecayed law applies.
        public var undecayed: Bool
    }

    static let dimensioned: Set<String> = ["linear", "deltanet", "gated_deltanet", "kda", "retnet", "lightning", "gla", "mamba2"]
    static let headDimensioned: Set<String> = ["mha", "gqa", "mqa", "swa", "moba", "nsa", "rwkv7"]

    /// Checks a variant entry against the catalog (unknown names, forms, overrides).
    public static func check(_ v: StudyConfig.VariantSpec) throws {
        let e: VariantCatalog.Entry
        do { e = try VariantCatalog.entry(v.name) } catch { throw StudyInputError("\(error)") }
        guard e.forms.contains(v.form) else {
            throw StudyInputError("variant '\(v.name)' has no '\(v.form)' form; its forms: \(e.forms.joined(separator: ", "))")
        }
        if (v.keyDim != nil || v.valueDim != nil) && !dimensioned.contains(v.name) {
            throw StudyInputError("key_dim/value_dim: variant '\(v.name)' does not take them; expected head_dim or no override")
        }
        if v.headDim != nil && !headDimensioned.contains(v.name) {
            throw StudyInputError("head_dim: variant '\(v.name)' does not take it; expected key_dim/value_dim or no override")
        }
        if v.decay != nil && v.name != "linear" {
            throw StudyInputError("decay: only 'linear' takes a constant decay here; '\(v.name)' uses its own gates")
        }
        if let p = v.model { try ModelPresets.check(p, variant: v.name) }
    }

    /// Softmax-family and sparse variants keep a KV cache (no recurrent state to measure).
    public static func isCacheFamily(_ name: String) throws -> Bool {
        let family = try VariantCatalog.entry(name).family
        return family == "softmax" || family == "sparse"
    }

    public static func distribution(_ w: StudyConfig.WorkloadSpec) throws -> InputDistribution {
        let p = w.parameters
        switch w.input {
        case "gaussian": return .gaussian(mean: p["mean"] ?? 0, std: p["std"] ?? 1)
        case "student_t":
            let d = p["dof"] ?? 3
            guard d >= 1, d == d.rounded() else { throw StudyInputError("dof: expected an integer ≥ 1, got \(d)") }
            return .studentT(dof: Int(d))
        case "sparse_outliers":
            let prob = p["probability"] ?? 0.001
            guard prob >= 0 && prob <= 1 else { throw StudyInputError("probability: expected a value in [0, 1], got \(prob)") }
            return .sparseOutliers(probability: prob, scale: p["scale"] ?? 10)
        case "channel_outliers":
            let c = p["count"] ?? 4
            guard c >= 0, c == c.rounded() else { throw StudyInputError("count: expected an integer ≥ 0, got \(c)") }
            return .channelOutliers(count: Int(c), minFactor: p["min_factor"] ?? 10, maxFactor: p["max_factor"] ?? 100)
        default: throw StudyInputError("input: unknown '\(w.input)'")
        }
    }

    /// The recorded positions (and, for cache variants, the evaluated ones): every position
    /// below 64, `perOctave` per doubling, and the last.
    public static func schedule(tokens: Int, perOctave: Int) -> EvaluationSchedule {
        EvaluationSchedule(dense: 64, perOctave: perOctave, stride: 0, last: tokens - 1)
    }

    public static func roles(_ v: StudyConfig.VariantSpec) throws -> [Role] {
        let e = try VariantCatalog.entry(v.name)
        if v.form == "recurrent" && DeltaCatalog.names.contains(v.name) { return DeltaRuleConfig.recurrentRoles }
        if v.form == "recurrent" { return e.roles.filter { $0 != .chunkState && $0 != .vNew && $0 != .triInverse } }
        return e.roles
    }

    /// A run of `v` on `w` with `seed`, on `tier`, storing through `recipe`.
    public static func makeRun(
        _ v: StudyConfig.VariantSpec, workload w: StudyConfig.WorkloadSpec, seed: UInt64, tokens: Int,
        schedule: EvaluationSchedule, tier: BackendTier, recipe: Recipe
    ) throws -> SteppedRun {
        let dist = try distribution(w)
        switch v.name {
        case "linear":
            var c = LinearAttentionConfig(keyDim: v.keyDim ?? 64, valueDim: v.valueDim ?? 64, seed: seed, distribution: dist)
            if let a = v.decay, a < 1 { c.gates = .constant(a) }
            return try VariantCatalog.makeRun(variant: "linear", form: v.form, tier: tier, recipe: recipe, linear: c)
        case _ where DeltaCatalog.names.contains(v.name):
            var c = v.model.flatMap(ModelPresets.delta)?.config(head: 0, seed: seed) ?? DeltaCatalog.defaultConfig(DeltaKind(rawValue: v.name)!)
            c.seed = seed
            c.distribution = dist
            if let k = v.keyDim { c.keyDim = k }
            if let d = v.valueDim { c.valueDim = d }
            return try DeltaCatalog.makeRun(config: c, form: v.form, tier: tier, recipe: recipe)
        case "retnet", "lightning", "gla", "mamba2":
            var c = GatedFamily.defaultConfig(v.name)!
            c.seed = seed
            c.distribution = dist
            if let k = v.keyDim { c.keyDim = k }
            if let d = v.valueDim { c.valueDim = d }
            return try GatedFamily.makeRun(config: c, form: v.form, tier: tier, recipe: recipe)
        case "rwkv7":
            var c = RWKV7Config()
            c.seed = seed
            c.distribution = dist
            if let h = v.headDim { c.headDim = h }
            return try GatedFamily.makeRWKV7(config: c, form: v.form, tier: tier, recipe: recipe)
        case _ where SoftmaxCatalog.names.contains(v.name):
            var c = v.model.flatMap(ModelPresets.softmax) ?? SoftmaxCatalog.defaultConfig(v.name)!
            c.seed = seed
            c.distribution = dist
            c.evaluation = schedule
            if let h = v.headDim { c.headDim = h; c.valueDim = h }
            return try SoftmaxCatalog.makeRun(variant: v.name, config: c, tier: tier, recipe: recipe).run
        case "mla":
            var c = v.model.flatMap { ModelPresets.mla($0, variant: "mla")?.mla } ?? SoftmaxFamily.defaultMLA
            c.seed = seed
            c.distribution = dist
            c.evaluation = schedule
            return try SoftmaxFamily.makeMLA(c, tier: tier, recipe: recipe)
        case "dsa":
            var c = v.model.flatMap { ModelPresets.mla($0, variant: "dsa") } ?? SoftmaxFamily.defaultDSA
            c.mla.seed = seed
            c.mla.distribution = dist
            c.mla.evaluation = schedule
            return try SoftmaxFamily.makeDSA(c, tier: tier, recipe: recipe)
        case "moba", "nsa":
            var c = SparseCatalog.defaultConfig(v.name)!
            c.attention.seed = seed
            c.attention.distribution = dist
            c.attention.evaluation = schedule
            if let h = v.headDim { c.attention.headDim = h; c.attention.valueDim = h }
            return try SparseCatalog.makeRun(config: c, tier: tier, recipe: recipe)
        default:
            // A variant added to the catalog after this factory: its default workload.
            return try VariantCatalog.makeRun(variant: v.name, form: v.form, tier: tier, recipe: recipe)
        }
    }

    /// Facts about `v` for the theory and the memory axis.
    public static func shape(_ v: StudyConfig.VariantSpec, run: SteppedRun) -> Shape {
        let family = (try? VariantCatalog.entry(v.name).family) ?? ""
        let isCache = run.stateCount == 0 || family == "softmax" || family == "sparse"
        var rows = 1, cols = max(run.stateCount, 1)
        switch v.name {
        case "linear": rows = v.keyDim ?? 64; cols = v.valueDim ?? 64
        case _ where DeltaCatalog.names.contains(v.name):
            let c = v.model.flatMap(ModelPresets.delta)?.config() ?? DeltaCatalog.defaultConfig(DeltaKind(rawValue: v.name)!)
            rows = v.keyDim ?? c.keyDim; cols = v.valueDim ?? c.valueDim
        case "retnet", "lightning", "gla", "mamba2":
            let c = GatedFamily.defaultConfig(v.name)!
            rows = v.keyDim ?? c.keyDim; cols = v.valueDim ?? c.valueDim
        case "rwkv7": rows = v.headDim ?? RWKV7Config().headDim; cols = rows
        default: break
        }
        if rows * cols != run.stateCount && run.stateCount > 0 { rows = 1; cols = run.stateCount }
        var decay: Double? = nil
        var undecayed = false
        if v.name == "linear" {
            if let a = v.decay, a < 1 { decay = a } else { undecayed = true }
        } else if v.name == "retnet" {
            decay = GateSchedule.retnet.constantDecay(head: 0)
        }
        return Shape(isCache: isCache, stateRows: rows, stateCols: cols, constantDecay: decay, undecayed: undecayed)
    }

    /// Bytes of KV cache per token (cache variants) under `recipe`.
    public static func cacheBytesPerToken(_ v: StudyConfig.VariantSpec, recipe: Recipe) -> Double? {
        switch v.name {
        case _ where SoftmaxCatalog.names.contains(v.name):
            var c = v.model.flatMap(ModelPresets.softmax) ?? SoftmaxCatalog.defaultConfig(v.name)!
            if let h = v.headDim { c.headDim = h; c.valueDim = h }
            return c.cacheBytesPerToken(recipe: recipe)
        case _ where (v.name == "mla" || v.name == "dsa") && v.model != nil:
            return ModelPresets.mla(v.model!, variant: v.name).map { v.name == "mla" ? $0.mla.cacheBytesPerToken(recipe: recipe) : $0.cacheBytesPerToken(recipe: recipe) }
        case "moba", "nsa":
            var c = SparseCatalog.defaultConfig(v.name)!
            if let h = v.headDim { c.attention.headDim = h; c.attention.valueDim = h }
            return c.attention.cacheBytesPerToken(recipe: recipe)
        default:
            return SoftmaxFamily.cacheBytesPerToken(v.name, recipe: recipe)
        }
    }
}
