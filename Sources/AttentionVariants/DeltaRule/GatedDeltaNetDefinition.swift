extension DeltaDefinition {
    /// Gated DeltaNet (Qwen3-Next, Qwen3.5): a scalar decay per token and head.
    public static let gatedDeltaNet = DeltaDefinition(
        kind: .gatedDeltaNet, math: "S_t = α_t (I − β_t k_t k_tᵀ) S_{t−1} + β_t k_t v_tᵀ, α_t = exp(g_t)",
        overrides: [.keyValueDims, .head], capabilities: [.stateCheckpoint, .rewind, .gates, .equalMemory],
        gateTensor: ReplayTensorSpec(name: "g", shape: "[T, HV]", meaning: "log decay: α = exp(g)", required: true))
}
