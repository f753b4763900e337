import Foundation
import Workloads

extension GatedLinearConfig {
    /// MiniMax-01's shapes (`ModelFacts.miniMax01`): 64 heads of dimension 128, 80 layers.
    public static let miniMax01Heads = ModelFacts.miniMax01.lightning!.heads
    public static let miniMax01HeadDim = ModelFacts.miniMax01.lightning!.headDim
    public static let miniMax01Layers = ModelFacts.miniMax01.lightning!.layers

    /// Lightning Attention (MiniMax-01): KV_t = λ KV_{t−1} + k_tᵀ v_t, o_t = q_t KV_t with no
    /// 1/√d, λ = exp(−slope_h·(1 − l/(L−1) + 1e−5)), slope_h = (2^(−8/H))^(h+1) — MiniMax's
    /// `_build_slope_tensor` and per-layer factor, not FLA's schedule. Preset: H = 64, d = 128,
    /// L = 80; layer 0, head 0 decays fastest (λ ≈ 0.40), the last layer barely decays
    /// (λ ≈ 1 − 1e−5·slope). The chunked form is MiniMax's blockwise prefill.
    public static func lightning(
        head: Int = 0, layer: Int = 0, heads: Int = miniMax01Heads, layers: Int = miniMax01Layers,
        headDim: Int = miniMax01HeadDim, seed: UInt64 = 0
    ) -> GatedLinearConfig {
        GatedLinearConfig(kind: .lightning, keyDim: headDim, valueDim: headDim, head: head, heads: heads, layer: layer, layers: layers, seed: seed,
            decayLog: true)
    }

    /// The whole MiniMax-01 decay table, λ[layer][head].
    public static func lightningDecays(heads: Int = miniMax01Heads, layers: Int = miniMax01Layers) -> [[Double]] {
        (0..<layers).map { l in (0..<heads).map { h in Foundation.exp(lightningLogDecay(head: h, heads: heads, layer: l, layers: layers)) } }
    }
}
