import ExactArithmetic
import NumberFormats
import Workloads

/// Multi-head softmax attention decoding with a growing KV cache: MHA, GQA, MQA, and SWA with
/// sink tokens and a GPT-OSS sink logit (DESIGN.md §4).
///
/// Per token t every KV head appends k_t, v_t to its cache (store point: roles `k_cache`,
/// `v_cache`, once per entry). At an evaluated position (`EvaluationSchedule`) each query head
/// h of KV group g computes q̃ = scale·q_t once (scaled q, as kernels do), then streams the
/// selected keys s in ascending order through an online softmax (running max, sum and
/// accumulator at the backend's precision; `OnlineSoftmax`): score = q̃·k_s as an fma chain,
/// m ← max(m, score), l ← l·e^{m_old−m} + e^{score−m}, acc ← acc·e^{m_old−m} + e^{score−m}·v_s;
/// an optional sink logit joins the denominator only; o = acc / l (store point: `output`).
///
/// Exact keys and values are regenerated from the counter-based inputs whenever they are read;
/// only a quantized cache keeps codes (`QuantizedRows`). Query heads of one group share each
/// key load; per head the operation sequence is that of MHA, so GQA with repeated KV heads is
/// bit-identical to MHA.
public struct SoftmaxAttentionConfig: Hashable, Sendable {
    /// Closed-form workloads for tests.
    public enum ClosedForm: Hashable, Sendable {
        /// Every key equals position 0's key: the output is the mean of the values.
        case identicalKeys
        /// The query is position 0's query at every position, and the key at `position` is
        /// `factor`·q: its score dominates and the output is that value.
        case spike(position: Int, factor: Double)
    }

    public var queryHeads: Int
    public var kvHeads: Int
    public var headDim: Int
    public var valueDim: Int
    /// SWA window W: keys in [t−W+1, t] (plus the sink tokens).
    public var window: Int?
    /// The first n tokens stay visible to every query (StreamingLLM sinks).
    public var sinkTokens: Int
    /// GPT-OSS-style sink logit added to the denominator only.
    public var sinkLogit: Double?
    /// nil: headDim^(−1/2), computed by the backend.
    public var scale: Double?
    public var seed: UInt64
    public var distribution: InputDistribution
    /// The keys' distribution when it differs (e.g. channel outliers).
    public var keyDistribution: InputDistribution?
    public var evaluation: EvaluationSchedule
    /// Every KV head reads KV head 0's inputs (MHA with repeated heads, for tests).
    public var repeatedKV: Bool
    public var closedForm: ClosedForm?
    /// Replayed inputs (streams q [T, queryHeads, d], k and v [T, kvHeads, ·]) instead of generated ones.
    public var replay: ReplayInputs?

    public init(
        queryHeads: Int = 1, kvHeads: Int = 1, headDim: Int = 64, valueDim: Int? = nil, window: Int? = nil,
        sinkTokens: Int = 0, sinkLogit: Double? = nil, scale: Double? = nil, seed: UInt64 = 0,
        distribution: InputDistribution = .gaussian, keyDistribution: InputDistribution? = nil,
        evaluation: EvaluationSchedule = .certification, repeatedKV: Bool = false, closedForm: ClosedForm? = nil
    ) {
        self.queryHeads = queryHeads
        self.kvHeads = kvHeads
        self.headDim = headDim
        self.valueDim = valueDim ?? headDim
        self.window = window
        self.sinkTokens = sinkTokens
        self.sinkLogit = sinkLogit
        self.scale = scale
        self.seed = seed
        self.distribution = distribution
        self.keyDistribution = keyDistribution
        self.evaluation = evaluation
        self.repeatedKV = repeatedKV
        self.closedForm = closedForm
    }

    public static let roles: [Role] = [.q, .k, .v, .kCache, .vCache, .output]
    /// Compute store points of the decode kernel: the scaled scores and the probabilities P
    /// before P·V (FlashAttention keeps P in the input dtype).
    public static let computeRoles: [Role] = [.scores, .p]

    /// Bad shapes as one-line errors naming the field.
    public func validate() throws {
        guard queryHeads >= 1 else { throw VariantError("query_heads: expected ≥ 1, got \(queryHeads)") }
        guard kvHeads >= 1 else { throw VariantError("kv_heads: expected ≥ 1, got \(kvHeads)") }
        guard queryHeads % kvHeads == 0 else {
            throw VariantError("kv_heads: \(kvHeads) does not divide query_heads \(queryHeads)")
        }
        guard (1...65536).contains(headDim) else { throw VariantError("head_dim: expected 1...65536, got \(headDim)") }
        guard (1...65536).contains(valueDim) else { throw VariantError("value_dim: expected 1...65536, got \(valueDim)") }
        if let w = window, w <= 0 { throw VariantError("window: expected ≥ 1, got \(w)") }
        guard sinkTokens >= 0 else { throw VariantError("sink_tokens: expected ≥ 0, got \(sinkTokens)") }
        if let s = sinkLogit, !s.isFinite { throw VariantError("sink_logit: expected a finite number") }
        if let s = scale, !(s.isFinite && s > 0) { throw VariantError("scale: expected a positive finite number") }
    }

    /// Cache bytes per token (all KV heads) under `recipe` (compute precision: 4-byte floats).
    public func cacheBytesPerToken(recipe: Recipe) -> Double {
        func bytes(_ role: Role, _ width: Int) -> Double {
            guard let q = recipe[role] else { return 4 * Double(width) }
            if let f = q as? FormatSpec { return f.cacheBitsPerElement(width: width) * Double(width) / 8 }
            return 4 * Double(width)
        }
        return Double(kvHeads) * (bytes(.kCache, headDim) + bytes(.vCache, valueDim))
    }
}
