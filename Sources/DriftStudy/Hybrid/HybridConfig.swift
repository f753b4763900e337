import AttentionVariants
import Foundation
import HybridStacks
import NumberFormats
import Yams

/// A hybrid study (`attnprec run experiments/hybrids.yaml`): a top-level `hybrid: NAME`, the
/// stacks to run (a `preset:` and/or a `pattern:`), their lengths and recipes per layer type.
///
/// ```yaml
/// hybrid: hybrids
/// title: Hybrid stacks
/// width: 1/16            # fraction of heads, d_model and MLP width (default 1/16)
/// form: recurrent        # or chunked (prefill forms of the recurrent layers)
/// seed: 0
/// attribution: true      # also run each source of a recipe alone (or a list of recipe names)
/// stacks:
///   - preset: qwen3-next
///     tokens: 4096
///     recipes:
///       - {name: bf16-state, gated_deltanet: "state=bfloat16,conv_state=bfloat16", gated_attention: "k_cache=bfloat16,v_cache=bfloat16"}
/// ```
public struct HybridConfig: Sendable {
    public var name: String
    public var title: String?
    public var file: String
    public var specs: [HybridSpec] = []

    static let topKeys = ["hybrid", "title", "width", "form", "seed", "attribution", "stacks"]
    static let stackKeys = ["preset", "pattern", "tokens", "width", "form", "recipes", "attribution"]
    public static let defaultWidth = 1.0 / 16

    /// Whether `path` is a hybrid config (a top-level `hybrid:` key).
    public static func isHybrid(path: String) -> Bool {
        guard let data = FileManager.default.contents(atPath: path), let text = String(data: data, encoding: .utf8),
              let root = try? YAMLLimits.compose(text, file: path), case .mapping(let m) = root else { return false }
        return m.contains { $0.key.string == "hybrid" }
    }

    public static func load(path: String, jobs: Int) throws -> HybridConfig {
        try parse(try StudyConfig.readText(path), file: path, jobs: jobs)
    }

    public static func parse(_ text: String, file: String, jobs: Int) throws -> HybridConfig {
        let root: Node?
        do { root = try YAMLLimits.compose(text, file: file) } catch let e as InputError { throw e } catch {
            throw StudyInputError("\(file): invalid YAML: \("\(error)".split(separator: "\n").first.map(String.init) ?? "\(error)")")
        }
        guard let root else { throw StudyInputError("\(file):1: empty config; expected a mapping with 'hybrid'") }
        let r = YAMLReader(file: file)
        let top = try r.mapping(root, context: "the hybrid study", allowed: topKeys)
        var c = HybridConfig(name: try r.string(top["hybrid"]!, key: "hybrid"), file: file)
        if let n = top["title"] { c.title = try r.string(n, key: "title") }
        var defaults = StackRunOptions(tokens: 0)
        defaults.jobs = jobs
        var width = defaultWidth
        if let n = top["width"] { width = try Self.width(r, n) }
        if let n = top["form"] { defaults.form = try Self.form(r, n) }
        if let n = top["seed"] { defaults.seed = UInt64(try r.int(n, key: "seed", range: 0...Int(Int32.max))) }
        if let n = top["attribution"] { try Self.attribution(r, n, &defaults) }
        guard let sn = top["stacks"] else { throw r.error(root, "stacks", "a list of stacks (each with preset: or pattern:)") }
        for item in try r.list(sn, key: "stacks") { c.specs.append(try stack(r, item, defaults: defaults, width: width)) }
        if c.specs.isEmpty { throw r.error(sn, "stacks", "at least one stack") }
        try r.unique(c.specs.map { ("\($0.name) T=\($0.options.tokens) w=\($0.shape.width)", r.line(sn)) }, key: "stacks")
        for s in c.specs { try s.checkMemory(place: file) }
        return c
    }

    static func stack(_ r: YAMLReader, _ item: Node, defaults: StackRunOptions, width defaultWidth: Double) throws -> HybridSpec {
        let m = try r.mapping(item, context: "stacks entry", allowed: stackKeys)
        var model = StackModel.qwen3Next, name = "pattern"
        if let n = m["preset"] {
            let p = try r.string(n, key: "preset")
            do { model = try StackModel.preset(p) } catch { throw StudyInputError("\(r.file):\(r.line(n)): \(error)") }
            name = p
        }
        if let n = m["pattern"] {
            model.pattern = try r.string(n, key: "pattern")
            model.mlpAfterEach = !((try? LayerPattern.parse(model.pattern))?.contains(.mlp) ?? false)
            name = m["preset"] == nil ? "pattern" : name + "+pattern"
        }
        guard m["preset"] != nil || m["pattern"] != nil else { throw r.error(item, "preset", "a preset (\(StackModel.presets.map(\.name).joined(separator: ", "))) or a pattern") }
        var o = defaults
        guard let tn = m["tokens"] else { throw r.error(item, "tokens", "the sequence length (e.g. 4096)") }
        o.tokens = try r.int(tn, key: "tokens", range: 16...(1 << 20))
        if let n = m["form"] { o.form = try Self.form(r, n) }
        if let n = m["attribution"] { try Self.attribution(r, n, &o) }
        let width = try m["width"].map { try Self.width(r, $0) } ?? defaultWidth
        let shape: StackShape
        do { shape = try StackShape(model: model, width: width) } catch { throw StudyInputError("\(r.file):\(r.line(m["pattern"] ?? m["width"] ?? item)): \(error)") }
        guard let rn = m["recipes"] else { throw r.error(item, "recipes", "a list of recipes, each {name: …, LAYER_TYPE: \"role=SPEC\", residual: SPEC}") }
        var recipes: [StackRecipe] = []
        for rItem in try r.list(rn, key: "recipes") {
            let entries = try r.mapping(rItem, context: "recipes entry", allowed: ["name", "residual"] + LayerKind.names)
            guard let nn = entries["name"] else { throw r.error(rItem, "name", "a recipe name") }
            let pairs = try entries.filter { $0.key != "name" }.sorted { $0.key < $1.key }.map { (key: $0.key, value: try r.string($0.value, key: $0.key)) }
            recipes.append(try StackRecipe.parse(name: try r.string(nn, key: "name"), pairs, shape: shape, form: o.form, where: "\(r.file):\(r.line(rItem))"))
        }
        if recipes.isEmpty { throw r.error(rn, "recipes", "at least one recipe") }
        try r.unique(recipes.map { ($0.name, r.line(rn)) }, key: "recipes")
        for name in o.attributed ?? [] where !recipes.contains(where: { $0.name == name }) {
            throw r.error(m["attribution"] ?? item, "attribution", "names of this stack's recipes (\(recipes.map(\.name).joined(separator: ", "))), got '\(name)'")
        }
        return HybridSpec(name: name, shape: shape, recipes: recipes, options: o)
    }

    static func width(_ r: YAMLReader, _ n: Node) throws -> Double {
        let text = n.scalar?.string ?? ""
        do { return try parseWidth(text) } catch { throw r.error(n, "width", "a fraction such as 1/16 or 0.0625") }
    }

    static func form(_ r: YAMLReader, _ n: Node) throws -> String {
        let f = try r.string(n, key: "form")
        guard ["recurrent", "chunked"].contains(f) else { throw r.error(n, "form", "recurrent or chunked, got '\(f)'") }
        return f
    }

    /// `attribution: true | false | [recipe names]`.
    static func attribution(_ r: YAMLReader, _ n: Node, _ o: inout StackRunOptions) throws {
        if case .sequence = n {
            o.attribution = true
            o.attributed = Set(try r.list(n, key: "attribution").map { try r.string($0, key: "attribution") })
        } else {
            o.attribution = try bool(r, n, key: "attribution")
            o.attributed = nil
        }
    }

    static func bool(_ r: YAMLReader, _ n: Node, key: String) throws -> Bool {
        switch n.scalar?.string {
        case "true": return true
        case "false": return false
        default: throw r.error(n, key, "true or false")
        }
    }
}
