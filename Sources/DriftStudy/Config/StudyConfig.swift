import AttentionVariants
import Foundation
import NumberFormats
import Yams

/// Bad input in a study config or on the command line: one line naming the file, line, key
/// and what was expected (exit code 2, nothing written).
public typealias StudyInputError = InputError

/// A study config (`experiments/*.yaml`): a cartesian product of variants × recipes ×
/// workloads × seeds × tokens, minus `exclude`.
///
/// ```yaml
/// name: small
/// tokens: [1024, 8192]
/// seeds: [0]
/// inputs: bfloat16                # q, k, v as handed to the kernel (also the reference's)
/// reference: {tier: float64, certify_tokens: 256, bits: 128}
/// sampling: {per_octave: 16}
/// variants:
///   - linear
///   - {name: linear, decay: 0.999}
///   - {name: gated_deltanet, key_dim: 128, value_dim: 128, tokens: [65536]}
///   - {name: gated_deltanet, preset: qwen3-next}
/// recipes:
///   - bfloat16                    # the variant's state (or KV cache) stored as this spec
///   - {name: e4m3-token, store: float8_e4m3fn/per-token}
///   - {name: custom, roles: "state=bfloat16,output=bfloat16"}
/// workloads:
///   - gaussian
///   - {name: outliers, input: sparse_outliers, probability: 0.001, scale: 10}
/// exclude:
///   - {variant: mha, recipe: e4m3-token}
/// ```
public struct StudyConfig: Codable, Sendable, Equatable {
    public var name: String
    public var title: String?
    public var tokens: [Int]
    public var seeds: [UInt64]
    public var inputs: String?
    public var reference: ReferenceSettings
    public var sampling: Sampling
    public var variants: [VariantSpec]
    public var recipes: [RecipeSpec]
    public var workloads: [WorkloadSpec]
    public var exclude: [ExcludeRule]
    /// The file it was read from (for messages and provenance).
    public var file: String

    public struct ReferenceSettings: Codable, Sendable, Equatable {
        /// The fast reference tier that runs over the whole length: float64 or double-double.
        public var tier: String = "float64"
        /// Tokens of the MPFR certification prefix (0: no certification).
        public var certifyTokens: Int = 256
        /// MPFR precision P (P and 2P are compared).
        public var bits: Int = 128
        /// Tokens of the P vs 2P comparison.
        public var doublePrecisionTokens: Int = 64
        public init() {}
    }

    public struct Sampling: Codable, Sendable, Equatable {
        /// Log-spaced positions per doubling recorded (every position below 64 is recorded).
        public var perOctave: Int = 16
        public init() {}
    }

    /// One variant instance: a catalog name plus shape overrides and (for variants with
    /// settable gates) a constant decay.
    public struct VariantSpec: Codable, Sendable, Equatable {
        public var name: String
        public var form: String = "recurrent"
        public var keyDim: Int?
        public var valueDim: Int?
        public var headDim: Int?
        /// A named model preset (the definition's `presets`): its shapes and gate schedule on one head (one KV
        /// head with its query heads for grouped attention).
        public var presetName: String?
        /// Which head's gates (delta-rule presets, Lightning, Mamba2), Lightning's layer.
        public var head: Int?
        public var layer: Int?
        /// nil: the variant's own gates; a value: constant decay a (linear only).
        public var decay: Double?
        /// Lengths for this variant instead of the config's `tokens`.
        public var tokens: [Int]?
        public var line: Int = 0

        public init(name: String) { self.name = name }

        /// Canonical text of the model preset and the overrides ("default" when there are none).
        public var preset: String {
            var parts: [String] = presetName.map { [$0] } ?? []
            if form != "recurrent" { parts.append("form=\(form)") }
            if let head { parts.append("head=\(head)") }
            if let layer { parts.append("layer=\(layer)") }
            if let keyDim { parts.append("key_dim=\(keyDim)") }
            if let valueDim { parts.append("value_dim=\(valueDim)") }
            if let headDim { parts.append("head_dim=\(headDim)") }
            return parts.isEmpty ? "default" : parts.joined(separator: ",")
        }

        /// The gate schedule text recorded in the workload.
        public var gates: String { decay.map { "constant(\(StudyJSON.number($0)))" } ?? "default" }
    }

    /// A named recipe: `store` applies one spec to the variant's state (or KV cache / latent
    /// cache); `roles` names roles explicitly (`role=SPEC,…`).
    public struct RecipeSpec: Codable, Sendable, Equatable {
        public var name: String
        public var store: String?
        public var roles: String?
        /// A kernel profile (`attnprec profiles list`) the recipe follows; `store`/`roles`
        /// entries beside it override its roles.
        public var kernel: String?
        /// When set, the recipe applies to these variants only (e.g. a FlashMLA layout).
        public var variants: [String]?
        public var line: Int = 0
    }

    /// An input distribution with its parameters.
    public struct WorkloadSpec: Codable, Sendable, Equatable {
        public var name: String
        /// gaussian | student_t | sparse_outliers | channel_outliers
        public var input: String = "gaussian"
        public var parameters: [String: Double] = [:]
        public var line: Int = 0
    }

    /// Drops the combinations whose named fields all match.
    public struct ExcludeRule: Codable, Sendable, Equatable {
        public var variant: String?
        public var recipe: String?
        public var workload: String?
        public var tokens: Int?
        public var seed: UInt64?
        public var decay: Double?
        /// `recurrent` or `chunked`: the variant entry's form.
        public var form: String?
    }

    public static let inputKinds: [String: [String]] = [
        "gaussian": ["mean", "std"],
        "student_t": ["dof"],
        "sparse_outliers": ["probability", "scale"],
        "channel_outliers": ["count", "min_factor", "max_factor"],
    ]
}

// MARK: - Loading

extension StudyConfig {
    /// Reads and validates a config file (errors name file:line).
    public static func load(path: String) throws -> StudyConfig {
        let text = try ConfigText.read(path, what: "config file")
        let base = URL(fileURLWithPath: path).deletingPathExtension().lastPathComponent
        return try parse(text, file: path, defaultName: base)
    }

    public static func parse(_ text: String, file: String, defaultName: String) throws -> StudyConfig {
        let root: Node?
        do {
            root = try YAMLLimits.compose(text, file: file)
        } catch let e as InputError {
            throw e
        } catch {
            let message = "\(error)".split(separator: "\n").first.map(String.init) ?? "\(error)"
            throw StudyInputError("\(file): invalid YAML: \(message)")
        }
        guard let root else { throw StudyInputError("\(file):1: empty config; expected a mapping with at least 'variants' and 'recipes'") }
        let r = YAMLReader(file: file)
        let top = try r.mapping(root, context: "the config", allowed: [
            "name", "title", "tokens", "seeds", "inputs", "reference", "sampling", "variants", "recipes", "workloads", "exclude",
        ])
        var c = StudyConfig(
            name: defaultName, title: nil, tokens: [1024], seeds: [0], inputs: nil, reference: ReferenceSettings(),
            sampling: Sampling(), variants: [], recipes: [], workloads: [], exclude: [], file: file)
        if let n = top["name"] { c.name = try r.string(n, key: "name") }
        if let n = top["title"] { c.title = try r.string(n, key: "title") }
        if let n = top["tokens"] {
            c.tokens = try r.list(n, key: "tokens").map { try r.int(($0), key: "tokens", range: 1...(1 << 24)) }
            if c.tokens.isEmpty { throw r.error(n, "tokens", "a non-empty list of lengths") }
        }
        if let n = top["seeds"] {
            c.seeds = try r.list(n, key: "seeds").map { UInt64(try r.int($0, key: "seeds", range: 0...Int.max)) }
            if c.seeds.isEmpty { throw r.error(n, "seeds", "a non-empty list of seeds") }
        }
        if let n = top["inputs"] {
            let s = try r.string(n, key: "inputs")
            try r.checkSpec(s, node: n, key: "inputs")
            c.inputs = s
        }
        if let n = top["reference"] {
            let m = try r.mapping(n, context: "reference", allowed: ["tier", "certify_tokens", "bits", "double_precision_tokens"])
            if let v = m["tier"] {
                let t = try r.string(v, key: "reference.tier")
                guard ["float64", "double-double"].contains(t) else { throw r.error(v, "reference.tier", "float64 or double-double, got '\(t)'") }
                c.reference.tier = t
            }
            if let v = m["certify_tokens"] { c.reference.certifyTokens = try r.int(v, key: "reference.certify_tokens", range: 0...65536) }
            if let v = m["bits"] { c.reference.bits = try r.int(v, key: "reference.bits", range: 64...1024) }
            if let v = m["double_precision_tokens"] { c.reference.doublePrecisionTokens = try r.int(v, key: "reference.double_precision_tokens", range: 0...65536) }
        }
        if let n = top["sampling"] {
            let m = try r.mapping(n, context: "sampling", allowed: ["per_octave"])
            if let v = m["per_octave"] { c.sampling.perOctave = try r.int(v, key: "sampling.per_octave", range: 1...256) }
        }
        guard let vn = top["variants"] else { throw r.error(root, "variants", "a list of variants (e.g. [linear])") }
        for item in try r.list(vn, key: "variants") { c.variants.append(try r.variant(item)) }
        guard let rn = top["recipes"] else { throw r.error(root, "recipes", "a list of recipes (e.g. [bfloat16])") }
        for item in try r.list(rn, key: "recipes") { c.recipes.append(try r.recipe(item)) }
        if let wn = top["workloads"] {
            for item in try r.list(wn, key: "workloads") { c.workloads.append(try r.workload(item)) }
        } else {
            c.workloads = [WorkloadSpec(name: "gaussian")]
        }
        if let en = top["exclude"] {
            for item in try r.list(en, key: "exclude") { c.exclude.append(try r.exclude(item)) }
        }
        if c.variants.isEmpty { throw r.error(vn, "variants", "at least one variant") }
        if c.recipes.isEmpty { throw r.error(rn, "recipes", "at least one recipe") }
        try r.unique(c.recipes.map { ($0.name, $0.line) }, key: "recipes")
        try r.unique(c.workloads.map { ($0.name, $0.line) }, key: "workloads")
        try r.unique(c.variants.map { ("\($0.name) \($0.preset) \($0.gates)", $0.line) }, key: "variants")
        return c
    }
}

extension StudyConfig.WorkloadSpec {
    /// A named workload with its default input and parameters (outside the module, where the
    /// memberwise initializer is not visible).
    public init(name: String) { self.init(name: name, input: "gaussian") }
}

/// Walks a composed YAML tree with line numbers for every error.
public struct YAMLReader {
    public let file: String

    public init(file: String) { self.file = file }

    public func line(_ n: Node) -> Int { n.mark?.line ?? 1 }

    public func error(_ n: Node, _ key: String, _ expected: String) -> StudyInputError {
        StudyInputError("\(file):\(line(n)): \(key): expected \(expected)")
    }

    public func describe(_ n: Node) -> String {
        switch n {
        case .scalar(let s): return "'\(s.string)'"
        case .mapping: return "a mapping"
        case .sequence: return "a list"
        @unknown default: return "an unsupported node"
        }
    }

    public func mapping(_ n: Node, context: String, allowed: [String]) throws -> [String: Node] {
        guard case .mapping(let m) = n else { throw StudyInputError("\(file):\(line(n)): \(context): expected a mapping, got \(describe(n))") }
        var out: [String: Node] = [:]
        for (k, v) in m {
            guard case .scalar(let ks) = k else { throw StudyInputError("\(file):\(line(k)): \(context): keys must be strings") }
            let key = ks.string
            guard allowed.contains(key) else {
                throw StudyInputError("\(file):\(line(k)): \(context): unknown key '\(key)'; expected one of: \(allowed.joined(separator: ", "))")
            }
            guard out[key] == nil else { throw StudyInputError("\(file):\(line(k)): \(context): key '\(key)' given twice") }
            out[key] = v
        }
        return out
    }

    public func list(_ n: Node, key: String) throws -> [Node] {
        if case .sequence(let s) = n { return Array(s) }
        throw error(n, key, "a list, got \(describe(n))")
    }

    public func string(_ n: Node, key: String) throws -> String {
        guard case .scalar(let s) = n, !s.string.isEmpty else { throw error(n, key, "a non-empty string, got \(describe(n))") }
        return s.string
    }

    public func int(_ n: Node, key: String, range: ClosedRange<Int>) throws -> Int {
        guard case .scalar(let s) = n else { throw error(n, key, "an integer, got \(describe(n))") }
        let text = s.string.replacingOccurrences(of: "_", with: "")
        guard let v = Int(text) else { throw error(n, key, "an integer, got '\(s.string)'") }
        guard range.contains(v) else { throw error(n, key, "an integer in \(range.lowerBound)...\(range.upperBound), got \(v)") }
        return v
    }

    public func double(_ n: Node, key: String) throws -> Double {
        guard case .scalar(let s) = n, let v = Double(s.string), v.isFinite else { throw error(n, key, "a finite number, got \(describe(n))") }
        return v
    }

    public func checkSpec(_ s: String, node: Node, key: String) throws {
        do { _ = try RecipeResolver.parseSpec(s) } catch { throw StudyInputError("\(file):\(line(node)): \(key): \(error)") }
    }

    public func unique(_ names: [(String, Int)], key: String) throws {
        var seen: [String: Int] = [:]
        for (n, l) in names {
            if let first = seen[n] { throw StudyInputError("\(file):\(l): \(key): '\(n)' repeats line \(first); expected unique entries") }
            seen[n] = l
        }
    }

    public func variant(_ n: Node) throws -> StudyConfig.VariantSpec {
        var v: StudyConfig.VariantSpec
        if case .scalar(let s) = n {
            v = StudyConfig.VariantSpec(name: s.string)
        } else {
            let m = try mapping(n, context: "variants", allowed: ["name", "preset", "form", "key_dim", "value_dim", "head_dim", "head", "layer", "decay", "tokens"])
            guard let nameNode = m["name"] else { throw error(n, "variants", "a 'name' (a variant of `attnprec variants list`)") }
            v = StudyConfig.VariantSpec(name: try string(nameNode, key: "variants.name"))
            if let f = m["form"] {
                v.form = try string(f, key: "variants.form")
                guard ["recurrent", "chunked"].contains(v.form) else { throw error(f, "variants.form", "recurrent or chunked, got '\(v.form)'") }
            }
            if let x = m["key_dim"] { v.keyDim = try int(x, key: "variants.key_dim", range: 1...1024) }
            if let x = m["value_dim"] { v.valueDim = try int(x, key: "variants.value_dim", range: 1...1024) }
            if let x = m["head_dim"] { v.headDim = try int(x, key: "variants.head_dim", range: 1...1024) }
            if let x = m["preset"] { v.presetName = try string(x, key: "variants.preset") }
            if let x = m["head"] { v.head = try int(x, key: "variants.head", range: 0...4095) }
            if let x = m["layer"] { v.layer = try int(x, key: "variants.layer", range: 0...4095) }
            if let x = m["tokens"] {
                v.tokens = try list(x, key: "variants.tokens").map { try int($0, key: "variants.tokens", range: 1...(1 << 24)) }
                if v.tokens!.isEmpty { throw error(x, "variants.tokens", "a non-empty list of lengths") }
            }
            if let x = m["decay"] {
                let a = try double(x, key: "variants.decay")
                guard a > 0 && a <= 1 else { throw error(x, "variants.decay", "a decay in (0, 1], got \(a)") }
                v.decay = a
            }
        }
        v.line = line(n)
        do { try VariantFactory.check(v) } catch { throw StudyInputError("\(file):\(line(n)): variants: \(error)") }
        return v
    }

    /// A recipe entry; `rolesText` maps a `roles:` text before it is checked (a scenario's
    /// placeholders resolved to a valid spec).
    public func recipe(_ n: Node, rolesText: (String) -> String = { $0 }) throws -> StudyConfig.RecipeSpec {
        var r: StudyConfig.RecipeSpec
        if case .scalar(let s) = n {
            r = StudyConfig.RecipeSpec(name: s.string, store: s.string, roles: nil)
            try checkSpec(s.string, node: n, key: "recipes")
        } else {
            let m = try mapping(n, context: "recipes", allowed: ["name", "store", "roles", "kernel", "variants"])
            guard let nameNode = m["name"] else { throw error(n, "recipes", "a 'name'") }
            r = StudyConfig.RecipeSpec(name: try string(nameNode, key: "recipes.name"), store: nil, roles: nil)
            if let s = m["store"] {
                r.store = try string(s, key: "recipes.store")
                try checkSpec(r.store!, node: s, key: "recipes.store")
            }
            if let s = m["roles"] {
                let text = try string(s, key: "recipes.roles")
                do { _ = try RecipeResolver.parseRoles(rolesText(text)) } catch { throw StudyInputError("\(file):\(line(s)): recipes.roles: \(error)") }
                r.roles = text
            }
            if let s = m["kernel"] {
                let name = try string(s, key: "recipes.kernel")
                do { _ = try KernelProfile.named(name) } catch { throw StudyInputError("\(file):\(line(s)): recipes.kernel: \(error)") }
                r.kernel = name
            }
            if let s = m["variants"] {
                r.variants = try list(s, key: "recipes.variants").map { try string($0, key: "recipes.variants") }
                for name in r.variants! where !VariantCatalog.canonicalNames.contains(name) {
                    throw error(s, "recipes.variants", "variant names (\(VariantCatalog.canonicalNames.joined(separator: ", "))), got '\(name)'")
                }
                if r.variants!.isEmpty { throw error(s, "recipes.variants", "a non-empty list of variant names") }
            }
            if r.store != nil && r.roles != nil || r.store == nil && r.roles == nil && r.kernel == nil {
                throw error(n, "recipes", "exactly one of 'store' (a format spec) or 'roles' (role=SPEC,…), or a 'kernel' profile (with at most one of them)")
            }
        }
        r.line = line(n)
        return r
    }

    public func workload(_ n: Node) throws -> StudyConfig.WorkloadSpec {
        var w: StudyConfig.WorkloadSpec
        if case .scalar(let s) = n {
            w = StudyConfig.WorkloadSpec(name: s.string, input: s.string)
            guard StudyConfig.inputKinds[s.string] != nil else {
                throw error(n, "workloads", "one of \(StudyConfig.inputKinds.keys.sorted().joined(separator: ", ")), got '\(s.string)'")
            }
        } else {
            guard case .mapping(let raw) = n else { throw error(n, "workloads", "a name or a mapping, got \(describe(n))") }
            var input = "gaussian"
            for (k, v) in raw where k.string == "input" { input = try string(v, key: "workloads.input") }
            guard let params = StudyConfig.inputKinds[input] else {
                throw error(n, "workloads.input", "one of \(StudyConfig.inputKinds.keys.sorted().joined(separator: ", ")), got '\(input)'")
            }
            let m = try mapping(n, context: "workloads (input \(input))", allowed: ["name", "input"] + params)
            guard let nameNode = m["name"] else { throw error(n, "workloads", "a 'name'") }
            w = StudyConfig.WorkloadSpec(name: try string(nameNode, key: "workloads.name"), input: input)
            for p in params { if let v = m[p] { w.parameters[p] = try double(v, key: "workloads.\(p)") } }
        }
        w.line = line(n)
        do { _ = try VariantFactory.distribution(w) } catch { throw StudyInputError("\(file):\(line(n)): workloads: \(error)") }
        return w
    }

    public func exclude(_ n: Node) throws -> StudyConfig.ExcludeRule {
        let m = try mapping(n, context: "exclude", allowed: ["variant", "recipe", "workload", "tokens", "seed", "decay", "form"])
        var e = StudyConfig.ExcludeRule()
        if let v = m["variant"] { e.variant = try string(v, key: "exclude.variant") }
        if let v = m["recipe"] { e.recipe = try string(v, key: "exclude.recipe") }
        if let v = m["form"] {
            e.form = try string(v, key: "exclude.form")
            guard ["recurrent", "chunked"].contains(e.form!) else { throw error(v, "exclude.form", "recurrent or chunked, got '\(e.form!)'") }
        }
        if let v = m["workload"] { e.workload = try string(v, key: "exclude.workload") }
        if let v = m["tokens"] { e.tokens = try int(v, key: "exclude.tokens", range: 1...Int.max) }
        if let v = m["seed"] { e.seed = UInt64(try int(v, key: "exclude.seed", range: 0...Int.max)) }
        if let v = m["decay"] { e.decay = try double(v, key: "exclude.decay") }
        if m.isEmpty { throw error(n, "exclude", "at least one of variant, recipe, workload, tokens, seed, decay, form") }
        return e
    }
}

extension Node {
    var string: String { if case .scalar(let s) = self { return s.string } else { return "" } }
}
