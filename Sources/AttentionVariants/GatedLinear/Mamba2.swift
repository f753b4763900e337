import Workloads

extension GatedLinearConfig {
    /// Mamba2-2.7B's shapes and gate initialisation (`ModelFacts.mamba2_2_7B`): 80 heads of
    /// P = 64, d_state N = 128; A_init_range (1, 16), dt in [0.001, 0.1].
    public static let mamba2Heads = ModelFacts.mamba2_2_7B.ssm!.heads
    public static let mamba2HeadDim = ModelFacts.mamba2_2_7B.ssm!.headDim
    public static let mamba2StateDim = ModelFacts.mamba2_2_7B.ssm!.stateDim
    public static let mamba2Gates: GateSchedule = {
        let f = ModelFacts.mamba2_2_7B.ssm!
        return .mamba(aMin: f.aRange.lowerBound, aMax: f.aRange.upperBound, dtMin: f.dtRange.lowerBound, dtMax: f.dtRange.upperBound)
    }()

    /// Mamba2 (SSD, Dao & Gu 2024), one head: H_t = exp(Δ_t A_h) H_{t−1} + Δ_t x_t B_tᵀ,
    /// y_t = H_t C_t + D x_t, with Δ = softplus(dt + dt_bias), A_h = −exp(A_log) — held here as
    /// S = Hᵀ (N×P), i.e. gated linear attention with q = C, k = Δ·B, v = x, log α = Δ·A.
    /// Raw A_log and dt_bias from Mamba's initialisation (`GateSchedule.mamba`), per-token dt
    /// ~ N(0,1); D = 1. Roles add `dt` (Δ after softplus).
    public static func mamba2(
        head: Int = 0, headDim: Int = mamba2HeadDim, stateDim: Int = mamba2StateDim,
        gates: GateSchedule = mamba2Gates, seed: UInt64 = 0
    ) -> GatedLinearConfig {
        GatedLinearConfig(
            kind: .mamba2, keyDim: stateDim, valueDim: headDim, head: head, heads: Swift.max(mamba2Heads, head + 1),
            seed: seed, gates: gates, decayLog: true)
    }
}
