import AttentionVariants
import Foundation
import HybridStacks
import NumberFormats
import Yams

/// A budgets file (the CI gate, `attnprec validate`): per record key, the largest error at
/// length T allowed (DESIGN.md §9).
///
/// ```yaml
/// inputs: bfloat16                  # optional, for every budget: q, k, v as handed to the kernel
/// reference: {certify_tokens: 256}  # optional: as in study configs
/// sampling: {per_octave: 16}        # optional: as in study configs
/// budgets:
///   - name: qwen3-next-gdn-bf16-state
///     variant: gated_deltanet
///     preset: qwen3-next            # optional; shapes and gate schedule
///     recipe: {state: bfloat16}     # role → spec, or a spec (the state/KV cache), or "role=SPEC,…"
///     workload: {inputs: gaussian, seed: 0}
///     tokens: 32768
///     max_output_rel_err: 2.0e-2
///     max_state_rel_err: 5.0e-2     # optional
///     max_slope: 0.6                # optional, log–log growth over [T/64, T]
///     seeds: [0, 1, 2]              # optional (instead of workload.seed): the worst seed counts
/// ```
///
/// Each budget becomes a one-variant, one-recipe study (`StudyPlan`), so its records carry the
/// same keys as `results.jsonl`, and is measured by `GroupRunner`.
public struct BudgetsFile: Sendable {
    public var file: String
    public var budgets: [Budget]
    public var reference: StudyConfig.ReferenceSettings
    public var sampling: StudyConfig.Sampling
    /// Kernel encodings checked bit for bit against a spec (`conformance:`; ConformanceSection).
    public var conformance: [ConformanceEntry] = []

    /// The study each budget translates to (one per budget, in file order; hybrid stacks are not studies).
    public var studies: [StudyConfig] { budgets.filter { $0.hybrid == nil }.map { $0.study(file: file, reference: reference, sampling: sampling) } }
}

public struct Budget: Sendable, Equatable {
    public var name: String
    public var line: Int
    public var variant: StudyConfig.VariantSpec
    public var recipe: StudyConfig.RecipeSpec
    public var inputs: String?
    public var workload: StudyConfig.WorkloadSpec
    public var seeds: [UInt64]
    public var tokens: Int
    public var maxOutputRelErr: Double
    public var maxStateRelErr: Double?
    public var maxSlope: Double?
    /// The record key of each seed (filled when the file is loaded).
    public var keys: [String] = []
    /// A budget on a whole stack (`variant: hybrid`; DriftStudy/Hybrid/HybridBudget.swift).
    public var hybrid: HybridBudget?

    func study(file: String, reference: StudyConfig.ReferenceSettings, sampling: StudyConfig.Sampling) -> StudyConfig {
        StudyConfig(
            name: name, title: nil, tokens: [tokens], seeds: seeds, inputs: inputs, reference: reference, sampling: sampling,
            variants: [variant], recipes: [recipe], workloads: [workload], exclude: [], file: file)
    }
}

// MARK: - Loading

extension BudgetsFile {
    public static let topKeys = ["budgets", "inputs", "reference", "sampling", "conformance"]
    public static let budgetKeys = [
        "name", "variant", "preset", "form", "key_dim", "value_dim", "head_dim", "decay", "recipe", "inputs", "workload",
        "tokens", "seeds", "max_output_rel_err", "max_state_rel_err", "max_slope",
    ]

    /// Reads and checks a budgets file: every error is one line naming the file, line and
    /// budget; nothing is computed.
    public static func load(path: String) throws -> BudgetsFile {
        let text = try ConfigText.read(path, what: "budgets file")
        return try parse(text, file: path)
    }

    public static func parse(_ text: String, file: String) throws -> BudgetsFile {
        let root: Node?
        do {
            root = try YAMLLimits.compose(text, file: file)
        } catch let e as InputError {
            throw e
        } catch {
            throw StudyInputError(yamlErrorLine(error, text: text, file: file))
        }
        guard let root else { throw StudyInputError("\(file):1: empty budgets file; expected a mapping with a 'budgets' list") }
        let r = YAMLReader(file: file)
        let top = try r.mapping(root, context: "the budgets file", allowed: topKeys)
        var out = BudgetsFile(file: file, budgets: [], reference: StudyConfig.ReferenceSettings(), sampling: StudyConfig.Sampling())
        var inputs: String? = nil
        if let n = top["inputs"] {
            inputs = try r.string(n, key: "inputs")
            try r.checkSpec(inputs!, node: n, key: "inputs")
        }
        if let n = top["reference"] { out.reference = try r.referenceSettings(n) }
        if let n = top["sampling"] { out.sampling = try r.sampling(n) }
        if let n = top["conformance"] { out.conformance = try r.conformanceSection(n) }
        if top["budgets"] == nil && !out.conformance.isEmpty { return out }
        guard let bn = top["budgets"] else { throw r.error(root, "budgets", "a list of budgets (each with name, variant, recipe, tokens, max_output_rel_err)") }
        let items = try r.list(bn, key: "budgets")
        if items.isEmpty { throw r.error(bn, "budgets", "at least one budget") }
        var seen: [String: Int] = [:]
        for (i, item) in items.enumerated() {
            var b = try r.budget(item, index: i + 1, inputs: inputs)
            if let first = seen[b.name] {
                throw StudyInputError("\(file):\(b.line): budget '\(b.name)': name repeats line \(first); expected unique budget names")
            }
            seen[b.name] = b.line
            if b.hybrid != nil {
                out.budgets.append(b)
                continue
            }
            // The study this budget is: the plan checks recipes against the variant and builds
            // each run once, so the catalog's refusals are input errors now.
            let groups = try r.tagged("budget '\(b.name)'") {
                try StudyPlan.expand([b.study(file: file, reference: out.reference, sampling: out.sampling)])
            }
            b.keys = b.seeds.map { seed in groups.first { $0.seed == seed }!.records[0].key }
            out.budgets.append(b)
        }
        return out
    }

    /// One line for a YAML syntax error: file:line, the budget whose entry holds the line (the
    /// last `name:` above it) when there is one, and the parser's reason.
    static func yamlErrorLine(_ error: Error, text: String, file: String) -> String {
        let full = "\(error)"
        var line: Int? = nil
        var reason = full.split(separator: "\n").first.map(String.init) ?? full
        if let e = error as? YamlError {
            switch e {
            case .scanner(let context, let problem, let mark, _), .parser(let context, let problem, let mark, _),
                 .composer(let context, let problem, let mark, _):
                line = mark.line
                reason = [context?.text, problem].compactMap { $0 }.joined(separator: ": ")
            case .reader(let problem, _, _, _):
                reason = problem
            default: break
            }
        }
        var budget = ""
        if let line {
            let lines = text.split(separator: "\n", omittingEmptySubsequences: false).prefix(line)
            for l in lines.reversed() {
                let t = l.trimmingCharacters(in: .whitespaces)
                let body = t.hasPrefix("- ") ? String(t.dropFirst(2)).trimmingCharacters(in: .whitespaces) : t
                if body.hasPrefix("name:") {
                    let v = body.dropFirst(5).trimmingCharacters(in: .whitespaces)
                    if !v.isEmpty { budget = " budget '\(v.trimmingCharacters(in: CharacterSet(charactersIn: "\"'")))':" }
                    break
                }
            }
        }
        return "\(file):\(line.map(String.init) ?? "1"):\(budget) invalid YAML: \(reason)"
    }
}

extension YAMLReader {
    /// Rewrites an input error raised inside `body` so that it names `label` after file:line.
    func tagged<T>(_ label: String, _ body: () throws -> T) throws -> T {
        do { return try body() } catch let e as StudyInputError {
            let d = e.description
            if d.hasPrefix(file + ":") {
                let rest = d.dropFirst(file.count + 1)
                if let colon = rest.firstIndex(of: ":"), !rest[..<colon].isEmpty, rest[..<colon].allSatisfy(\.isNumber) {
                    throw StudyInputError("\(file):\(rest[..<colon]): \(label):\(rest[rest.index(after: colon)...])")
                }
                throw StudyInputError("\(file): \(label):\(rest)")
            }
            throw StudyInputError("\(file): \(label): \(d)")
        } catch {
            throw StudyInputError("\(file): \(label): \(error)")
        }
    }

    func referenceSettings(_ n: Node) throws -> StudyConfig.ReferenceSettings {
        var s = StudyConfig.ReferenceSettings()
        let m = try mapping(n, context: "reference", allowed: ["tier", "certify_tokens", "bits", "double_precision_tokens"])
        if let v = m["tier"] {
            let t = try string(v, key: "reference.tier")
            guard ["float64", "double-double"].contains(t) else { throw error(v, "reference.tier", "float64 or double-double, got '\(t)'") }
            s.tier = t
        }
        if let v = m["certify_tokens"] { s.certifyTokens = try int(v, key: "reference.certify_tokens", range: 0...65536) }
        if let v = m["bits"] { s.bits = try int(v, key: "reference.bits", range: 64...1024) }
        if let v = m["double_precision_tokens"] { s.doublePrecisionTokens = try int(v, key: "reference.double_precision_tokens", range: 0...65536) }
        return s
    }

    func sampling(_ n: Node) throws -> StudyConfig.Sampling {
        var s = StudyConfig.Sampling()
        let m = try mapping(n, context: "sampling", allowed: ["per_octave"])
        if let v = m["per_octave"] { s.perOctave = try int(v, key: "sampling.per_octave", range: 1...256) }
        return s
    }

    /// A positive finite limit.
    func limit(_ n: Node, key: String) throws -> Double {
        let v = try double(n, key: key)
        guard v > 0 else { throw error(n, key, "a positive number, got \(v)") }
        return v
    }

    func budget(_ n: Node, index: Int, inputs: String?) throws -> Budget {
        guard case .mapping = n else { throw error(n, "budgets", "a mapping (name, variant, recipe, tokens, max_output_rel_err …), got \(describe(n))") }
        // The name first, so that every later error can say which budget it is about.
        var name = "#\(index)"
        if case .mapping(let raw) = n {
            for (k, v) in raw where k.string == "name" { name = try string(v, key: "budgets[\(index)].name") }
        }
        let label = name == "#\(index)" ? "budget #\(index)" : "budget '\(name)'"
        return try tagged(label) {
            if case .mapping(let raw) = n, raw.contains(where: { $0.key.string == "variant" && $0.value.scalar?.string == "hybrid" }) {
                return try hybridBudget(n, name: name)
            }
            let m = try mapping(n, context: "budget", allowed: BudgetsFile.budgetKeys)
            guard m["name"] != nil else { throw error(n, "name", "a name for the budget (it names the JUnit test case)") }
            guard let vn = m["variant"] else { throw error(n, "variant", "a variant of `attnprec variants list`") }
            var v = StudyConfig.VariantSpec(name: try string(vn, key: "variant"))
            v.line = line(n)
            if let p = m["preset"] { v.presetName = try string(p, key: "preset") }
            if let f = m["form"] {
                v.form = try string(f, key: "form")
                guard ["recurrent", "chunked"].contains(v.form) else { throw error(f, "form", "recurrent or chunked, got '\(v.form)'") }
            }
            if let x = m["key_dim"] { v.keyDim = try int(x, key: "key_dim", range: 1...1024) }
            if let x = m["value_dim"] { v.valueDim = try int(x, key: "value_dim", range: 1...1024) }
            if let x = m["head_dim"] { v.headDim = try int(x, key: "head_dim", range: 1...1024) }
            if let x = m["decay"] {
                let a = try double(x, key: "decay")
                guard a > 0 && a <= 1 else { throw error(x, "decay", "a decay in (0, 1], got \(a)") }
                v.decay = a
            }
            do { try VariantFactory.check(v) } catch { throw StudyInputError("\(file):\(line(vn)): variant: \(error)") }

            guard let rn = m["recipe"] else { throw error(n, "recipe", "a recipe: {role: SPEC, …}, a format spec, or \"role=SPEC,…\"") }
            let recipe = try budgetRecipe(rn)

            var budgetInputs = inputs
            if let x = m["inputs"] {
                budgetInputs = try string(x, key: "inputs")
                try checkSpec(budgetInputs!, node: x, key: "inputs")
            }

            var workload = StudyConfig.WorkloadSpec(name: "gaussian")
            var workloadSeed: UInt64? = nil
            if let wn = m["workload"] { (workload, workloadSeed) = try budgetWorkload(wn) }

            guard let tn = m["tokens"] else { throw error(n, "tokens", "the length T at which the budget holds (e.g. 32768)") }
            let tokens = try int(tn, key: "tokens", range: 1...(1 << 24))

            var seeds = [workloadSeed ?? 0]
            if let sn = m["seeds"] {
                if workloadSeed != nil { throw error(sn, "seeds", "either seeds or workload.seed, not both") }
                seeds = try list(sn, key: "seeds").map { UInt64(try int($0, key: "seeds", range: 0...Int.max)) }
                if seeds.isEmpty { throw error(sn, "seeds", "a non-empty list of seeds") }
                if Set(seeds).count != seeds.count { throw error(sn, "seeds", "distinct seeds") }
            }

            guard let on = m["max_output_rel_err"] else {
                throw error(n, "max_output_rel_err", "a limit: the largest output_rel_err allowed at length \(tokens) (e.g. 2.0e-2)")
            }
            let maxOut = try limit(on, key: "max_output_rel_err")
            var maxState: Double? = nil
            if let sn = m["max_state_rel_err"] {
                maxState = try limit(sn, key: "max_state_rel_err")
                let family = (try? VariantFactory.isCacheFamily(v.name)) ?? false
                if family { throw error(sn, "max_state_rel_err", "no state limit: '\(v.name)' keeps a KV cache, not a recurrent state") }
            }
            var maxSlope: Double? = nil
            if let sn = m["max_slope"] {
                maxSlope = try double(sn, key: "max_slope")
                if tokens < 256 { throw error(sn, "max_slope", "no slope limit below 256 tokens (the fit over [T/64, T] needs them); tokens is \(tokens)") }
            }
            return Budget(
                name: name, line: line(n), variant: v, recipe: recipe, inputs: budgetInputs, workload: workload, seeds: seeds,
                tokens: tokens, maxOutputRelErr: maxOut, maxStateRelErr: maxState, maxSlope: maxSlope)
        }
    }

    /// `{state: bfloat16, q: bfloat16}`, a spec (`bfloat16`: the variant's state, KV cache or
    /// latent), `"state=bfloat16,q=bfloat16"`, or a study recipe `{store: …}` / `{roles: …}`.
    func budgetRecipe(_ n: Node) throws -> StudyConfig.RecipeSpec {
        var r: StudyConfig.RecipeSpec
        switch n {
        case .scalar(let s):
            let text = s.string
            guard !text.isEmpty else { throw error(n, "recipe", "a format spec or role=SPEC,…") }
            if text.contains("=") {
                do { _ = try RecipeResolver.parseRoles(text) } catch { throw StudyInputError("\(file):\(line(n)): recipe: \(error)") }
                r = StudyConfig.RecipeSpec(name: text, store: nil, roles: text)
            } else {
                try checkSpec(text, node: n, key: "recipe")
                r = StudyConfig.RecipeSpec(name: text, store: text, roles: nil)
            }
        case .mapping(let raw):
            let keys = raw.keys.map(\.string)
            if keys.contains("store") || keys.contains("roles") {
                r = try recipe(n)
            } else {
                let m = try mapping(n, context: "recipe", allowed: ["kernel"] + Role.allCases.map(\.rawValue))
                if m.isEmpty { throw error(n, "recipe", "at least one role: SPEC") }
                var parts: [String] = []
                if let kn = m["kernel"] {
                    let name = try string(kn, key: "recipe.kernel")
                    do { _ = try KernelProfile.named(name) } catch { throw StudyInputError("\(file):\(line(kn)): recipe.kernel: \(error)") }
                    parts.append("kernel=\(name)")
                }
                for role in Role.allCases {
                    guard let sn = m[role.rawValue] else { continue }
                    let spec = try string(sn, key: "recipe.\(role.rawValue)")
                    try checkSpec(spec, node: sn, key: "recipe.\(role.rawValue)")
                    parts.append("\(role.rawValue)=\(spec)")
                }
                let text = parts.joined(separator: ",")
                r = StudyConfig.RecipeSpec(name: text, store: nil, roles: text)
            }
        default:
            throw error(n, "recipe", "a mapping role: SPEC, a format spec or \"role=SPEC,…\", got \(describe(n))")
        }
        r.line = line(n)
        return r
    }

    /// `gaussian`, or `{inputs: sparse_outliers, probability: 0.001, scale: 10, seed: 0}`
    /// (`input` is accepted for `inputs`, as in study configs).
    func budgetWorkload(_ n: Node) throws -> (StudyConfig.WorkloadSpec, UInt64?) {
        var w: StudyConfig.WorkloadSpec
        var seed: UInt64? = nil
        let kinds = StudyConfig.inputKinds.keys.sorted().joined(separator: ", ")
        switch n {
        case .scalar(let s):
            guard StudyConfig.inputKinds[s.string] != nil else { throw error(n, "workload", "one of \(kinds), got '\(s.string)'") }
            w = StudyConfig.WorkloadSpec(name: s.string, input: s.string)
        case .mapping(let raw):
            var input = "gaussian"
            for (k, v) in raw where k.string == "inputs" || k.string == "input" { input = try string(v, key: "workload.\(k.string)") }
            guard let params = StudyConfig.inputKinds[input] else { throw error(n, "workload.inputs", "one of \(kinds), got '\(input)'") }
            let m = try mapping(n, context: "workload (inputs \(input))", allowed: ["name", "inputs", "input", "seed"] + params)
            if m["inputs"] != nil && m["input"] != nil { throw error(n, "workload", "either 'inputs' or 'input', not both") }
            w = StudyConfig.WorkloadSpec(name: try m["name"].map { try string($0, key: "workload.name") } ?? input, input: input)
            for p in params { if let v = m[p] { w.parameters[p] = try double(v, key: "workload.\(p)") } }
            if let s = m["seed"] { seed = UInt64(try int(s, key: "workload.seed", range: 0...Int.max)) }
        default:
            throw error(n, "workload", "an input name or a mapping, got \(describe(n))")
        }
        w.line = line(n)
        do { _ = try VariantFactory.distribution(w) } catch { throw StudyInputError("\(file):\(line(n)): workload: \(error)") }
        return (w, seed)
    }
}
