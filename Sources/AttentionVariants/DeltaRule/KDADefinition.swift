extension DeltaDefinition {
    /// Kimi Delta Attention (Kimi Linear): a per-channel decay.
    public static let kda = DeltaDefinition(
        kind: .kda, math: "S_t = (I − β_t k_t k_tᵀ) Diag(α_t) S_{t−1} + β_t k_t v_tᵀ, α_t = exp(g_t) ∈ (0,1]^K",
        overrides: [.keyValueDims, .head], capabilities: [.stateCheckpoint, .rewind, .gates, .equalMemory],
        gateTensor: ReplayTensorSpec(name: "gk", shape: "[T, HV, K]", meaning: "per-channel log decay: α = exp(gk) (also read as 'g')", required: true))
}
