/// Multiply–adds of a stack per token: every projection (the weight matrices of `LayerWeights`),
/// the short conv, the mixer's state update and read-out (4·K·V per value head: decay, kᵀS,
/// the rank-1 update, Sᵀq) or its attention over the context (2·D per visible key and query
/// head; MLA: the absorbed 2·(L+R) in the decode form, the decompressed N+R+V in the chunked
/// form plus decompressing each token's latent, H·L·(N+V)), the MLP. Attention averaged over the
/// positions of a T-token sequence (T/2 keys).
public enum StackCost {
    public static func macsPerToken(_ s: StackShape, context T: Int, form: String = "recurrent") -> Double {
        let m = s.model
        var total = 0.0
        for kind in s.layers {
            total += LayerWeights.shapes(s, kind).reduce(0.0) { $0 + Double($1.1 * $1.2) }
            total += Double(s.convChannels(kind) * m.convKernel)
            let avgKeys = Double(T) / 2
            switch kind {
            case .gatedDeltaNet, .kda: total += 4 * Double(s.linearValueHeads * m.linearKeyDim * m.linearValueDim)
            case .lightning: total += 4 * Double(s.linearKeyHeads * m.linearKeyDim * m.linearValueDim)
            case .mamba2: total += 4 * Double(s.ssmHeads * m.ssmHeadDim * m.ssmState)
            case .attention, .gatedAttention: total += 2 * Double(s.attentionHeads * m.attentionHeadDim) * avgKeys
            case .mla where form == "chunked":
                let H = Double(s.attentionHeads)
                total += H * Double(m.latentNope + m.latentRope + m.latentValue) * avgKeys + H * Double(m.latentDim * (m.latentNope + m.latentValue))
            case .mla: total += 2 * Double(s.attentionHeads * (m.latentDim + m.latentRope)) * avgKeys
            case .mlp: break
            }
        }
        return total
    }
}
