import ExactArithmetic
import Workloads

/// The delta-rule variants (DeltaNet, Gated DeltaNet, KDA): one kernel family, `DeltaKind`
/// choosing the gate.
public struct DeltaDefinition: VariantDefinition {
    public let kind: DeltaKind
    public let math: String
    public let overrides: VariantOverrides
    public let capabilities: VariantCapabilities
    /// The per-token gate tensor replay reads (nil: no decay).
    let gateTensor: ReplayTensorSpec?

    public var name: String { kind.rawValue }
    public var family: VariantFamily { .delta }
    public var forms: [String] { ["recurrent", "chunked"] }
    public var roles: [Role] { DeltaRuleConfig.roles }

    /// The model presets of this kind.
    public var modelPresets: [DeltaPreset] { DeltaPreset.all.filter { $0.kind == kind } }

    public var presets: [VariantPreset] {
        modelPresets.map {
            VariantPreset(name: $0.name, summary: "\($0.keyHeads) key / \($0.valueHeads) value heads, K = \($0.keyDim), V = \($0.valueDim), model gates \($0.gates)")
        }
    }

    /// The default certification workload: one head, K = V = 64, Gaussian inputs, model gates
    /// (Mamba initialisation; none for DeltaNet), β = sigmoid, seed 0.
    public var defaultConfig: DeltaRuleConfig { DeltaRuleConfig(kind: kind) }

    /// The model preset named `name`.
    public func modelPreset(_ name: String) throws -> DeltaPreset {
        _ = try preset(name)
        return modelPresets.first { $0.name == name }!
    }

    public func instance(_ p: VariantParameters) throws -> any VariantInstance {
        var c: DeltaRuleConfig
        if let name = p.preset {
            let m = try modelPreset(name)
            guard (p.head ?? 0) < m.valueHeads else {
                throw VariantError("head: preset '\(m.name)' has \(m.valueHeads) value heads; expected 0...\(m.valueHeads - 1)")
            }
            c = m.config(head: p.head ?? 0, seed: p.seed)
        } else {
            c = defaultConfig
            if let h = p.head { c.head = h }
        }
        c.seed = p.seed
        c.distribution = p.distribution
        if let k = p.keyDim { c.keyDim = k }
        if let d = p.valueDim { c.valueDim = d }
        if let log = p.decayLog { c.decayLog = log }
        return DeltaInstance(config: c)
    }

    public var replayTensors: [ReplayTensorSpec]? {
        var s = [
            ReplayTensorSpec(name: "q", shape: "[T, H, K]", meaning: "queries as the kernel receives them (L2-normalised in the kernel, eps 1e-6, unless --no-qk-l2norm; then scaled by K^-1/2)", required: true),
            ReplayTensorSpec(name: "k", shape: "[T, H, K]", meaning: "keys (L2-normalised in the kernel, eps 1e-6, unless --no-qk-l2norm)", required: true),
            ReplayTensorSpec(name: "v", shape: "[T, HV, V]", meaning: "values; HV a multiple of H (value head h reads key head h/(HV/H))", required: true),
        ]
        if let g = gateTensor { s.append(g) }
        s.append(ReplayTensorSpec(name: "beta", shape: "[T, HV]", meaning: "write strength β itself (after the sigmoid)", required: true))
        s.append(GatedLinearDefinition.initialState)
        return s
    }

    /// A run of `config` in `form` ("recurrent" or "chunked") on a backend of `tier`, each
    /// kernel specialised for its backend.
    public static func makeRun(config: DeltaRuleConfig, form: String, tier: BackendTier, recipe: Recipe = .exact) throws -> SteppedRun {
        let allowed = form == "chunked" ? DeltaRuleConfig.roles : DeltaRuleConfig.recurrentRoles
        if let bad = recipe.roles.first(where: { !allowed.contains($0) }) {
            throw VariantError("recipe: role '\(bad.rawValue)' does not exist in the \(form) form of \(config.kind.rawValue); its roles: \(allowed.map(\.rawValue).joined(separator: ", "))")
        }
        guard form == "recurrent" || form == "chunked" else { throw VariantError("form: expected recurrent or chunked, got '\(form)'") }
        return try tier.with(Make(config: config, chunked: form == "chunked", recipe: recipe))
    }

    struct Make: BackendGeneric {
        let config: DeltaRuleConfig, chunked: Bool, recipe: Recipe
        func callAsFunction<B: Backend>(_ b: B) throws -> SteppedRun {
            chunked ? try DeltaRuleChunked(config: config, backend: b, recipe: recipe) : try DeltaRuleDecode(config: config, backend: b, recipe: recipe)
        }
    }
}

public struct DeltaInstance: VariantInstance {
    public let config: DeltaRuleConfig
    public func makeRun(form: String, tier: BackendTier, recipe: Recipe) throws -> SteppedRun {
        try DeltaDefinition.makeRun(config: config, form: form, tier: tier, recipe: recipe)
    }
    public var stateShape: (rows: Int, cols: Int)? { (config.keyDim, config.valueDim) }
}

/// A delta-rule model preset: one model's public shapes and gate initialisation
/// (`ModelFacts.deltaRule`) as a configuration of one kind.
public struct DeltaPreset: Hashable, Sendable {
    public var name: String
    public var kind: DeltaKind
    public var keyDim: Int
    public var valueDim: Int
    public var keyHeads: Int
    public var valueHeads: Int
    public var gates: DeltaGates
    public var safeGate: Bool

    /// `model`'s delta-rule layers as `kind`: A ~ U(aRange), dt log-uniform in dtRange.
    public init(_ model: ModelFacts, kind: DeltaKind) {
        let f = model.deltaRule!
        (name, self.kind, keyDim, valueDim, keyHeads, valueHeads) = (model.name, kind, f.keyDim, f.valueDim, f.keyHeads, f.valueHeads)
        gates = .model(aMin: f.aRange.lowerBound, aMax: f.aRange.upperBound, dtMin: f.dtRange.lowerBound, dtMax: f.dtRange.upperBound)
        safeGate = false
    }

    /// Qwen3-Next's Gated DeltaNet layers.
    public static let qwen3NextGDN = DeltaPreset(.qwen3Next, kind: .gatedDeltaNet)
    /// Kimi Linear's KDA layers.
    public static let kimiLinearKDA = DeltaPreset(.kimiLinear, kind: .kda)

    public static let all = [qwen3NextGDN, kimiLinearKDA]

    /// The configuration of value head `head`; it reads the q and k of key head
    /// head / (valueHeads / keyHeads), GQA-style.
    public func config(head: Int = 0, seed: UInt64 = 0) -> DeltaRuleConfig {
        DeltaRuleConfig(kind: kind, keyDim: keyDim, valueDim: valueDim, head: head, seed: seed, gates: gates, safeGate: safeGate,
                        keyHead: head / max(valueHeads / keyHeads, 1))
    }
}
