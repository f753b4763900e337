import Workloads

extension GatedLinearDefinition {
    /// Lightning Attention (MiniMax-01): per-head, per-layer constant decays; `head:` and
    /// `layer:` pick one of the 64 × 80.
    public static let lightning = GatedLinearDefinition(
        name: "lightning", family: .linear, roles: GatedLinearConfig.roles,
        math: "S_t = λ_h S_{t−1} + k_t v_tᵀ, λ_h = exp(−slope_h·(1 − l/(L−1)))",
        presets: [VariantPreset(name: ModelFacts.miniMax01.name, summary: ModelFacts.miniMax01.lightning!.summary)],
        overrides: [.keyValueDims, .head, .layer], capabilities: [.stateCheckpoint, .gates],
        replayTensors: [
            ReplayTensorSpec(name: "q", shape: "[T, H, K]", meaning: "queries, no scale (MiniMax-01: H = 64, K = 128)", required: true),
            ReplayTensorSpec(name: "k", shape: "[T, H, K]", meaning: "keys", required: true),
            ReplayTensorSpec(name: "v", shape: "[T, H, V]", meaning: "values; λ_h = exp(−slope_rate_h)", required: true),
            ReplayTensorSpec(name: "slope_rate", shape: "[H]", meaning: "MiniMax's per-head slope_rate after the layer factor (optional; "
                + "absent: --layer l [--layers L, default 80] gives (2^(−8/H))^(h+1)·(1 − l/(L−1) + 1e−5), H from the tensors)", required: false),
            GatedLinearDefinition.initialState,
        ],
        configure: { p in
            let H = GatedLinearConfig.miniMax01Heads, L = GatedLinearConfig.miniMax01Layers
            guard (p.head ?? 0) < H else { throw VariantError("head: lightning (MiniMax-01) has \(H) heads; expected 0...\(H - 1)") }
            guard (p.layer ?? 0) < L else { throw VariantError("layer: lightning (MiniMax-01) has \(L) layers; expected 0...\(L - 1)") }
            return .lightning(head: p.head ?? 0, layer: p.layer ?? 0)
        }, defaultDecay: nil)
}
