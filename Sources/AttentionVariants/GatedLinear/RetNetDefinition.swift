import Workloads

extension GatedLinearDefinition {
    /// RetNet: a fixed per-head decay γ_h = 1 − 2^(−5−h); head 0 by default (γ = 0.96875).
    public static let retnet = GatedLinearDefinition(
        name: "retnet", family: .linear, roles: GatedLinearConfig.roles,
        math: "S_t = γ_h S_{t−1} + k_t v_tᵀ, γ_h = 1 − 2^(−5−h)",
        presets: [], overrides: .keyValueDims, capabilities: [.stateCheckpoint, .gates, .equalMemory],
        replayTensors: [
            ReplayTensorSpec(name: "q", shape: "[T, H, K]", meaning: "queries", required: true),
            ReplayTensorSpec(name: "k", shape: "[T, H, K]", meaning: "keys, scaled by K^-1/2 in the kernel (torchscale)", required: true),
            ReplayTensorSpec(name: "v", shape: "[T, H, V]", meaning: "values; decay γ_h = 1 − 2^(−5−h) by head index", required: true),
            GatedLinearDefinition.initialState,
        ],
        configure: { _ in .retnet() }, defaultDecay: GateSchedule.retnet.constantDecay(head: 0))
}
