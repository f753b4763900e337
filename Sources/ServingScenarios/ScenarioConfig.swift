import AttentionVariants
import DriftStudy
import Foundation
import NumberFormats
import Yams

/// A scenario or task config (`experiments/scenarios/*.yaml`): a YAML file with a top-level
/// `scenario:` key, which `attnprec run` dispatches here instead of to the study.
///
/// Kinds: tasks `mqar`, `needle`, `counter` (a memory written with task inputs, its state in
/// the recipe's format) and serving scenarios `prefix_cache`, `handoff`, `gates`,
/// `speculative`, `delethink` (recurrent variants of the catalog), `reproduce` (a published
/// table's cells, `Reproduction`) and `p_cast` (P-collapse under a sink, `PCast`). Keys beyond the common ones depend on
/// the kind (`kindKeys`); an unknown key is an error. For MQAR:
///
/// ```yaml
/// scenario: mqar
/// name: mqar
/// seeds: [0]
/// tokens: [256, 1024, 4096]       # lengths at which the report tabulates
/// memories: [deltanet, linear]    # mqar: the memories the pairs are written through
/// key_dim: 64                     # mqar: a power of two (orthonormal Hadamard keys)
/// value_dim: 64
/// codebook: 64                    # mqar: values are drawn from this many codewords
/// pairs: [8, 32]                  # mqar: at most key_dim − 1 (one direction for distractors)
/// recipes:
///   - {name: bf16, store: bfloat16}          # the memory's state stored as this spec
///   - {name: custom, roles: "state=float16"}
/// ```
public struct ScenarioConfig: Sendable {
    public enum Kind: String, CaseIterable, Sendable {
        case mqar, counter, needle
        case prefixCache = "prefix_cache"
        case handoff
        case gates
        case speculative
        case delethink
        case reproduce
        case pCast = "p_cast"
    }

    public var kind: Kind
    public var name: String
    public var title: String?
    public var file: String
    public var seeds: [UInt64] = [0]
    public var tokens: [Int] = []
    public var recipes: [StudyConfig.RecipeSpec] = []
    // MQAR
    public var memories: [TaskMemory.Kind] = [.deltanet, .linear]
    public var keyDim = 64
    public var valueDim = 64
    public var codebook = 64
    public var pairs: [Int] = []
    /// Needle: depths in percent of the length, and needles per (length, depth).
    public var depths: [Int] = []
    public var trials = 16
    /// Plot positions per doubling (besides `tokens`).
    public var perOctave = 4
    // Serving scenarios
    public var variants: [StudyConfig.VariantSpec] = []
    /// Prefix caching: the shared prefix P, the tokens each continuation decodes after its
    /// branch point, the number of continuations, the checkpoint intervals and modes.
    public var continuation = 256
    public var requests = 16
    public var intervals: [Int] = []
    public var modes: [PrefixCache.Mode] = [.all, .last]
    /// Gate precision: how the kernel stores its decay.
    public var decayForms: [GatePrecision.DecayForm] = [.alpha, .log]
    /// Speculative decoding: draft lengths and the acceptance threshold on cos(o, w).
    public var drafts: [Int] = []
    public var threshold = -0.1
    /// Delethink: chunk lengths L, carried tails m, sink tokens kept, equal-memory variants.
    public var chunks: [Int] = []
    public var tails: [Int] = []
    public var sinks = 0
    public var equalMemory: [StudyConfig.VariantSpec] = []
    /// Reproduce: the workload, the inputs' dtype, the tail window, the paper's value per recipe.
    public var reproduceWorkload: StudyConfig.WorkloadSpec?
    public var inputs: String?
    public var window = 64
    public var paper: [String: Double] = [:]
    /// P-cast: sink strengths, key block, sink tokens, query rows, block orders (`valueDim` too).
    public var sinkStrengths: [Double] = []
    public var block = 128
    public var sinkTokens = 4
    public var queries = 64
    public var orders: [PCast.Order] = [.forward, .reverse]
    public var sinkValues = [1.0]

    /// The recipe of `spec`: a `store:` spec applies to the state; `roles:` may name `roles`.
    public func recipe(_ spec: StudyConfig.RecipeSpec, roles: [Role] = [.state]) throws -> Recipe {
        var r = Recipe()
        if let s = spec.store { r[.state] = try FormatSpec.parse(s) }
        if let text = spec.roles {
            let explicit = try Recipe.parse(text, allowed: roles)
            for role in explicit.roles { r[role] = explicit[role] }
        }
        return r
    }

    /// The recipe of `spec` for variant `v`: for a softmax variant a `store:` spec applies to
    /// both caches (`k_cache`, `v_cache`), for a recurrent one to the state.
    public func recipe(_ spec: StudyConfig.RecipeSpec, for v: StudyConfig.VariantSpec, roles: [Role]) throws -> Recipe {
        guard KVRuns.isSoftmax(v) else { return try recipe(spec, roles: roles) }
        var r = Recipe()
        if let s = spec.store {
            let f = try FormatSpec.parse(s)
            r[.kCache] = f
            r[.vCache] = f
        }
        if let text = spec.roles {
            let explicit = try Recipe.parse(text, allowed: roles)
            for role in explicit.roles { r[role] = explicit[role] }
        }
        return r
    }

    /// Whether `path` is a scenario config (has a top-level `scenario:` key). Unreadable or
    /// invalid files answer false; the study loader reports them.
    public static func isScenario(path: String) -> Bool {
        guard let data = FileManager.default.contents(atPath: path), let text = String(data: data, encoding: .utf8),
              let root = try? YAMLLimits.compose(text, file: path), case .mapping(let m) = root else { return false }
        return m.contains { $0.key.string == "scenario" }
    }

    public static func load(path: String) throws -> ScenarioConfig {
        let text = try StudyConfig.readText(path)
        return try parse(text, file: path, defaultName: URL(fileURLWithPath: path).deletingPathExtension().lastPathComponent)
    }

    static let commonKeys = ["scenario", "name", "title", "seeds", "tokens", "recipes", "per_octave"]
    static let kindKeys: [Kind: [String]] = [
        .mqar: ["memories", "key_dim", "value_dim", "codebook", "pairs"],
        .counter: [],
        .needle: ["memories", "key_dim", "value_dim", "codebook", "depths", "trials"],
        .prefixCache: ["variants", "continuation", "requests", "intervals", "modes"],
        .handoff: ["variants", "continuation"],
        .gates: ["variants", "decay_forms"],
        .speculative: ["variants", "drafts", "threshold"],
        .delethink: ["variants", "chunks", "tails", "sinks", "equal_memory"],
        .reproduce: ["variants", "input", "inputs", "window", "paper"],
        .pCast: ["sink_strengths", "block", "sink_tokens", "queries", "value_dim", "orders", "sink_values"],
    ]

    public static func parse(_ text: String, file: String, defaultName: String) throws -> ScenarioConfig {
        let root: Node?
        do { root = try YAMLLimits.compose(text, file: file) } catch let e as InputError { throw e } catch {
            let message = "\(error)".split(separator: "\n").first.map(String.init) ?? "\(error)"
            throw StudyInputError("\(file): invalid YAML: \(message)")
        }
        guard let root else { throw StudyInputError("\(file):1: empty config; expected a mapping with 'scenario'") }
        let r = YAMLReader(file: file)
        guard case .mapping(let raw) = root, let kindNode = raw.first(where: { $0.key.string == "scenario" })?.value else {
            throw StudyInputError("\(file):1: scenario: expected one of \(Kind.allCases.map(\.rawValue).joined(separator: ", "))")
        }
        let kindText = try r.string(kindNode, key: "scenario")
        guard let kind = Kind(rawValue: kindText) else {
            throw r.error(kindNode, "scenario", "one of \(Kind.allCases.map(\.rawValue).joined(separator: ", ")), got '\(kindText)'")
        }
        let top = try r.mapping(root, context: "the \(kind.rawValue) scenario", allowed: commonKeys + kindKeys[kind]!)
        var c = ScenarioConfig(kind: kind, name: defaultName, title: nil, file: file)
        if let n = top["name"] { c.name = try r.string(n, key: "name") }
        if let n = top["title"] { c.title = try r.string(n, key: "title") }
        if let n = top["per_octave"] { c.perOctave = try r.int(n, key: "per_octave", range: 1...64) }
        if let n = top["seeds"] {
            c.seeds = try r.list(n, key: "seeds").map { UInt64(try r.int($0, key: "seeds", range: 0...Int.max)) }
            if c.seeds.isEmpty { throw r.error(n, "seeds", "a non-empty list of seeds") }
        }
        guard let tn = top["tokens"] else { throw r.error(root, "tokens", "a list of lengths (e.g. [256, 1024])") }
        c.tokens = try r.list(tn, key: "tokens").map { try r.int($0, key: "tokens", range: 1...(1 << 22)) }
        if c.tokens.isEmpty { throw r.error(tn, "tokens", "a non-empty list of lengths") }
        c.tokens = Array(Set(c.tokens)).sorted()
        guard let rn = top["recipes"] else { throw r.error(root, "recipes", "a list of recipes (e.g. [bfloat16])") }
        for item in try r.list(rn, key: "recipes") {
            let spec = try r.recipe(item) { kind == .reproduce ? Reproduction.probeText($0) : $0 }
            // Serving scenarios check roles per variant once the variants are read (reproduce: with its amax scales resolved).
            if kind != .reproduce {
                do { _ = try c.recipe(spec, roles: [.mqar, .counter, .needle].contains(kind) ? [.state] : kind == .pCast ? [.p] : Role.allCases) } catch { throw StudyInputError("\(file):\(spec.line): recipes: \(error)") }
            }
            c.recipes.append(spec)
        }
        if c.recipes.isEmpty { throw r.error(rn, "recipes", "at least one recipe") }
        try r.unique(c.recipes.map { ($0.name, $0.line) }, key: "recipes")
        if c.recipes.contains(where: { $0.name == TaskRunner.exactName }) {
            throw r.error(rn, "recipes", "no recipe named '\(TaskRunner.exactName)' (the Float64 run every scenario adds)")
        }
        switch kind {
        case .mqar: try parseMQAR(&c, top, root: root, r)
        case .counter: break
        case .needle: try parseNeedle(&c, top, root: root, r)
        case .prefixCache: try parsePrefixCache(&c, top, root: root, r)
        case .handoff: try parseHandoff(&c, top, root: root, r)
        case .gates: try parseGates(&c, top, root: root, r)
        case .speculative: try parseSpeculative(&c, top, root: root, r)
        case .delethink: try parseDelethink(&c, top, root: root, r)
        case .reproduce: try parseReproduce(&c, top, root: root, r)
        case .pCast: try parsePCast(&c, top, root: root, r)
        }
        return c
    }

    static func parseMQAR(_ c: inout ScenarioConfig, _ top: [String: Node], root: Node, _ r: YAMLReader) throws {
        try parseMemory(&c, top, r)
        guard let pn = top["pairs"] else { throw r.error(root, "pairs", "a list of pair counts (e.g. [8, 32])") }
        let items = try r.list(pn, key: "pairs")
        if items.isEmpty { throw r.error(pn, "pairs", "a non-empty list of pair counts") }
        for item in items {
            let p = try r.int(item, key: "pairs", range: 1...Int.max)
            guard p <= c.keyDim - 1 else {
                throw r.error(item, "pairs", "at most key_dim − 1 = \(c.keyDim - 1) (an exact memory holds at most key_dim orthonormal keys; one direction carries the distractors), got \(p)")
            }
            c.pairs.append(p)
        }
        c.pairs = Array(Set(c.pairs)).sorted()
        if let shortest = c.tokens.first, let most = c.pairs.last, shortest < most {
            throw r.error(top["tokens"]!, "tokens", "lengths of at least the largest pair count (\(most)), got \(shortest)")
        }
    }

    static func parseNeedle(_ c: inout ScenarioConfig, _ top: [String: Node], root: Node, _ r: YAMLReader) throws {
        try parseMemory(&c, top, r)
        guard let dn = top["depths"] else { throw r.error(root, "depths", "a list of needle depths in percent (e.g. [10, 50, 90])") }
        c.depths = try r.list(dn, key: "depths").map { try r.int($0, key: "depths", range: 0...100) }
        if c.depths.isEmpty { throw r.error(dn, "depths", "a non-empty list of depths in percent") }
        c.depths = Array(Set(c.depths)).sorted()
        if let n = top["trials"] { c.trials = try r.int(n, key: "trials", range: 1...4096) }
        if c.tokens.first! < 2 { throw r.error(top["tokens"]!, "tokens", "lengths of at least 2 (a needle and a distractor)") }
    }

    /// The memory keys MQAR and the needle share.
    static func parseMemory(_ c: inout ScenarioConfig, _ top: [String: Node], _ r: YAMLReader) throws {
        if let n = top["memories"] {
            c.memories = try r.list(n, key: "memories").map {
                let s = try r.string($0, key: "memories")
                guard let m = TaskMemory.Kind(rawValue: s) else {
                    throw r.error($0, "memories", "one of \(TaskMemory.Kind.allCases.map(\.rawValue).joined(separator: ", ")), got '\(s)'")
                }
                return m
            }
            if c.memories.isEmpty { throw r.error(n, "memories", "a non-empty list") }
        }
        if let n = top["key_dim"] {
            c.keyDim = try r.int(n, key: "key_dim", range: 2...1024)
            if c.keyDim & (c.keyDim - 1) != 0 { throw r.error(n, "key_dim", "a power of two (orthonormal Hadamard keys), got \(c.keyDim)") }
        }
        if let n = top["value_dim"] { c.valueDim = try r.int(n, key: "value_dim", range: 1...1024) }
        if let n = top["codebook"] { c.codebook = try r.int(n, key: "codebook", range: 2...65536) }
    }

    /// Recurrent variants whose state a scenario can replace (checkpoint resume, handoff).
    /// With `softmax`, softmax variants too (their KV cache takes the state's part), and a
    /// recipe applies to the variants that have all its roles; it must apply to at least one.
    static func parseVariants(_ c: inout ScenarioConfig, _ top: [String: Node], root: Node, _ r: YAMLReader, softmax: Bool = false, roles: (StudyConfig.VariantSpec) throws -> [Role]) throws {
        guard let vn = top["variants"] else { throw r.error(root, "variants", "a list of recurrent variants (e.g. [gated_deltanet])") }
        for item in try r.list(vn, key: "variants") {
            let v = try r.variant(item)
            if softmax && PrefixCache.supportedKV.contains(v.name) {
                if v.form != "recurrent" { throw r.error(item, "variants.form", "the decode form (recurrent) of a softmax variant, got '\(v.form)'") }
            } else if !PrefixCache.supported.contains(v.name) {
                let kinds = PrefixCache.supported + (softmax ? PrefixCache.supportedKV : [])
                throw r.error(item, "variants", "a variant with a recurrent state\(softmax ? " or a KV cache" : "") (\(kinds.joined(separator: ", "))), got '\(v.name)'")
            }
            if v.tokens != nil { throw r.error(item, "variants.tokens", "no per-variant lengths in a scenario (the scenario sets them)") }
            c.variants.append(v)
        }
        if c.variants.isEmpty { throw r.error(vn, "variants", "at least one variant") }
        try r.unique(c.variants.map { ("\($0.name) \($0.preset) \($0.gates)", $0.line) }, key: "variants")
        if softmax {
            for spec in c.recipes {
                var first: (String, Error)?
                for v in c.variants {
                    do { _ = try c.recipe(spec, for: v, roles: try roles(v)); first = nil; break } catch { if first == nil { first = (v.name, error) } }
                }
                if let (name, error) = first {
                    throw StudyInputError("\(r.file):\(spec.line): recipes: '\(spec.name)' for variant '\(name)': \(error)")
                }
            }
            return
        }
        for v in c.variants {
            let roles = try roles(v)
            for spec in c.recipes {
                do { _ = try c.recipe(spec, roles: roles) } catch {
                    throw StudyInputError("\(r.file):\(spec.line): recipes: '\(spec.name)' for variant '\(v.name)': \(error)")
                }
            }
        }
    }

    static func parsePrefixCache(_ c: inout ScenarioConfig, _ top: [String: Node], root: Node, _ r: YAMLReader) throws {
        try parseVariants(&c, top, root: root, r, softmax: true) { try PrefixCache.prefixRoles($0) }
        // The cache formats a softmax kernel accepts (a growing cache rejects whole-tensor scales).
        for v in c.variants where KVRuns.isSoftmax(v) {
            for spec in c.recipes {
                guard let recipe = try? c.recipe(spec, for: v, roles: PrefixCache.prefixRoles(v)) else { continue }
                do { _ = try KVRuns.make(v, seed: 0, tier: .float32, recipe: KVRuns.kernelRecipe(recipe)) } catch {
                    throw StudyInputError("\(r.file):\(spec.line): recipes: '\(spec.name)' for variant '\(v.name)': \(error)")
                }
            }
        }
        if c.tokens.count != 1 { throw r.error(top["tokens"]!, "tokens", "one prefix length P (e.g. [1024]), got \(c.tokens.count) lengths") }
        if let n = top["continuation"] { c.continuation = try r.int(n, key: "continuation", range: 1...(1 << 20)) }
        if let n = top["requests"] { c.requests = try r.int(n, key: "requests", range: 1...4096) }
        guard let iv = top["intervals"] else { throw r.error(root, "intervals", "a list of checkpoint intervals in tokens (e.g. [16, 64, 256])") }
        let items = try r.list(iv, key: "intervals")
        if items.isEmpty { throw r.error(iv, "intervals", "a non-empty list of checkpoint intervals") }
        for item in items {
            guard case .scalar(let s) = item, let x = Int(s.string) else { throw r.error(item, "intervals", "a positive integer (tokens between checkpoints), got \(r.describe(item))") }
            guard x >= 1 else { throw r.error(item, "intervals", "a checkpoint interval ≥ 1 token, got \(x)") }
            guard x <= c.tokens[0] else { throw r.error(item, "intervals", "an interval of at most the prefix length \(c.tokens[0]), got \(x)") }
            c.intervals.append(x)
        }
        c.intervals = Array(Set(c.intervals)).sorted()
        if let n = top["modes"] {
            c.modes = try r.list(n, key: "modes").map {
                let s = try r.string($0, key: "modes")
                guard let m = PrefixCache.Mode(rawValue: s) else { throw r.error($0, "modes", "all or last, got '\(s)'") }
                return m
            }
            if c.modes.isEmpty { throw r.error(n, "modes", "a non-empty list (all, last)") }
            c.modes = Array(Set(c.modes)).sorted { $0.rawValue < $1.rawValue }
        }
    }

    static func parseHandoff(_ c: inout ScenarioConfig, _ top: [String: Node], root: Node, _ r: YAMLReader) throws {
        guard c.tokens.count == 1, c.tokens[0] % Handoff.chunkSize == 0 else {
            throw r.error(top["tokens"]!, "tokens", "one prefill length P, a multiple of the chunk size \(Handoff.chunkSize) (e.g. [1024]), got \(c.tokens)")
        }
        if let n = top["continuation"] { c.continuation = try r.int(n, key: "continuation", range: 64...(1 << 20)) }
        try parseVariants(&c, top, root: root, r, softmax: true) { try Handoff.handoffRoles($0) }
        for v in c.variants where KVRuns.isSoftmax(v) {
            for spec in c.recipes {
                guard let recipe = try? c.recipe(spec, for: v, roles: Handoff.handoffRoles(v)) else { continue }
                do { _ = try KVRuns.make(v, seed: 0, tier: .float32, recipe: recipe) } catch {
                    throw StudyInputError("\(r.file):\(spec.line): recipes: '\(spec.name)' for variant '\(v.name)': \(error)")
                }
            }
        }
        for v in c.variants {
            let forms = try VariantCatalog.entry(v.name).forms
            guard forms.contains("chunked") && v.form == "recurrent" else {
                throw StudyInputError("\(r.file):\(v.line): variants: '\(v.name)': expected a variant with a chunked form, named in its recurrent form (the scenario runs both)")
            }
            // What the prefill hands over: a KV cache (softmax) or a state; MLA's prefill has neither to pass on here.
            let stateful = try KVRuns.isSoftmax(v) || VariantCatalog.makeRun(variant: v.name, tier: .float32).stateCount > 0
            guard stateful else {
                throw StudyInputError("\(r.file):\(v.line): variants: '\(v.name)': expected a variant whose prefill hands a state or a softmax KV cache to the decode")
            }
        }
    }

    /// The prefill length of a handoff config.
    public var prefill: Int { tokens[0] }

    static func parseGates(_ c: inout ScenarioConfig, _ top: [String: Node], root: Node, _ r: YAMLReader) throws {
        // A recipe applies to the variants that have all its roles (β exists only in the delta
        // family); one that applies to none is an error.
        try parseVariants(&c, top, root: root, r) { _ in Role.allCases }
        for v in c.variants where !GatePrecision.supported.contains(v.name) || v.form != "recurrent" {
            throw StudyInputError("\(r.file):\(v.line): variants: expected a gated variant in its recurrent form (\(GatePrecision.supported.joined(separator: ", "))), got '\(v.name)'")
        }
        for spec in c.recipes where c.variants.allSatisfy({ v in (try? c.recipe(spec, roles: VariantFactory.roles(v))) == nil }) {
            throw StudyInputError("\(r.file):\(spec.line): recipes: '\(spec.name)' names a role none of the variants has; expected roles of at least one variant")
        }
        if let n = top["decay_forms"] {
            c.decayForms = try r.list(n, key: "decay_forms").map {
                let s = try r.string($0, key: "decay_forms")
                guard let f = GatePrecision.DecayForm(rawValue: s) else { throw r.error($0, "decay_forms", "alpha or log, got '\(s)'") }
                return f
            }
            if c.decayForms.isEmpty { throw r.error(n, "decay_forms", "a non-empty list (alpha, log)") }
            c.decayForms = Array(Set(c.decayForms)).sorted { $0.rawValue < $1.rawValue }
        }
    }

    static func parseSpeculative(_ c: inout ScenarioConfig, _ top: [String: Node], root: Node, _ r: YAMLReader) throws {
        try parseVariants(&c, top, root: root, r, softmax: true) { try Speculative.speculativeRoles($0) }
        for v in c.variants where !Speculative.supported.contains(v.name) && !Speculative.supportedKV.contains(v.name) {
            throw StudyInputError("\(r.file):\(v.line): variants: expected a variant whose decode run can be rewound (\((Speculative.supported + Speculative.supportedKV).joined(separator: ", "))), got '\(v.name)'")
        }
        // A rollback drops drafted cache entries: a group:N cache quantizes entries together.
        for v in c.variants where KVRuns.isSoftmax(v) {
            for spec in c.recipes {
                guard let recipe = try? c.recipe(spec, for: v, roles: Speculative.speculativeRoles(v)) else { continue }
                let run: KVRuns.Run
                do { run = try KVRuns.make(v, seed: 0, tier: .float32, recipe: recipe) } catch {
                    throw StudyInputError("\(r.file):\(spec.line): recipes: '\(spec.name)' for variant '\(v.name)': \(error)")
                }
                if !run.canRollback {
                    throw StudyInputError("\(r.file):\(spec.line): recipes: '\(spec.name)' for variant '\(v.name)': a group:N cache cannot drop drafted entries; expected per-token, block:N or element formats")
                }
            }
        }
        guard let dn = top["drafts"] else { throw r.error(root, "drafts", "a list of draft lengths in tokens (e.g. [2, 4, 8])") }
        let items = try r.list(dn, key: "drafts")
        if items.isEmpty { throw r.error(dn, "drafts", "a non-empty list of draft lengths") }
        for item in items {
            guard case .scalar(let s) = item, let x = Int(s.string) else { throw r.error(item, "drafts", "a positive integer (tokens drafted per cycle), got \(r.describe(item))") }
            guard x >= 1 else { throw r.error(item, "drafts", "a draft length ≥ 1 token, got \(x)") }
            guard x <= 256 else { throw r.error(item, "drafts", "a draft length of at most 256 tokens, got \(x)") }
            c.drafts.append(x)
        }
        c.drafts = Array(Set(c.drafts)).sorted()
        if let n = top["threshold"] {
            let t = try r.double(n, key: "threshold")
            guard t > -1 && t < 1 else { throw r.error(n, "threshold", "a cosine threshold in (−1, 1), got \(t)") }
            c.threshold = t
        }
    }

    /// Delethink: softmax variants, chunk lengths and tails ≥ 1 (a tail longer than a chunk
    /// carries entries that were carried before; one as long as the context is full attention),
    /// recipes with a `store:` format for the KV cache and the equal-memory state.
    static func parseDelethink(_ c: inout ScenarioConfig, _ top: [String: Node], root: Node, _ r: YAMLReader) throws {
        guard let vn = top["variants"] else { throw r.error(root, "variants", "a list of softmax variants (e.g. [mha])") }
        for item in try r.list(vn, key: "variants") {
            let v = try r.variant(item)
            guard Delethink.softmaxVariants.contains(v.name) && v.form == "recurrent" else {
                throw r.error(item, "variants", "a softmax variant with full attention in its decode form (\(Delethink.softmaxVariants.joined(separator: ", "))), got '\(v.name)'")
            }
            if v.tokens != nil { throw r.error(item, "variants.tokens", "no per-variant lengths in a scenario (the scenario sets them)") }
            c.variants.append(v)
        }
        if c.variants.isEmpty { throw r.error(vn, "variants", "at least one variant") }
        try r.unique(c.variants.map { ("\($0.name) \($0.preset) \($0.headDim ?? 0)", $0.line) }, key: "variants")
        func lengths(_ key: String, _ what: String) throws -> [Int] {
            guard let n = top[key] else { throw r.error(root, key, "a list of \(what) in tokens (e.g. [256, 1024])") }
            let items = try r.list(n, key: key)
            if items.isEmpty { throw r.error(n, key, "a non-empty list of \(what)") }
            var out: [Int] = []
            for item in items {
                guard case .scalar(let s) = item, let x = Int(s.string) else { throw r.error(item, key, "a positive integer (\(what) in tokens), got \(r.describe(item))") }
                guard x >= 1 else { throw r.error(item, key, "\(what) ≥ 1 token, got \(x)") }
                out.append(x)
            }
            return Array(Set(out)).sorted()
        }
        c.chunks = try lengths("chunks", "chunk lengths L")
        c.tails = try lengths("tails", "carried tails m")
        if let n = top["sinks"] { c.sinks = try r.int(n, key: "sinks", range: 0...(1 << 20)) }
        if c.tokens.first! < 16 { throw r.error(top["tokens"]!, "tokens", "lengths of at least 16 (error at T averages the last T/16 positions), got \(c.tokens.first!)") }
        if let en = top["equal_memory"] {
            for item in try r.list(en, key: "equal_memory") {
                let v: StudyConfig.VariantSpec
                do { v = try r.variant(item) } catch let e as StudyInputError {
                    // The variant reader names its key `variants`; here the list is `equal_memory`.
                    throw StudyInputError(e.description.replacingOccurrences(of: ": variants: ", with: ": equal_memory: "))
                }
                guard Delethink.recurrentVariants.contains(v.name) && v.form == "recurrent" else {
                    throw r.error(item, "equal_memory", "a recurrent variant in its decode form (\(Delethink.recurrentVariants.joined(separator: ", "))), got '\(v.name)'")
                }
                if v.keyDim != nil || v.valueDim != nil || v.presetName != nil {
                    throw r.error(item, "equal_memory", "no key_dim/value_dim/preset (the state size is set to the Delethink cache's peak bytes)")
                }
                c.equalMemory.append(v)
            }
        } else {
            c.equalMemory = [StudyConfig.VariantSpec(name: DeltaDefinition.gatedDeltaNet.name)]
        }
        try r.unique(c.equalMemory.map { ("\($0.name) \($0.preset)", $0.line) }, key: "equal_memory")
        for spec in c.recipes {
            func bad(_ why: String) -> StudyInputError { StudyInputError("\(r.file):\(spec.line): recipes: '\(spec.name)': \(why)") }
            guard spec.store != nil else { throw bad("expected store: SPEC (the KV cache's format, and the equal-memory state's)") }
            if let text = spec.roles {
                do { _ = try Recipe.parse(text, allowed: [.q, .k, .v, .output]) } catch { throw bad("\(error) (roles: names only q, k, v, output here; the cache and state take store:)") }
            }
            for v in c.variants {
                do { _ = try Delethink.probe(v, seed: 0, tier: .float32, recipe: RecipeResolver.resolve(spec, inputs: nil, roles: SoftmaxAttentionConfig.roles, variant: v.name), selector: nil) } catch {
                    throw bad("\(error)")
                }
            }
            for v in c.equalMemory {
                do { _ = try RecipeResolver.resolve(spec, inputs: nil, roles: try VariantFactory.roles(v), variant: v.name) } catch { throw bad("\(error)") }
            }
        }
    }
}
