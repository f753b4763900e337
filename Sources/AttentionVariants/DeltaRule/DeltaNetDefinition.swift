extension DeltaDefinition {
    /// DeltaNet (Yang et al. 2024): the delta rule without decay.
    public static let deltanet = DeltaDefinition(
        kind: .deltanet, math: "S_t = (I − β_t k_t k_tᵀ) S_{t−1} + β_t k_t v_tᵀ, o_t = S_tᵀ q_t",
        overrides: .keyValueDims, capabilities: [.stateCheckpoint, .rewind, .equalMemory], gateTensor: nil)
}
