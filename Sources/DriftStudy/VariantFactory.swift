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
                // (the same values as 4-byte codes, without the cache's bookkeeping).
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

    /// Variants whose failure mode is a changed key selection (top-k overlap is recorded).
    public static func isSparse(_ name: String) -> Bool { (try? VariantCatalog.entry(name).family) == "sparse" }

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
        if let p = v.presetName { try ModelPresets.check(p, variant: v.name) }
        if v.head != nil && !headed.contains(v.name) {
            throw StudyInputError("head: variant '\(v.name)' does not take it; expected one of \(headed.sorted().joined(separator: ", "))")
        }
        if v.layer != nil && v.name != "lightning" { throw StudyInputError("layer: only 'lightning' takes a layer") }
        _ = try resolve(v)
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

    /// A variant instance's configuration, resolved from the catalog defaults, a named preset
    /// and the shape overrides.
    enum Resolved {
        case linear(LinearAttentionConfig)
        case delta(DeltaRuleConfig)
        case gated(GatedLinearConfig)
        case rwkv(RWKV7Config)
        case softmax(SoftmaxAttentionConfig)
        case mla(MLAConfig)
        case dsa(DSAConfig)
        case sparse(BlockSparseConfig)
    }

    /// Variants that take `head` (which head's gates) and `layer` (Lightning's layer).
    static let headed: Set<String> = ["gated_deltanet", "kda", "lightning", "mamba2"]

    static func resolve(
        _ v: StudyConfig.VariantSpec, distribution dist: InputDistribution = .gaussian, seed: UInt64 = 0,
        schedule: EvaluationSchedule? = nil
    ) throws -> Resolved {
        let preset = v.presetName
        switch v.name {
        case "linear":
            var c = LinearAttentionConfig(keyDim: v.keyDim ?? 64, valueDim: v.valueDim ?? 64, seed: seed, distribution: dist)
            if let a = v.decay, a < 1 { c.gates = .constant(a) }
            return .linear(c)
        case _ where DeltaCatalog.names.contains(v.name):
            let kind = DeltaKind(rawValue: v.name)!
            var c: DeltaRuleConfig
            if let p = preset.flatMap(ModelPresets.delta), p.kind == kind {
                guard (v.head ?? 0) < p.valueHeads else { throw StudyInputError("head: preset '\(p.name)' has \(p.valueHeads) value heads; expected 0...\(p.valueHeads - 1)") }
                c = p.config(head: v.head ?? 0, seed: seed)
            } else {
                c = DeltaCatalog.defaultConfig(kind)
                if let h = v.head { c.head = h }
            }
            c.seed = seed
            c.distribution = dist
            if let k = v.keyDim { c.keyDim = k }
            if let d = v.valueDim { c.valueDim = d }
            return .delta(c)
        case "retnet", "lightning", "gla", "mamba2":
            var c: GatedLinearConfig
            switch v.name {
            case "lightning":
                let H = GatedLinearConfig.miniMax01Heads, L = GatedLinearConfig.miniMax01Layers
                guard (v.head ?? 0) < H else { throw StudyInputError("head: lightning (MiniMax-01) has \(H) heads; expected 0...\(H - 1)") }
                guard (v.layer ?? 0) < L else { throw StudyInputError("layer: lightning (MiniMax-01) has \(L) layers; expected 0...\(L - 1)") }
                c = .lightning(head: v.head ?? 0, layer: v.layer ?? 0)
            case "mamba2": c = .mamba2(head: v.head ?? 0)
            default: c = GatedFamily.defaultConfig(v.name)!
            }
            c.seed = seed
            c.distribution = dist
            if let k = v.keyDim { c.keyDim = k }
            if let d = v.valueDim { c.valueDim = d }
            return .gated(c)
        case "rwkv7":
            var c = RWKV7Config()
            c.seed = seed
            c.distribution = dist
            if let h = v.headDim { c.headDim = h }
            return .rwkv(c)
        case _ where SoftmaxCatalog.names.contains(v.name):
            var c = preset.flatMap(ModelPresets.softmax) ?? SoftmaxCatalog.defaultConfig(v.name)!
            c.seed = seed
            c.distribution = dist
            if let schedule { c.evaluation = schedule }
            if let h = v.headDim { c.headDim = h; c.valueDim = h }
            return .softmax(c)
        case "mla", "dsa":
            var c = v.name == "mla" ? DSAConfig(mla: SoftmaxFamily.defaultMLA) : SoftmaxFamily.defaultDSA
            if let p = preset.flatMap({ ModelPresets.mla($0, variant: v.name) }) { c = p }
            c.mla.seed = seed
            c.mla.distribution = dist
            if let schedule { c.mla.evaluation = schedule }
            return v.name == "mla" ? .mla(c.mla) : .dsa(c)
        case "moba", "nsa":
            var c = SparseCatalog.defaultConfig(v.name)!
            c.attention.seed = seed
            c.attention.distribution = dist
            if let schedule { c.attention.evaluation = schedule }
            if let h = v.headDim { c.attention.headDim = h; c.attention.valueDim = h }
            return .sparse(c)
        default:
            throw StudyInputError("variant '\(v.name)' has no study factory")
        }
    }

    /// A run of `v` on `w` with `seed`, on `tier`, storing through `recipe`.
    public static func makeRun(
        _ v: StudyConfig.VariantSpec, workload w: StudyConfig.WorkloadSpec, seed: UInt64, tokens: Int,
        schedule: EvaluationSchedule, tier: BackendTier, recipe: Recipe
    ) throws -> SteppedRun {
        switch try resolve(v, distribution: try distribution(w), seed: seed, schedule: schedule) {
        case .linear(let c): return try VariantCatalog.makeRun(variant: "linear", form: v.form, tier: tier, recipe: recipe, linear: c)
        case .delta(let c): return try DeltaCatalog.makeRun(config: c, form: v.form, tier: tier, recipe: recipe)
        case .gated(let c): return try GatedFamily.makeRun(config: c, form: v.form, tier: tier, recipe: recipe)
        case .rwkv(let c): return try GatedFamily.makeRWKV7(config: c, form: v.form, tier: tier, recipe: recipe)
        case .softmax(let c):
            if v.form == "chunked" { return try SoftmaxCatalog.makePrefill(variant: v.name, config: c, tier: tier, recipe: recipe) }
            return try SoftmaxCatalog.makeRun(variant: v.name, config: c, tier: tier, recipe: recipe).run
        case .mla(let c): return try SoftmaxFamily.makeMLA(c, tier: tier, recipe: recipe)
        case .dsa(let c): return try SoftmaxFamily.makeDSA(c, tier: tier, recipe: recipe)
        case .sparse(let c): return try SparseCatalog.makeRun(config: c, tier: tier, recipe: recipe)
        }
    }

    /// Facts about `v` for the theory and the memory axis.
    public static func shape(_ v: StudyConfig.VariantSpec, run: SteppedRun) -> Shape {
        let family = (try? VariantCatalog.entry(v.name).family) ?? ""
        let isCache = run.stateCount == 0 || family == "softmax" || family == "sparse"
        var rows = 1, cols = max(run.stateCount, 1)
        switch try? resolve(v) {
        case .linear(let c)?: rows = c.keyDim; cols = c.valueDim
        case .delta(let c)?: rows = c.keyDim; cols = c.valueDim
        case .gated(let c)?: rows = c.keyDim; cols = c.valueDim
        case .rwkv(let c)?: rows = c.headDim; cols = c.headDim
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

    /// Entries a cache variant holds after `tokens` tokens: all of them, except a sliding
    /// window's (its window plus its sink tokens, DESIGN §4: 2·d·(W+n)).
    public static func cachedTokens(_ v: StudyConfig.VariantSpec, tokens: Int) -> Int {
        if case .softmax(let c)? = try? resolve(v), let w = c.window { return min(tokens, w + c.sinkTokens) }
        return tokens
    }

    /// Bytes of KV cache per token (cache variants) under `recipe`.
    public static func cacheBytesPerToken(_ v: StudyConfig.VariantSpec, recipe: Recipe) -> Double? {
        switch try? resolve(v) {
        case .softmax(let c)?: return c.cacheBytesPerToken(recipe: recipe)
        case .sparse(let c)?: return c.attention.cacheBytesPerToken(recipe: recipe)
        case .mla(let c)?: return c.cacheBytesPerToken(recipe: recipe)
        case .dsa(let c)?: return c.cacheBytesPerToken(recipe: recipe)
        default: return nil
        }
    }
}
