import Workloads

extension GatedLinearDefinition {
    /// Gated Linear Attention: data-dependent per-channel decays.
    public static let gla = GatedLinearDefinition(
        name: "gla", family: .linear, roles: GatedLinearConfig.roles,
        math: "S_t = Diag(α_t) S_{t−1} + k_t v_tᵀ, α_t = exp(logsigmoid(x_t)/16) per channel",
        presets: [], overrides: .keyValueDims, capabilities: [.stateCheckpoint, .gates, .equalMemory],
        replayTensors: [
            ReplayTensorSpec(name: "q", shape: "[T, H, K]", meaning: "queries as the kernel receives them", required: true),
            ReplayTensorSpec(name: "k", shape: "[T, H, K]", meaning: "keys", required: true),
            ReplayTensorSpec(name: "v", shape: "[T, H, V]", meaning: "values; q scaled by K^-1/2", required: true),
            ReplayTensorSpec(name: "gk", shape: "[T, H, K]", meaning: "per-channel log decay: α = exp(gk) (also read as 'g')", required: true),
            GatedLinearDefinition.initialState,
        ],
        configure: { _ in .gla() }, defaultDecay: nil)
}
