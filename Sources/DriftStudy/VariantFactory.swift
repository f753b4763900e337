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
    public static func resolve(_ spec: StudyConfig.RecipeSpec, inputs: String?, roles: [Role], variant: String, form: String = "recurrent") throws -> Recipe {
        var r = try inputRecipe(inputs, roles: roles)
        if let name = spec.kernel {
            let profile = try KernelProfile.named(name)
            if let family = VariantRegistry.definition(variant)?.family { try profile.check(variant: variant, family: family, form: form) }
            let p = try profile.recipe(allowed: roles)
            for role in p.roles { r[role] = p[role] }
            r.kernel = p.kernel
            r.blocking = p.blocking
        }
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
                if let k = explicit.kernel {
                    if let family = VariantRegistry.definition(variant)?.family { try KernelProfile.named(k).check(variant: variant, family: family, form: form) }
                    r.kernel = k
                    r.blocking = explicit.blocking
                }
                if explicit.blocking.hadamard { r.blocking.hadamard = true }
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

    /// role → canonical spec (and `kernel` → the profile's name when the recipe follows one).
    public static func canonical(_ r: Recipe) -> [String: String] {
        var m: [String: String] = r.kernel.map { ["kernel": $0] } ?? [:]
        if r.blocking.hadamard { m["rotation"] = "hadamard" }
        for role in r.roles { m[role.rawValue] = r[role]!.spec }
        return m
    }
}

/// How the study builds a run of a variant instance on a workload: the variant's definition
/// (`VariantRegistry`) resolved with the study's input distribution, seed, shapes and decay.
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

    /// The definition of `name`, its errors as bad study input.
    public static func definition(_ name: String) throws -> any VariantDefinition {
        do { return try VariantRegistry.named(name) } catch { throw StudyInputError("\(error)") }
    }

    /// Variants whose failure mode is a changed key selection (top-k overlap is recorded).
    public static func isSparse(_ name: String) -> Bool { VariantRegistry.definition(name)?.family == .sparse }

    /// Checks a variant entry against its definition (unknown names, forms, overrides, presets).
    public static func check(_ v: StudyConfig.VariantSpec) throws {
        let d = try definition(v.name)
        do { try d.check(form: v.form) } catch { throw StudyInputError("\(error)") }
        let takes = d.overrides
        if (v.keyDim != nil || v.valueDim != nil) && !takes.contains(.keyValueDims) {
            throw StudyInputError("key_dim/value_dim: variant '\(v.name)' does not take them; expected head_dim or no override")
        }
        if v.headDim != nil && !takes.contains(.headDim) {
            throw StudyInputError("head_dim: variant '\(v.name)' does not take it; expected key_dim/value_dim or no override")
        }
        if v.decay != nil && !takes.contains(.decay) {
            throw StudyInputError("decay: only \(names(taking: .decay)) takes a constant decay here; '\(v.name)' uses its own gates")
        }
        if let p = v.presetName { do { _ = try d.preset(p) } catch { throw StudyInputError("\(error)") } }
        if v.head != nil && !takes.contains(.head) {
            throw StudyInputError("head: variant '\(v.name)' does not take it; expected one of \(VariantRegistry.all.filter { $0.overrides.contains(.head) }.map(\.name).sorted().joined(separator: ", "))")
        }
        if v.layer != nil && !takes.contains(.layer) { throw StudyInputError("layer: only \(names(taking: .layer)) takes a layer") }
        _ = try instance(v)
    }

    /// 'a', or 'a' and 'b': the variants taking `override`.
    static func names(taking o: VariantOverrides) -> String {
        VariantRegistry.all.filter { $0.overrides.contains(o) }.map { "'\($0.name)'" }.joined(separator: ", ")
    }

    /// Softmax-family and sparse variants keep a KV cache (no recurrent state to measure).
    public static func isCacheFamily(_ name: String) throws -> Bool { try VariantRegistry.named(name).keepsCache }

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
        try VariantRegistry.named(v.name).roles(form: v.form)
    }

    /// The study's parameters of `v`.
    public static func parameters(
        _ v: StudyConfig.VariantSpec, distribution: InputDistribution = .gaussian, seed: UInt64 = 0, schedule: EvaluationSchedule? = nil
    ) -> VariantParameters {
        VariantParameters(
            preset: v.presetName, keyDim: v.keyDim, valueDim: v.valueDim, headDim: v.headDim, decay: v.decay, head: v.head,
            layer: v.layer, seed: seed, distribution: distribution, schedule: schedule)
    }

    /// A variant instance resolved from its definition's defaults, a named preset and the shape
    /// overrides.
    public static func instance(
        _ v: StudyConfig.VariantSpec, distribution: InputDistribution = .gaussian, seed: UInt64 = 0, schedule: EvaluationSchedule? = nil
    ) throws -> any VariantInstance {
        let d = try definition(v.name)
        do {
            return try d.instance(parameters(v, distribution: distribution, seed: seed, schedule: schedule))
        } catch let e as VariantError { throw StudyInputError(e.description) }
    }

    /// A run of `v` on `w` with `seed`, on `tier`, storing through `recipe`.
    public static func makeRun(
        _ v: StudyConfig.VariantSpec, workload w: StudyConfig.WorkloadSpec, seed: UInt64, tokens: Int,
        schedule: EvaluationSchedule, tier: BackendTier, recipe: Recipe
    ) throws -> SteppedRun {
        try instance(v, distribution: try distribution(w), seed: seed, schedule: schedule).makeRun(form: v.form, tier: tier, recipe: recipe)
    }

    /// Facts about `v` for the theory and the memory axis.
    public static func shape(_ v: StudyConfig.VariantSpec, run: SteppedRun) -> Shape {
        let keepsCache = VariantRegistry.definition(v.name)?.keepsCache ?? false
        let isCache = run.stateCount == 0 || keepsCache
        let instance = try? instance(v)
        var rows = 1, cols = max(run.stateCount, 1)
        if let s = instance?.stateShape { (rows, cols) = s }
        if rows * cols != run.stateCount && run.stateCount > 0 { rows = 1; cols = run.stateCount }
        return Shape(isCache: isCache, stateRows: rows, stateCols: cols, constantDecay: instance?.constantDecay, undecayed: instance?.undecayed ?? false)
    }

    /// Entries a cache variant holds after `tokens` tokens: all of them, except a sliding
    /// window's (its window plus its sink tokens, DESIGN §4: 2·d·(W+n)).
    public static func cachedTokens(_ v: StudyConfig.VariantSpec, tokens: Int) -> Int {
        (try? instance(v))?.cachedTokens(tokens) ?? tokens
    }

    /// Bytes of KV cache per token (cache variants) under `recipe`.
    public static func cacheBytesPerToken(_ v: StudyConfig.VariantSpec, recipe: Recipe) -> Double? {
        (try? instance(v))?.cacheBytesPerToken(recipe: recipe)
    }
}
