import ExactArithmetic
import Workloads

/// The gated-linear family: one state S ∈ R^{K×V} per head, a decay, a rank-1 write and a
/// read-out (DESIGN.md §4):
///
///     S_t = Diag(α_t) S_{t−1} + k̃_t v_tᵀ,   o_t = S_tᵀ q̃_t
///
/// | kind | α_t | k̃, v, q̃ |
/// |---|---|---|
/// | `linear` | constant α (or none), optional normaliser z_t and elu+1 feature map | k, v, scale·q |
/// | `retnet` | γ_h = 1 − 2^(−5−h) | scale·k (torchscale scales keys), v, q |
/// | `lightning` | λ = exp(−slope_h·(1 − l/(L−1) + 1e−5)), slope_h = (2^(−8/H))^(h+1) | k, v, q (no scale) |
/// | `gla` | per channel: exp(logsigmoid(x_t)/16) | k, v, scale·q |
/// | `mamba2` | exp(Δ_t·A_h), Δ = softplus(dt + dt_bias), A_h = −exp(A_log) | Δ·B, x, C; y += D·x |
///
/// Gates are computed on the backend from their raw parameters, so every tier evaluates
/// exp/log/softplus in its own arithmetic. Store points: `q`, `k`, `v` on input; `dt` (Mamba2's
/// Δ) and `decay` (α, or log α with `decayLog`) each token; `state` each decode step (in the
/// chunked form: the carried state at each chunk boundary); `chunk_state` the per-chunk copy of
/// S used in Q·S; `output` each token.
public struct GatedLinearConfig: Hashable, Sendable {
    public enum Kind: String, Hashable, Sendable, CaseIterable { case linear, retnet, lightning, gla, mamba2 }
    public enum FeatureMap: String, Hashable, Sendable { case identity, eluPlusOne = "elu+1", silu }
    public typealias OutputSource = LinearAttentionConfig.OutputSource

    public var kind: Kind
    public var keyDim: Int
    public var valueDim: Int
    public var head: Int
    /// Heads and layers of the model (Lightning's slope schedule depends on them).
    public var heads: Int
    public var layer: Int
    public var layers: Int
    public var seed: UInt64
    public var distribution: InputDistribution
    /// `linear`: `.none` or `.constant(α)`; `mamba2`: `.mamba(...)`; ignored by the others.
    public var gates: GateSchedule
    /// GLA: per-channel bias of the gate logits, spread linearly over this range (channel 0 at
    /// the lower end, the strongest decay); per-token logits are bias + N(0,1).
    public var glaBias: ClosedRange<Double>
    /// GLA's `gate_logit_normalizer` (16 in FLA's GLA layer).
    public var glaNormalizer: Double
    /// Linear attention's normaliser z_t = α z_{t−1} + φ(k_t), o = Sᵀq / zᵀq.
    public var normalizer: Bool
    public var featureMap: FeatureMap
    /// nil: the variant's own (K^(−1/2) for linear, RetNet, GLA; 1 for Lightning and Mamba2).
    public var scale: Double?
    /// Store log α instead of α under the `decay` role (what GDN/KDA/Mamba2 kernels pass).
    /// The model presets (`retnet`, `lightning`, `gla`, `mamba2`) set it: their reference code
    /// keeps the decay as a log (torchscale's `decay`, MiniMax's slope, FLA's `gk`, Mamba's
    /// `dt·A`); set it to false to study a kernel that stores α itself (the bf16 trap).
    public var decayLog: Bool
    /// Mamba2's skip coefficient D (1 at initialisation).
    public var skip: Double
    /// Chunk length of the chunked form.
    public var chunkSize: Int
    /// The sequence length, when known: the chunked form then ends with a shorter tail chunk
    /// instead of a full one.
    public var length: Int?
    public var outputFrom: OutputSource
    /// Decode: use the backend's one-pass step for scalar decays (bit-identical).
    public var fused: Bool
    /// Replayed inputs instead of generated ones: streams q, k, v (Mamba2: C, B, x), `g` (GLA:
    /// the per-channel log decay itself) or `dt` (Mamba2: raw dt, before dt_bias and softplus);
    /// Mamba2's per-head `A_log` and `dt_bias` (Lightning: `slope_rate`) as constants.
    public var replay: ReplayInputs?
    /// The head whose q and k this head reads (Mamba2's B/C groups); nil: `head`.
    public var keyHead: Int?

    public init(
        kind: Kind, keyDim: Int = 64, valueDim: Int = 64, head: Int = 0, heads: Int = 1, layer: Int = 0, layers: Int = 1,
        seed: UInt64 = 0, distribution: InputDistribution = .gaussian, gates: GateSchedule = .none,
        glaBias: ClosedRange<Double> = -4...6, glaNormalizer: Double = 16, normalizer: Bool = false,
        featureMap: FeatureMap = .identity, scale: Double? = nil, decayLog: Bool = false, skip: Double = 1,
        chunkSize: Int = 64, length: Int? = nil, outputFrom: OutputSource = .registers, fused: Bool = true
    ) {
        self.kind = kind
        self.keyDim = keyDim
        self.valueDim = valueDim
        self.head = head
        self.heads = heads
        self.layer = layer
        self.layers = layers
        self.seed = seed
        self.distribution = distribution
        self.gates = gates
        self.glaBias = glaBias
        self.glaNormalizer = glaNormalizer
        self.normalizer = normalizer
        self.featureMap = featureMap
        self.scale = scale
        self.decayLog = decayLog
        self.skip = skip
        self.chunkSize = chunkSize
        self.length = length
        self.outputFrom = outputFrom
        self.fused = fused
    }

    /// The roles of every variant of the family.
    public static let roles: [Role] = [.q, .k, .v, .decay, .state, .chunkState, .attn, .qDecayed, .kDecayed, .output]
    public static let mamba2Roles: [Role] = [.q, .k, .v, .dt, .decay, .state, .chunkState, .output]

    /// The configuration of linear attention's chunked form with the same workload as `c`.
    public init(linear c: LinearAttentionConfig, chunkSize: Int = 64, length: Int? = nil) {
        self.init(
            kind: .linear, keyDim: c.keyDim, valueDim: c.valueDim, head: c.head, seed: c.seed,
            distribution: c.distribution, gates: c.gates, normalizer: c.normalizer,
            featureMap: c.featureMap == .eluPlusOne ? .eluPlusOne : .identity, scale: c.scale,
            chunkSize: chunkSize, length: length, outputFrom: c.outputFrom)
        replay = c.replay
    }

    /// Where a token's decay comes from, resolved once per run.
    enum Gate: Hashable {
        case none
        /// A constant α given as a value (linear, RetNet).
        case value(Double)
        /// A constant log α given as a value (Lightning: −slope·(1 − l/(L−1) + 1e−5)).
        case logValue(Double)
        /// GLA: per-channel logits, log α = logsigmoid(x)/normalizer.
        case glaLogits
        /// GLA replayed: the per-channel log α itself.
        case glaLog
        /// Mamba2: (A_log, dt_bias) of the head; per-token raw dt.
        case mamba(aLog: Double, dtBias: Double)

        var isConstant: Bool {
            switch self {
            case .value, .logValue: return true
            default: return false
            }
        }
        var perChannel: Bool { self == .glaLogits || self == .glaLog }
        /// Raw gate values read per token.
        func rawCount(keyDim: Int) -> Int {
            switch self {
            case .glaLogits, .glaLog: return keyDim
            case .mamba: return 1
            default: return 0
            }
        }
    }

    var gate: Gate {
        switch kind {
        case .linear:
            if let a = gates.constantDecay(head: head), a != 1 { return .value(a) }
            return .none
        case .retnet:
            return .value(GateSchedule.retnet.constantDecay(head: head)!)
        case .lightning:
            // Replayed: MiniMax's per-head `slope_rate` (after the layer factor), λ = exp(−slope_rate).
            if let s = replay?.constants["slope_rate"] { return .logValue(-s.element(head)) }
            return .logValue(lightningLogDecay(head: head, heads: heads, layer: layer, layers: layers))
        case .gla:
            return replay?["g"] != nil ? .glaLog : .glaLogits
        case .mamba2:
            if let r = replay, let a = r.constants["A_log"] {
                return .mamba(aLog: a.element(head), dtBias: r.constants["dt_bias"]?.element(head) ?? 0)
            }
            let p = gates.rawParameters(seed: seed, head: head) ?? GateSchedule.mamba().rawParameters(seed: seed, head: head)!
            return .mamba(aLog: p.aLog, dtBias: p.dtBias)
        }
    }

    var defaultScale: Double? {
        switch kind {
        case .linear, .retnet, .gla: return nil  // K^(−1/2)
        case .lightning, .mamba2: return 1
        }
    }

    /// Throws a one-line `VariantError` naming the offending field.
    public func validate() throws {
        func fail(_ s: String) throws -> Never { throw VariantError("\(kind.rawValue): \(s)") }
        if keyDim < 1 || keyDim > 4096 { try fail("key_dim must be in 1...4096, got \(keyDim)") }
        if valueDim < 1 || valueDim > 4096 { try fail("value_dim must be in 1...4096, got \(valueDim)") }
        if chunkSize < 1 || chunkSize > 4096 { try fail("chunk_size must be in 1...4096, got \(chunkSize)") }
        if let length, length < 1 { try fail("length must be positive, got \(length)") }
        if heads < 1 || head < 0 || head >= heads { try fail("head must be in 0..<heads (\(heads)), got \(head)") }
        if layers < 1 || layer < 0 || layer >= layers { try fail("layer must be in 0..<layers (\(layers)), got \(layer)") }
        if let scale, !(scale.isFinite && scale > 0) { try fail("scale must be finite and positive, got \(scale)") }
        if !skip.isFinite { try fail("skip D must be finite, got \(skip)") }
        if normalizer && kind != .linear { try fail("normalizer exists only for linear attention") }
        switch kind {
        case .linear:
            switch gates {
            case .none: break
            case .constant(let a):
                if !(a > 0 && a <= 1) { try fail("decay must be in (0, 1], got \(a)") }
            default: try fail("gates must be none or constant(α) (use gla/mamba2 for data-dependent gates), got \(gates)")
            }
        case .gla:
            if !(glaBias.lowerBound.isFinite && glaBias.upperBound.isFinite) { try fail("gla_bias must be finite") }
            if !(glaNormalizer.isFinite && glaNormalizer > 0) { try fail("gate_logit_normalizer must be finite and positive, got \(glaNormalizer)") }
        case .mamba2:
            if case .mamba(let a0, let a1, let d0, let d1) = gates {
                if !(a0 > 0 && a0 <= a1 && a1.isFinite) { try fail("A range must satisfy 0 < A_min ≤ A_max, got \(a0)...\(a1)") }
                if !(d0 > 0 && d0 <= d1 && d1.isFinite) { try fail("dt range must satisfy 0 < dt_min ≤ dt_max, got \(d0)...\(d1)") }
            } else if gates != .none {
                try fail("gates must be mamba(...), got \(gates)")
            }
        case .retnet, .lightning: break
        }
    }
}

/// One token's raw inputs: what `step(inputs:)` takes when inputs are given rather than
/// generated (replay of real tensors). `gate`: GLA's K logits or Mamba2's raw dt (before
/// `dt_bias` and softplus); empty for constant gates.
public struct GatedTokenInputs: Sendable {
    public var q: [Double], k: [Double], v: [Double], gate: [Double]
    public init(q: [Double], k: [Double], v: [Double], gate: [Double] = []) {
        self.q = q
        self.k = k
        self.v = v
        self.gate = gate
    }
}

/// The counter-based generators of one head's inputs (streams q, k, v, gate).
struct GatedInputSource {
    let q: InputGenerator, k: InputGenerator, v: InputGenerator, gate: InputGenerator?
    let head: Int
    /// The head whose q and k rows are read.
    let keyHead: Int
    let bias: [Double]

    init(_ c: GatedLinearConfig) {
        head = c.head
        keyHead = c.keyHead ?? c.head
        let r = c.replay
        q = InputGenerator(seed: c.seed, stream: "q", dimension: c.keyDim, distribution: c.distribution).replaying(r?["q"])
        k = InputGenerator(seed: c.seed, stream: "k", dimension: c.keyDim, distribution: c.distribution).replaying(r?["k"])
        v = InputGenerator(seed: c.seed, stream: "v", dimension: c.valueDim, distribution: c.distribution).replaying(r?["v"])
        let g = c.gate
        let n = g.rawCount(keyDim: c.keyDim)
        gate = n > 0 ? InputGenerator(seed: c.seed, stream: "gate", dimension: n).replaying(r?[c.kind == .mamba2 ? "dt" : "g"]) : nil
        if g == .glaLogits {
            let lo = c.glaBias.lowerBound, hi = c.glaBias.upperBound, K = c.keyDim
            bias = (0..<K).map { Double(Float(lo + (hi - lo) * Double($0) / Double(Swift.max(K - 1, 1)))) }
        } else {
            bias = []
        }
    }

    /// Raw gate row of position t (GLA: bias + N(0,1), Float32-representable; Mamba2: N(0,1)).
    func fillGate(_ out: UnsafeMutableBufferPointer<Double>, position t: Int) {
        guard let gate else { return }
        gate.fill(out, head: head, position: t)
        if gate.replay != nil { return }
        for i in 0..<bias.count { out[i] = Double(Float(out[i] + bias[i])) }
    }
}
