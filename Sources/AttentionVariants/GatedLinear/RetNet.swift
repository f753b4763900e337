import Workloads

extension GatedLinearConfig {
    /// RetNet (Sun et al. 2023): S_t = γ_h S_{t−1} + (k_t/√K) v_tᵀ, o_t = S_tᵀ q_t, with
    /// γ_h = 1 − 2^(−5−h) (torchscale's `decay = log(1 − 2^(−5−arange(H)))`; keys scaled by
    /// K^(−1/2) as torchscale does). Head 0 decays fastest (γ = 0.96875); the chunkwise form uses
    /// the decay mask γ^(i−j) = e^{(i−j)·log γ}.
    public static func retnet(keyDim: Int = 64, valueDim: Int = 64, head: Int = 0, heads: Int = 1, seed: UInt64 = 0) -> GatedLinearConfig {
        GatedLinearConfig(kind: .retnet, keyDim: keyDim, valueDim: valueDim, head: head, heads: Swift.max(heads, head + 1), seed: seed,
            decayLog: true)
    }
}
