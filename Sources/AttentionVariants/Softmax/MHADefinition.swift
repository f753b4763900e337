extension SoftmaxDefinition {
    /// Multi-head attention: one head, K = V = 64 by default.
    public static let mha = SoftmaxDefinition(
        name: "mha", math: "o = softmax(q·Kᵀ/√d) V per head, growing KV cache (one KV head per query head)",
        sharing: .perQueryHead, windowed: false, defaultConfig: SoftmaxAttentionConfig(), modelPresets: [],
        capabilities: [.kvCache, .fullAttention])
}
