import ExactArithmetic
import Workloads

/// Linear attention (Katharopoulos et al. 2020), decode form:
/// S_t = α S_{t−1} + φ(k_t) v_tᵀ, o_t = S_tᵀ (scale·φ(q_t)), optionally divided by the
/// normaliser z_tᵀ(scale·φ(q_t)) with z_t = α z_{t−1} + φ(k_t).
///
/// The template every recurrent variant follows: a configuration (shapes, gates, workload), and
/// one decode step written once against `Backend`, run unchanged on MPFR, Float64,
/// double-double and Float32. Store points (roles q, k, v, state, output) are applied by the
/// recipe. The output is read from the in-register state before it is stored (FLA/vLLM);
/// `outputFrom: .stored` reads the rounded state instead.
public struct LinearAttentionConfig: Hashable, Sendable {
    public enum FeatureMap: String, Hashable, Sendable { case identity, eluPlusOne = "elu+1" }
    public enum OutputSource: String, Hashable, Sendable { case registers, stored }

    public var keyDim: Int
    public var valueDim: Int
    public var head: Int
    public var seed: UInt64
    public var distribution: InputDistribution
    public var gates: GateSchedule
    public var normalizer: Bool
    public var featureMap: FeatureMap
    /// nil: K^(−1/2), computed by the backend.
    public var scale: Double?
    public var outputFrom: OutputSource
    /// Use the backend's one-pass decode step (bit-identical to the three-call definition).
    public var fused: Bool
    /// Replace the generated keys by orthonormal ones: k_t = row (t mod K) of the Sylvester
    /// Hadamard matrix / √K (K a power of two). With no decay the state is then Σ k vᵀ with
    /// every product exact — a closed-form case.
    public var orthonormalKeys: Bool
    /// Replayed inputs (streams q, k, v; head = `head`) instead of generated ones.
    public var replay: ReplayInputs?

    public init(
        keyDim: Int = 64, valueDim: Int = 64, head: Int = 0, seed: UInt64 = 0,
        distribution: InputDistribution = .gaussian, gates: GateSchedule = .none,
        normalizer: Bool = false, featureMap: FeatureMap = .identity, scale: Double? = nil,
        outputFrom: OutputSource = .registers, fused: Bool = true, orthonormalKeys: Bool = false
    ) {
        self.keyDim = keyDim
        self.valueDim = valueDim
        self.head = head
        self.seed = seed
        self.distribution = distribution
        self.gates = gates
        self.normalizer = normalizer
        self.featureMap = featureMap
        self.scale = scale
        self.outputFrom = outputFrom
        self.fused = fused
        self.orthonormalKeys = orthonormalKeys
    }

    public static let roles: [Role] = [.q, .k, .v, .state, .output]
}
