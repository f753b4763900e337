import ExactArithmetic
import NumberFormats
import Workloads

/// Everything the rest of the tool asks about one attention variant (DESIGN.md §2, §4): its
/// canonical name, family, forms, recipe roles, math, presets, the tensors replay reads, the
/// scenarios that can drive it, and how to build a run of one instance on a backend tier.
///
/// One value per canonical name, listed once in `VariantRegistry`; code elsewhere asks the
/// definition instead of switching on name strings.
public protocol VariantDefinition: Sendable {
    /// Canonical name (DESIGN.md §4), e.g. `gated_deltanet`.
    var name: String { get }
    var family: VariantFamily { get }
    /// `recurrent` (decode) and, where implemented, `chunked` (prefill).
    var forms: [String] { get }
    /// Every recipe role of the variant (the chunked form's, which include the recurrent ones).
    var roles: [Role] { get }
    /// One line of math.
    var math: String { get }
    /// Named model presets this variant accepts (`preset:` in a study or budget).
    var presets: [VariantPreset] { get }
    /// The shape overrides a study may give an instance.
    var overrides: VariantOverrides { get }
    /// The serving scenarios that can drive the variant.
    var capabilities: VariantCapabilities { get }
    /// The tensors replay reads (nil: replay does not support the variant).
    var replayTensors: [ReplayTensorSpec]? { get }
    /// The selection flags replay takes (`--block-size`, `--top-k`, `--window`).
    var replayFlags: ReplayFlags { get }

    /// Replay on `file`: the tensors checked against `replayTensors` and the runs to make. The
    /// default reads the per-token tensors (`ReplayTensors`) and asks `replayPlan(_:)`; a
    /// variant whose tensors are not per-head rows (MLA's latent cache) reads the file itself.
    func replayPlan(file: TensorFile, options: ReplayOptions) throws -> ReplayPlan
    /// Replay on checked tensors: the configuration their shapes and the options give, and one
    /// run per value head (or one for all heads of a cache variant).
    func replayPlan(_ tensors: ReplayTensors) throws -> ReplayPlan

    /// The roles of `form` (the recurrent form has no per-chunk roles).
    func roles(form: String) -> [Role]

    /// One instance: the default certification workload (DESIGN.md §9) with `parameters`
    /// applied (a preset, shape overrides, the study's seed, distribution and schedule).
    func instance(_ parameters: VariantParameters) throws -> any VariantInstance
}

extension VariantDefinition {
    public var presets: [VariantPreset] { [] }
    public var overrides: VariantOverrides { [] }
    public var capabilities: VariantCapabilities { [] }
    public var replayTensors: [ReplayTensorSpec]? { nil }
    public var replayFlags: ReplayFlags { [] }

    public func replayPlan(file: TensorFile, options: ReplayOptions) throws -> ReplayPlan {
        try replayPlan(ReplayTensors(file: file, definition: self, options: options))
    }

    public func replayPlan(_ tensors: ReplayTensors) throws -> ReplayPlan {
        throw InputError("--variant: replay has no plan for '\(name)'")
    }

    public func roles(form: String) -> [Role] {
        form == "recurrent" ? roles.filter { !Role.chunkOnly.contains($0) } : roles
    }

    /// Whether the variant keeps a KV cache instead of a recurrent state.
    public var keepsCache: Bool { family == .softmax || family == .sparse }

    /// Checks that `form` is one of the variant's forms.
    public func check(form: String) throws {
        guard forms.contains(form) else {
            throw VariantError("variant '\(name)' has no '\(form)' form; its forms: \(forms.joined(separator: ", "))")
        }
    }

    /// The configuration of preset `name` in `list` (each preset with its configuration).
    public func configuration<C>(of name: String, in list: [(preset: VariantPreset, config: C)]) throws -> C {
        _ = try preset(name)
        return list.first { $0.preset.name == name }!.config
    }

    /// The preset named `name`, or an error listing the valid ones.
    public func preset(_ name: String) throws -> VariantPreset {
        if let p = presets.first(where: { $0.name == name }) { return p }
        let valid = presets.isEmpty ? "variant '\(self.name)' has no presets" : "presets of '\(self.name)': \(presets.map(\.name).joined(separator: ", "))"
        throw VariantError("preset: unknown '\(name)' for variant '\(self.name)'; \(valid)")
    }
}

/// The families of DESIGN.md §4, as results record them.
public enum VariantFamily: String, Sendable, CustomStringConvertible {
    case softmax, sparse, linear, ssm, delta
    public var description: String { rawValue }
}

/// A variant resolved with its parameters: what the study, the theory and the memory axis ask
/// of one instance.
public protocol VariantInstance: Sendable {
    /// A run of the instance in `form` on a backend of `tier`, storing through `recipe`.
    func makeRun(form: String, tier: BackendTier, recipe: Recipe) throws -> SteppedRun
    /// Rows × columns of one head's recurrent state (nil: the variant keeps a cache).
    var stateShape: (rows: Int, cols: Int)? { get }
    /// A constant decay when the variant has one (for the theory).
    var constantDecay: Double? { get }
    /// The gates are the identity (α = 1), so the undecayed law applies.
    var undecayed: Bool { get }
    /// Entries a cache variant holds after `tokens` tokens.
    func cachedTokens(_ tokens: Int) -> Int
    /// Bytes of KV cache per token under `recipe` (nil: no cache).
    func cacheBytesPerToken(recipe: Recipe) -> Double?
}

extension VariantInstance {
    public var stateShape: (rows: Int, cols: Int)? { nil }
    public var constantDecay: Double? { nil }
    public var undecayed: Bool { false }
    public func cachedTokens(_ tokens: Int) -> Int { tokens }
    public func cacheBytesPerToken(recipe: Recipe) -> Double? { nil }
}

/// What a study or budget sets on a variant instance; nil fields keep the definition's defaults.
public struct VariantParameters: Sendable {
    public var preset: String?
    public var keyDim: Int?
    public var valueDim: Int?
    public var headDim: Int?
    /// A constant decay a < 1 (linear attention).
    public var decay: Double?
    /// Which head's gates (and, for Lightning, which layer's).
    public var head: Int?
    public var layer: Int?
    public var seed: UInt64 = 0
    public var distribution: InputDistribution = .gaussian
    /// The positions where cache variants evaluate their outputs (nil: the certification schedule).
    public var schedule: EvaluationSchedule?
    /// Store the decay as log α (true) or α (false); nil: the variant's default.
    public var decayLog: Bool?

    public init(
        preset: String? = nil, keyDim: Int? = nil, valueDim: Int? = nil, headDim: Int? = nil, decay: Double? = nil,
        head: Int? = nil, layer: Int? = nil, seed: UInt64 = 0, distribution: InputDistribution = .gaussian,
        schedule: EvaluationSchedule? = nil, decayLog: Bool? = nil
    ) {
        (self.preset, self.keyDim, self.valueDim, self.headDim, self.decay) = (preset, keyDim, valueDim, headDim, decay)
        (self.head, self.layer, self.seed, self.distribution, self.schedule, self.decayLog) = (head, layer, seed, distribution, schedule, decayLog)
    }
}

/// The shape overrides a variant takes.
public struct VariantOverrides: OptionSet, Sendable {
    public let rawValue: Int
    public init(rawValue: Int) { self.rawValue = rawValue }
    /// `key_dim` and `value_dim`.
    public static let keyValueDims = VariantOverrides(rawValue: 1 << 0)
    /// `head_dim` (square heads, softmax head size).
    public static let headDim = VariantOverrides(rawValue: 1 << 1)
    /// A constant `decay`.
    public static let decay = VariantOverrides(rawValue: 1 << 2)
    /// `head`: which head's gates.
    public static let head = VariantOverrides(rawValue: 1 << 3)
    /// `layer`: which layer's decay schedule.
    public static let layer = VariantOverrides(rawValue: 1 << 4)
}

/// What the serving scenarios need of a variant's runs.
public struct VariantCapabilities: OptionSet, Sendable {
    public let rawValue: Int
    public init(rawValue: Int) { self.rawValue = rawValue }
    /// The recurrent state can be checkpointed and restored (prefix caching, handoff).
    public static let stateCheckpoint = VariantCapabilities(rawValue: 1 << 0)
    /// The decode run can be rewound (speculative decoding on a recurrent state).
    public static let rewind = VariantCapabilities(rawValue: 1 << 1)
    /// Gates whose stored precision matters (α or log α, β).
    public static let gates = VariantCapabilities(rawValue: 1 << 2)
    /// A fixed-memory recurrent baseline for Delethink's equal-memory comparison.
    public static let equalMemory = VariantCapabilities(rawValue: 1 << 3)
    /// A softmax KV cache the KV scenarios (prefix cache, handoff, speculative) drive.
    public static let kvCache = VariantCapabilities(rawValue: 1 << 4)
    /// Full attention over the whole context (Delethink's chunked reasoning).
    public static let fullAttention = VariantCapabilities(rawValue: 1 << 5)
}

/// A named model preset: the public shapes (and gates) of one layer of a model.
public struct VariantPreset: Sendable {
    public let name: String
    public let summary: String
    public init(name: String, summary: String) {
        self.name = name
        self.summary = summary
    }
}

/// The tensors replay reads for a variant (flash-linear-attention's calling convention; an
/// optional leading batch of 1 on every per-token tensor).
public struct ReplayTensorSpec: Sendable {
    public var name: String
    public var shape: String
    public var meaning: String
    public var required: Bool
    /// The input stream of the kernel the tensor feeds (q, k, v, g, beta …).
    public var stream: String

    public init(name: String, shape: String, meaning: String, required: Bool, stream: String? = nil) {
        (self.name, self.shape, self.meaning, self.required) = (name, shape, meaning, required)
        self.stream = stream ?? (name == "gk" ? "g" : name)
    }
}
