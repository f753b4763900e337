import Workloads

extension GatedLinearDefinition {
    /// Mamba2 (SSD): one head of Mamba2-2.7B by default (N × P = 128 × 64); `head:` picks
    /// which head's A and dt_bias.
    public static let mamba2 = GatedLinearDefinition(
        name: "mamba2", family: .ssm, roles: GatedLinearConfig.mamba2Roles,
        math: "h_t = exp(Δ_t A) h_{t−1} + Δ_t B_t x_tᵀ, y_t = h_tᵀ C_t + D x_t, Δ = softplus(dt + dt_bias)",
        presets: [VariantPreset(name: ModelFacts.mamba2_2_7B.name, summary: ModelFacts.mamba2_2_7B.ssm!.summary)],
        overrides: [.keyValueDims, .head], capabilities: [.stateCheckpoint, .gates],
        replayTensors: [
            ReplayTensorSpec(name: "x", shape: "[T, H, P]", meaning: "inputs (the values)", required: true, stream: "v"),
            ReplayTensorSpec(name: "dt", shape: "[T, H]", meaning: "raw dt: Δ = softplus(dt + dt_bias)", required: true),
            ReplayTensorSpec(name: "A_log", shape: "[H]", meaning: "A = −exp(A_log); decay exp(Δ·A)", required: true),
            ReplayTensorSpec(name: "B", shape: "[T, G, N]", meaning: "input projections (the keys); G groups dividing H", required: true, stream: "k"),
            ReplayTensorSpec(name: "C", shape: "[T, G, N]", meaning: "output projections (the queries)", required: true, stream: "q"),
            ReplayTensorSpec(name: "D", shape: "[H]", meaning: "skip: y += D·x (optional; 0 when absent)", required: false),
            ReplayTensorSpec(name: "dt_bias", shape: "[H]", meaning: "optional; 0 when absent (dt already biased)", required: false),
            ReplayTensorSpec(name: "initial_state", shape: "[H, N, P]", meaning: "state before position 0 (optional; zero when absent)", required: false),
        ],
        configure: { p in .mamba2(head: p.head ?? 0) }, defaultDecay: nil)
}
