import AttentionVariants
import Foundation
import HybridStacks
import NumberFormats
import Yams

/// A budget on a whole stack (`variant: hybrid`): the largest relative error of the final hidden
/// state (and, optionally, the logits' KL) allowed at length T under a recipe per layer type.
///
/// ```yaml
///   - name: qwen3-next-bf16-state
///     variant: hybrid
///     preset: qwen3-next          # or pattern: "(3*gated_deltanet, gated_attention)*12" (preset shapes)
///     width: 1/16                 # optional (default 1/16)
///     form: chunked               # optional (default recurrent)
///     recipe: {gated_deltanet: "state=bfloat16", residual: bfloat16}
///     tokens: 2048
///     seed: 0                     # optional
///     max_hidden_rel_err: 5.0e-2
///     max_logits_kl: 1.0e-2       # optional
/// ```
public struct HybridBudget: Sendable, Equatable {
    public var preset: String?
    public var pattern: String?
    public var width: Double
    public var form: String
    public var recipe: [String: String]
    public var seed: UInt64
    public var maxLogitsKL: Double?

    static let keys = ["name", "variant", "preset", "pattern", "width", "form", "recipe", "tokens", "seed", "max_hidden_rel_err", "max_logits_kl"]

    /// The stack run this budget checks (checked when the file is loaded).
    public func spec(tokens: Int, place: String) throws -> HybridSpec {
        var model = StackModel.qwen3Next
        if let preset { model = try StackModel.preset(preset) }
        if let pattern {
            model.pattern = pattern
            model.mlpAfterEach = !((try? LayerPattern.parse(pattern))?.contains(.mlp) ?? false)
        }
        let shape = try StackShape(model: model, width: width)
        let r = try StackRecipe.parse(name: "budget", recipe.sorted { $0.key < $1.key }.map { (key: $0.key, value: $0.value) }, shape: shape, form: form, where: place)
        var o = StackRunOptions(tokens: tokens)
        o.form = form
        o.seed = seed
        o.attribution = false
        o.blockRun = { BlockRuns.make($0, fast: true) }
        let name = [preset, pattern == nil ? nil : "pattern"].compactMap { $0 }.joined(separator: "+")
        let spec = HybridSpec(name: name, shape: shape, recipes: [r], options: o)
        try spec.checkMemory(place: place)
        return spec
    }

    /// Checks the one record of the budget's run against its limits.
    public static func evaluate(_ b: Budget, record r: HybridRecord, seconds: Double) -> BudgetOutcome {
        var problems: [String] = []
        if r.storedNonFinite > 0 { problems.append("non-finite: \(r.storedNonFinite) NaN/Inf values stored (seed \(r.seed)); NaN fails every budget") }
        func check(_ metric: String, _ limit: Double, _ x: Double?) -> BudgetCheck {
            let m = x.map { $0.isFinite ? $0 : .nan }
            return BudgetCheck(metric: metric, measured: m, limit: limit, seed: r.seed, pass: m.map { $0.isFinite && $0 <= limit } ?? false)
        }
        var checks = [check("hidden_rel_err", b.maxOutputRelErr, r.finalError)]
        if let kl = b.hybrid?.maxLogitsKL { checks.append(check("logits_kl", kl, r.logitsKL.last)) }
        return BudgetOutcome(budget: b, records: [], checks: checks, problems: problems, seconds: seconds)
    }
}

extension YAMLReader {
    /// A `variant: hybrid` budget entry (`label` names it in errors).
    func hybridBudget(_ n: Node, name: String) throws -> Budget {
        let m = try mapping(n, context: "budget", allowed: HybridBudget.keys)
        guard m["preset"] != nil || m["pattern"] != nil else { throw error(n, "preset", "a stack preset (\(StackModel.presets.map(\.name).joined(separator: ", "))) or a pattern") }
        var h = HybridBudget(preset: try m["preset"].map { try string($0, key: "preset") }, pattern: try m["pattern"].map { try string($0, key: "pattern") },
                             width: 1.0 / 16, form: "recurrent", recipe: [:], seed: 0)
        if let w = m["width"] {
            do { h.width = try parseWidth(w.scalar?.string ?? "") } catch { throw self.error(w, "width", "a fraction such as 1/16 or 0.0625") }
        }
        if let f = m["form"] {
            h.form = try string(f, key: "form")
            guard ["recurrent", "chunked"].contains(h.form) else { throw error(f, "form", "recurrent or chunked, got '\(h.form)'") }
        }
        if let s = m["seed"] { h.seed = UInt64(try int(s, key: "seed", range: 0...Int(Int32.max))) }
        guard let rn = m["recipe"] else { throw error(n, "recipe", "a recipe per layer type: {LAYER_TYPE: \"role=SPEC,…\", residual: SPEC}") }
        let rm = try mapping(rn, context: "recipe", allowed: ["residual"] + LayerKind.names)
        for (k, v) in rm { h.recipe[k] = try string(v, key: "recipe.\(k)") }
        guard let tn = m["tokens"] else { throw error(n, "tokens", "the length T at which the budget holds (e.g. 2048)") }
        let tokens = try int(tn, key: "tokens", range: 16...(1 << 20))
        guard let ln = m["max_hidden_rel_err"] else { throw error(n, "max_hidden_rel_err", "a limit: the largest final hidden-state error allowed at length \(tokens)") }
        let maxHidden = try limit(ln, key: "max_hidden_rel_err")
        if let kn = m["max_logits_kl"] { h.maxLogitsKL = try limit(kn, key: "max_logits_kl") }
        let spec: HybridSpec
        do { spec = try h.spec(tokens: tokens, place: "\(file):\(line(n))") } catch let e as InputError {
            throw StudyInputError(e.message.hasPrefix(file) ? e.message : "\(file):\(line(n)): \(e.message)")
        }
        var v = StudyConfig.VariantSpec(name: "hybrid")
        v.line = line(n)
        v.presetName = spec.name
        var b = Budget(name: name, line: line(n), variant: v, recipe: StudyConfig.RecipeSpec(name: h.recipe.sorted { $0.key < $1.key }.map { "\($0.key): \($0.value)" }.joined(separator: "; "), store: nil, roles: nil),
                       inputs: nil, workload: StudyConfig.WorkloadSpec(name: "hybrid"), seeds: [h.seed], tokens: tokens, maxOutputRelErr: maxHidden, maxStateRelErr: nil, maxSlope: nil)
        b.hybrid = h
        return b
    }
}
