extension GatedLinearConfig {
    /// Gated Linear Attention (Yang et al. 2024): S_t = Diag(α_t) S_{t−1} + k_t v_tᵀ,
    /// o_t = S_tᵀ(q_t/√K), α_t = exp(logsigmoid(x_t)/16) per key channel (FLA's GLA layer,
    /// `gate_logit_normalizer = 16`). Synthetic logits x_t = bias_c + N(0,1) with the bias spread
    /// over `bias` (default −4…6: α from ≈0.78 to ≈0.9998).
    public static func gla(keyDim: Int = 64, valueDim: Int = 64, head: Int = 0, bias: ClosedRange<Double> = -4...6, seed: UInt64 = 0) -> GatedLinearConfig {
        GatedLinearConfig(kind: .gla, keyDim: keyDim, valueDim: valueDim, head: head, seed: seed, glaBias: bias, decayLog: true)
    }
}
