import AttentionVariants
import NumberFormats

/// The bytes one sequence holds at context T at the model's full width: every layer's state
/// pages, conv state and KV cache (scales included, from each role's format; a role the recipe
/// leaves unrounded counts at fp32, the precision the emulation keeps it in).
public enum StackMemory {
    /// Bits per element of `role` under `recipe` for a tensor of `shape` (32 when unrounded).
    static func bits(_ recipe: Recipe?, _ role: Role, shape: [Int]) -> Double {
        recipe?.format(role)?.bitsPerElement(shape: shape) ?? 32
    }

    /// Bits per element of a growing cache's row of `width` under `recipe` (32 when unrounded).
    static func cacheBits(_ recipe: Recipe?, _ role: Role, width: Int) -> Double {
        recipe?.format(role)?.cacheBitsPerElement(width: width) ?? 32
    }

    /// Bytes of one layer of `kind` at context `tokens`, full width.
    public static func layerBytes(_ m: StackModel, _ kind: LayerKind, recipe: Recipe?, tokens: Int) -> Double {
        let (K, V) = (m.linearKeyDim, m.linearValueDim)
        let convRows = Double(m.convKernel - 1)
        func conv(_ channels: Int) -> Double { convRows * Double(channels) * bits(recipe, .convState, shape: [1, channels]) / 8 }
        switch kind {
        case .gatedDeltaNet, .kda:
            let state = Double(m.linearValueHeads * K * V) * bits(recipe, .state, shape: [K, V]) / 8
            return state + conv(2 * m.linearKeyHeads * K + m.linearValueHeads * V)
        case .mamba2:
            let (H, P, N, G) = (m.ssmHeads, m.ssmHeadDim, m.ssmState, m.ssmGroups)
            return Double(H * P * N) * bits(recipe, .state, shape: [N, P]) / 8 + conv(H * P + 2 * G * N)
        case .lightning:
            return Double(m.linearKeyHeads * K * V) * bits(recipe, .state, shape: [K, V]) / 8
        case .attention, .gatedAttention:
            let D = m.attentionHeadDim, rows = Double(tokens * m.attentionKVHeads)
            return rows * Double(D) * (cacheBits(recipe, .kCache, width: D) + cacheBits(recipe, .vCache, width: D)) / 8
        case .mla:
            let (L, R) = (m.latentDim, m.latentRope)
            return Double(tokens) * (Double(L) * cacheBits(recipe, .latent, width: L) + Double(R) * cacheBits(recipe, .ropeCache, width: R)) / 8
        case .mlp:
            return 0
        }
    }

    /// Bytes of the whole stack under `recipe` at context `tokens`, and the part that does not grow with T.
    public static func sequenceBytes(_ shape: StackShape, recipe: StackRecipe, tokens: Int) -> (total: Double, fixed: Double) {
        var total = 0.0, fixed = 0.0
        for kind in shape.layers {
            let bytes = layerBytes(shape.model, kind, recipe: recipe.layers[kind], tokens: tokens)
            total += bytes
            if !kind.keepsCache { fixed += bytes }
        }
        return (total, fixed)
    }
}
