import ExactArithmetic
import Foundation
import Workloads

/// The delta-rule family (DESIGN.md §4): DeltaNet, Gated DeltaNet (Qwen3-Next), KDA (Kimi
/// Linear).
///
///     DeltaNet:        S_t = (I − β_t k_t k_tᵀ) S_{t−1} + β_t k_t v_tᵀ
///     Gated DeltaNet:  S_t = α_t (I − β_t k_t k_tᵀ) S_{t−1} + β_t k_t v_tᵀ,  α_t = exp(g_t) scalar
///     KDA:             S_t = (I − β_t k_t k_tᵀ) Diag(α_t) S_{t−1} + β_t k_t v_tᵀ,  α_t ∈ (0,1]^K
///     o_t = S_tᵀ (scale · q_t),  q, k L2-normalised in the kernel (eps 1e−6 inside the sqrt)
///
/// Gates come from raw parameters as the models compute them: g = −exp(A_log)·softplus(a + dt_bias)
/// (KDA per channel, dt_bias per channel; with the safe gate g = lower·sigmoid(exp(A_log)·(a + dt_bias)),
/// lower = −5), β = sigmoid(b) (2·sigmoid(b) with negative eigenvalues allowed).
public enum DeltaKind: String, CaseIterable, Hashable, Sendable {
    case deltanet
    case gatedDeltaNet = "gated_deltanet"
    case kda

    /// Whether the decay is one value per channel (KDA) rather than one per token.
    public var perChannelGate: Bool { self == .kda }
    public var hasGate: Bool { self != .deltanet }
}

/// Where the decays of a delta-rule run come from.
public enum DeltaGates: Hashable, Sendable, CustomStringConvertible {
    /// No decay (DeltaNet).
    case none
    /// The same α ∈ (0, 1] for every token (and channel).
    case constant(Double)
    /// Model gates from raw parameters: A = exp(A_log) with A ~ U(aMin, aMax) per head; dt_bias
    /// = softplus⁻¹(dt), dt log-uniform in [dtMin, dtMax] (per head for GDN, per channel for KDA;
    /// Mamba's initialisation, which Qwen3-Next and Kimi Linear reuse); per-token logits
    /// a_t ~ N(0, 1) from stream "gate".
    case model(aMin: Double = 1, aMax: Double = 16, dtMin: Double = 0.001, dtMax: Double = 0.1)

    /// Strong decays: α from ≈ 0.2 to ≈ 0.99.
    public static let strong = DeltaGates.model(aMin: 1, aMax: 16, dtMin: 0.01, dtMax: 0.1)
    /// Decays nearly 1: α ≈ 0.9999 … 0.99999 (bf16 cannot hold them: they round to 1).
    public static let nearlyOne = DeltaGates.model(aMin: 1, aMax: 1.5, dtMin: 1e-5, dtMax: 1e-4)

    public var description: String {
        switch self {
        case .none: return "none"
        case .constant(let a): return "constant(\(a))"
        case .model(let a0, let a1, let d0, let d1): return "model(A=\(a0)..\(a1),dt=\(d0)..\(d1))"
        }
    }
}

/// How β is produced.
public enum DeltaBeta: Hashable, Sendable {
    /// β = sigmoid(b_t), b_t ~ N(0, 1) from stream "beta"; `negativeEigenvalues` doubles it (β ∈ (0, 2)).
    case sigmoid(negativeEigenvalues: Bool = false)
    /// The same β for every token: in (0, 1], or (0, 2) with negative eigenvalues allowed.
    case constant(Double, negativeEigenvalues: Bool = false)
}

public struct DeltaRuleConfig: Hashable, Sendable {
    public var kind: DeltaKind
    public var keyDim: Int
    public var valueDim: Int
    /// The value head: v, the gates and β are generated for it.
    public var head: Int
    /// The key head whose q and k this head reads (GQA-style sharing, Qwen3-Next: 16 key heads
    /// for 32 value heads); nil: `head`.
    public var keyHead: Int?
    public var seed: UInt64
    public var distribution: InputDistribution
    public var gates: DeltaGates
    public var beta: DeltaBeta
    /// KDA's safe gate: g = lower·sigmoid(exp(A_log)·(a + dt_bias)) ∈ [lower, 0).
    public var safeGate: Bool
    public var safeGateLowerBound: Double
    /// The `decay` role stores log α (what GDN/KDA kernels pass: never rounds to α = 1) when
    /// true, α itself when false.
    public var decayLog: Bool
    /// nil: K^(−1/2).
    public var scale: Double?
    /// L2-normalise q and k in the kernel (FLA's use_qk_l2norm_in_kernel).
    public var l2NormalizeQK: Bool
    public var outputFrom: LinearAttentionConfig.OutputSource
    /// Keys k_t = row (t mod K) of the Sylvester Hadamard matrix / √K (K a power of two).
    public var orthonormalKeys: Bool
    /// Chunk length C of the chunked form.
    public var chunkSize: Int
    /// Total length of a chunked run, so the last chunk can be shorter than C (nil: every
    /// chunk has C tokens).
    public var tokens: Int?
    /// Replayed inputs instead of generated ones (FLA's convention): streams q, k (key head
    /// `keyHead`), v, `g` (log α: 1 value per token, K for KDA) and `beta` (β itself) of value
    /// head `head`; the decay is then exp(g), not recomputed from raw parameters.
    public var replay: ReplayInputs?

    public init(
        kind: DeltaKind = .gatedDeltaNet, keyDim: Int = 64, valueDim: Int = 64, head: Int = 0, seed: UInt64 = 0,
        distribution: InputDistribution = .gaussian, gates: DeltaGates? = nil, beta: DeltaBeta = .sigmoid(),
        safeGate: Bool = false, safeGateLowerBound: Double = -5, decayLog: Bool = true, scale: Double? = nil,
        l2NormalizeQK: Bool = true, outputFrom: LinearAttentionConfig.OutputSource = .registers,
        orthonormalKeys: Bool = false, chunkSize: Int = 64, tokens: Int? = nil, keyHead: Int? = nil
    ) {
        self.keyHead = keyHead
        self.kind = kind
        self.keyDim = keyDim
        self.valueDim = valueDim
        self.head = head
        self.seed = seed
        self.distribution = distribution
        self.gates = gates ?? (kind == .deltanet ? .none : .model())
        self.beta = beta
        self.safeGate = safeGate
        self.safeGateLowerBound = safeGateLowerBound
        self.decayLog = decayLog
        self.scale = scale
        self.l2NormalizeQK = l2NormalizeQK
        self.outputFrom = outputFrom
        self.orthonormalKeys = orthonormalKeys
        self.chunkSize = chunkSize
        self.tokens = tokens
    }

    public static let roles: [Role] = [.q, .k, .v, .state, .chunkState, .vNew, .triInverse, .attn, .w, .u, .qDecayed, .kDecayed, .decay, .beta, .output]
    public static let recurrentRoles: [Role] = [.q, .k, .v, .state, .decay, .beta, .output]

    /// Checks every field; the error names the field and what was expected.
    public func validate() throws {
        guard (1...4096).contains(keyDim) else { throw VariantError("key_dim: expected 1...4096, got \(keyDim)") }
        guard (1...4096).contains(valueDim) else { throw VariantError("value_dim: expected 1...4096, got \(valueDim)") }
        guard head >= 0 else { throw VariantError("head: expected ≥ 0, got \(head)") }
        if let kh = keyHead, kh < 0 { throw VariantError("key_head: expected ≥ 0, got \(kh)") }
        guard (1...4096).contains(chunkSize) else { throw VariantError("chunk_size: expected 1...4096, got \(chunkSize)") }
        if let t = tokens, t < 1 { throw VariantError("tokens: expected ≥ 1, got \(t)") }
        if orthonormalKeys && keyDim & (keyDim - 1) != 0 {
            throw VariantError("orthonormal_keys: need a power-of-two key_dim, got \(keyDim)")
        }
        switch gates {
        case .none:
            if kind.hasGate { throw VariantError("gates: \(kind.rawValue) needs a decay (constant or model), got none") }
        case .constant(let a):
            if kind == .deltanet { throw VariantError("gates: deltanet has no decay, got constant(\(a))") }
            guard a > 0 && a <= 1 else { throw VariantError("decay: expected α in (0, 1], got \(a)") }
        case .model(let a0, let a1, let d0, let d1):
            if kind == .deltanet { throw VariantError("gates: deltanet has no decay, got \(gates)") }
            guard a0 > 0 && a1 >= a0 && a1.isFinite else { throw VariantError("gates: expected 0 < a_min ≤ a_max, got \(a0)..\(a1)") }
            guard d0 > 0 && d1 >= d0 && d1.isFinite else { throw VariantError("gates: expected 0 < dt_min ≤ dt_max, got \(d0)..\(d1)") }
        }
        switch beta {
        case .sigmoid: break
        case .constant(let b, let negative):
            guard b > 0 && (negative ? b < 2 : b <= 1) else {
                throw VariantError("beta: expected β in \(negative ? "(0, 2) (negative eigenvalues allowed)" : "(0, 1]"), got \(b)")
            }
        }
        if safeGate {
            guard kind == .kda else { throw VariantError("safe_gate: only kda has the safe gate") }
            guard safeGateLowerBound < 0 && safeGateLowerBound.isFinite else {
                throw VariantError("safe_gate_lower_bound: expected a finite negative value, got \(safeGateLowerBound)")
            }
        }
        if let s = scale, !(s.isFinite && s > 0) { throw VariantError("scale: expected a finite positive value, got \(s)") }
    }

    /// Number of gate values per token: 0 (no decay), 1 (GDN) or K (KDA).
    public var gateWidth: Int {
        if case .none = gates { return 0 }
        return kind.perChannelGate ? keyDim : 1
    }
}
