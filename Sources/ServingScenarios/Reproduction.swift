import AttentionVariants
import DriftStudy
import ExactArithmetic
import Foundation
import NumberFormats
import Yams

/// A published table reproduced (`scenario: reproduce`): one softmax variant on a workload
/// (FlashAttention-3's Table 3: entries N(0,1) + N(0,100)·Bernoulli(0.001)), each recipe one cell
/// of the table, the paper's number beside ours. Per (recipe, length, seed) the emulated run
/// (Float32 compute, the recipe's stores) and the Float64 run (inputs rounded to `inputs` in
/// both) are compared at every position from T − `window` on — queries that see (almost) all
/// T keys, as rows of a non-causal attention do: the RMSE of the output elements
/// √(mean (o − ô)²), the paper's metric, and the relative error ‖o − ô‖/‖o‖.
///
/// A static per-tensor scale computed from the data, as the paper's baselines use, is written
/// `SPEC/per-tensor/amax` in a recipe's roles: the scenario reads the largest |x| of that input
/// over the T positions (after the rotation, when the recipe rotates), and stores with
/// `SPEC/per-tensor/fixed:S`, S = amax / max_finite in binary32 (torch's `x.abs().max() / 448`).
public enum Reproduction {
    /// The placeholder of a data-computed per-tensor scale.
    static let amaxRule = "/per-tensor/amax"

    /// A roles text with every amax placeholder replaced by a scale of 1 (a valid spec).
    static func probeText(_ text: String) -> String { text.replacingOccurrences(of: amaxRule, with: "/per-tensor/fixed:1") }

    /// One record: the mean RMSE and relative error over the window, the paper's value.
    static func run(variant v: StudyConfig.VariantSpec, spec: StudyConfig.RecipeSpec, seed: UInt64, tokens T: Int, config c: ScenarioConfig) throws -> ScenarioRecord {
        let roles = try VariantFactory.roles(v), workload = c.reproduceWorkload!
        let schedule = EvaluationSchedule(dense: 0, perOctave: 0, stride: 0, last: T - 1, from: T - c.window)
        func make(_ tier: BackendTier, _ recipe: Recipe) throws -> SteppedRun {
            try VariantFactory.makeRun(v, workload: workload, seed: seed, tokens: T, schedule: schedule, tier: tier, recipe: recipe)
        }
        let recipe = try resolve(spec, variant: v, roles: roles, inputs: c.inputs) { role, recipe in
            guard let probe = try make(.float64, recipe) as? InputAmax else { throw StudyInputError("variant '\(v.name)': no per-tensor amax for its inputs") }
            return probe.inputAmax(role, tokens: T)
        }
        // The cell's row in the config's order (the report keeps it).
        let row = c.recipes.firstIndex { $0.name == spec.name } ?? 0
        var record = ScenarioRecord(scenario: "reproduce", memory: ScenarioRuns.instanceLabel(v), recipeName: spec.name,
                                    recipe: RecipeResolver.canonical(recipe), parameters: ["row": row], labels: [:], seed: seed, tokens: T)
        let exact = try make(.float64, try RecipeResolver.inputRecipe(c.inputs, roles: roles))
        let emulated = try make(.float32, recipe)
        let n = exact.outputCount
        var ref = [Double](repeating: 0, count: n), got = ref
        var squares = 0.0, count = 0, relative = 0.0, windows = 0, nonFinite = 0
        for t in 0..<T {
            exact.step()
            emulated.step()
            guard t >= T - c.window else { continue }
            ref.withUnsafeMutableBufferPointer { exact.readOutput(into: $0) }
            got.withUnsafeMutableBufferPointer { emulated.readOutput(into: $0) }
            var e: Double = 0, r: Double = 0
            for i in 0..<n {
                if !got[i].isFinite { nonFinite += 1 }
                let diff: Double = got[i] - ref[i]
                e += diff * diff
                r += ref[i] * ref[i]
            }
            squares += e
            count += n
            relative += r > 0 ? (e / r).squareRoot() : e.squareRoot()
            windows += 1
        }
        record.summary["rmse"] = nonFinite > 0 ? .nan : (squares / Double(count)).squareRoot()
        record.summary["output_rel_err"] = nonFinite > 0 ? .nan : relative / Double(windows)
        record.summary["non_finite"] = Double(nonFinite)
        if let p = c.paper[spec.name] { record.summary["paper_rmse"] = p }
        return record
    }

    /// The emulated recipe of `spec`: every `SPEC/per-tensor/amax` replaced by the static scale
    /// amax / max_finite of its input (q; k for k or k_cache; v for v or v_cache), the amax
    /// read by `amax(role, recipe)` from a run of the recipe with placeholder scales of 1.
    static func resolve(_ spec: StudyConfig.RecipeSpec, variant v: StudyConfig.VariantSpec, roles: [Role], inputs: String?,
                        amax: (Role, Recipe) throws -> Double) throws -> Recipe {
        guard let text = spec.roles, text.contains(amaxRule) else {
            return try RecipeResolver.resolve(spec, inputs: inputs, roles: roles, variant: v.name, form: v.form)
        }
        var probe = spec
        probe.roles = probeText(text)
        let probeRecipe = try RecipeResolver.resolve(probe, inputs: inputs, roles: roles, variant: v.name, form: v.form)
        var parts: [String] = []
        for part in text.split(separator: ",").map({ $0.trimmingCharacters(in: .whitespaces) }) {
            guard part.hasSuffix(amaxRule), let eq = part.firstIndex(of: "=") else { parts.append(part); continue }
            let roleName = String(part[..<eq]), format = String(part[part.index(after: eq)...].dropLast(amaxRule.count))
            let input: Role
            switch roleName {
            case "q": input = .q
            case "k", "k_cache": input = .k
            case "v", "v_cache": input = .v
            default: throw StudyInputError("recipe '\(spec.name)': '\(part)': a per-tensor amax scale is for q, k, k_cache, v or v_cache")
            }
            guard case .float(let f) = try FormatSpec.parse(format).element else {
                throw StudyInputError("recipe '\(spec.name)': '\(part)': a per-tensor amax scale needs a floating-point element format")
            }
            let a = try amax(input, probeRecipe)
            let scale = a > 0 ? Float(a) / Float(f.maxFinite) : 1
            parts.append("\(roleName)=\(format)/per-tensor/fixed:\(scale)")
        }
        var resolved = spec
        resolved.roles = parts.joined(separator: ",")
        return try RecipeResolver.resolve(resolved, inputs: inputs, roles: roles, variant: v.name, form: v.form)
    }

    static func plan(_ c: ScenarioConfig) throws -> [(String, @Sendable () throws -> ScenarioRecord)] {
        var out: [(String, @Sendable () throws -> ScenarioRecord)] = []
        for v in c.variants {
            for spec in c.recipes {
                for T in c.tokens {
                    for seed in c.seeds {
                        out.append(("\(v.name)|\(spec.name)|\(T)|\(seed)", { try run(variant: v, spec: spec, seed: seed, tokens: T, config: c) }))
                    }
                }
            }
        }
        return out
    }
}

extension ScenarioConfig {
    /// `reproduce`: one softmax variant in its decode form, the workload (`input:` as a study's
    /// workload entry), the input dtype both runs see (`inputs:`), the tail `window`, and the
    /// paper's value per recipe (`paper: {recipe: value}`).
    static func parseReproduce(_ c: inout ScenarioConfig, _ top: [String: Node], root: Node, _ r: YAMLReader) throws {
        guard let vn = top["variants"] else { throw r.error(root, "variants", "one softmax variant (e.g. [{name: mha, head_dim: 128}])") }
        let items = try r.list(vn, key: "variants")
        guard items.count == 1 else { throw r.error(vn, "variants", "exactly one softmax variant, got \(items.count)") }
        let v = try r.variant(items[0])
        guard KVRuns.isSoftmax(v), v.form == "recurrent", v.tokens == nil else {
            throw r.error(items[0], "variants", "a softmax variant with a KV cache in its decode form (mha, gqa, mqa, swa), no per-variant lengths; got '\(v.name)'")
        }
        c.variants = [v]
        guard let wn = top["input"] else { throw r.error(root, "input", "the workload (e.g. {name: fa3, input: sparse_outliers, probability: 0.001, scale: 10})") }
        c.reproduceWorkload = try r.workload(wn)
        if let n = top["inputs"] {
            let s = try r.string(n, key: "inputs")
            try r.checkSpec(s, node: n, key: "inputs")
            c.inputs = s
        }
        if let n = top["window"] { c.window = try r.int(n, key: "window", range: 1...4096) }
        guard c.tokens.first! > c.window else { throw r.error(top["tokens"]!, "tokens", "lengths above the window (\(c.window)), got \(c.tokens.first!)") }
        if let n = top["paper"] {
            guard case .mapping(let m) = n else { throw r.error(n, "paper", "a mapping recipe name → the paper's value") }
            for (k, value) in m {
                let name = k.string ?? ""
                guard c.recipes.contains(where: { $0.name == name }) else { throw r.error(k, "paper", "a recipe name of 'recipes', got '\(name)'") }
                c.paper[name] = try r.double(value, key: "paper.\(name)")
            }
        }
        let roles = try VariantFactory.roles(v)
        for spec in c.recipes {
            do {
                let recipe = try Reproduction.resolve(spec, variant: v, roles: roles, inputs: c.inputs) { _, _ in 1 }
                _ = try VariantFactory.makeRun(v, workload: c.reproduceWorkload!, seed: 0, tokens: 1, schedule: .every, tier: .float32, recipe: recipe)
            } catch {
                throw StudyInputError("\(r.file):\(spec.line): recipes: '\(spec.name)' for variant '\(v.name)': \(error)")
            }
        }
    }
}
