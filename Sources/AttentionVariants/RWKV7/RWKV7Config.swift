import ExactArithmetic
import Workloads

/// RWKV-7 "Goose" (x070), one head, decode form — the diagonal-plus-low-rank state update
///
///     S_t = (Diag(w_t) − (κ̂_t ⊙ a_t) κ̂_tᵀ) S_{t−1} + k'_t v_tᵀ,   o_t = S_tᵀ r_t   (no scale)
///
/// in our K×V layout (RWKV's code holds the transpose, V×K). Gates from raw parameters as the
/// x070 inference code computes them: w = exp(−0.606531·σ(w_raw)) ∈ (0.545, 1) (the same as the
/// training form exp(−exp(−softplus(−w_raw) − 0.5))), a = σ(a_raw), κ̂ = normalize(k ⊙ k_k),
/// k' = k ⊙ (1 + (a − 1)·k_a). Raw w = per-channel bias (linear over `decayBias`) + N(0,1);
/// raw a ~ N(0,1).
///
/// Step order as the CUDA kernel `wkv7` (per state element `s = s·w + sa·b + k·v`, read as
/// s·w rounded, then two fused terms): sa = Sᵀ(−κ̂); S ← Diag(w) S; S ← S + (κ̂⊙a) saᵀ;
/// S ← S + k' vᵀ; o = Sᵀ r. Store points: `q` (r), `k`, `v` on input, `decay` (w, or log w with
/// `decayLog`), `state`, `output` (and `chunk_state` in the chunked form).
///
/// The chunked form is `RWKV7Chunked` (generalized delta rule with a forward-substitution
/// inverse).
public struct RWKV7Config: Hashable, Sendable {
    public var headDim: Int
    public var head: Int
    public var seed: UInt64
    public var distribution: InputDistribution
    /// Per-channel bias of the raw decay logits: channel 0 at the lower end (w ≈ 0.9985, near
    /// 1), the last at the upper end (w ≈ 0.55, strong).
    public var decayBias: ClosedRange<Double>
    public var kk: Double
    public var ka: Double
    public var decayLog: Bool
    public var outputFrom: LinearAttentionConfig.OutputSource
    /// Replayed inputs in flash-linear-attention's convention (`fused_recurrent_rwkv7`): streams
    /// `q` (r), `w` (log decay), `k` (k' — already mixed with a), `v`, `a` (−κ̂) and `b` (κ̂⊙a),
    /// used as given (decode form only): S ← Diag(exp w) S + b (Sᵀa)ᵀ + k vᵀ, o = Sᵀ r.
    public var replay: ReplayInputs?

    public init(
        headDim: Int = 64, head: Int = 0, seed: UInt64 = 0, distribution: InputDistribution = .gaussian,
        decayBias: ClosedRange<Double> = -6...4, kk: Double = 0.85, ka: Double = 1, decayLog: Bool = false,
        outputFrom: LinearAttentionConfig.OutputSource = .registers
    ) {
        self.headDim = headDim
        self.head = head
        self.seed = seed
        self.distribution = distribution
        self.decayBias = decayBias
        self.kk = kk
        self.ka = ka
        self.decayLog = decayLog
        self.outputFrom = outputFrom
    }

    public static let roles: [Role] = [.q, .k, .v, .decay, .state, .chunkState, .output]

    public func validate() throws {
        if headDim < 1 || headDim > 4096 { throw VariantError("rwkv7: head_dim must be in 1...4096, got \(headDim)") }
        if !(decayBias.lowerBound.isFinite && decayBias.upperBound.isFinite) { throw VariantError("rwkv7: decay_bias must be finite") }
        if !(kk.isFinite && kk != 0) { throw VariantError("rwkv7: k_k must be finite and nonzero, got \(kk)") }
        if !ka.isFinite { throw VariantError("rwkv7: k_a must be finite, got \(ka)") }
    }
}
