extension SoftmaxDefinition {
    /// Multi-query attention: by default two query heads read the one KV head.
    public static let mqa = SoftmaxDefinition(
        name: "mqa", math: "o = softmax(q·Kᵀ/√d) V, one KV head shared by every query head",
        sharing: .single, windowed: false, defaultConfig: SoftmaxAttentionConfig(queryHeads: 2, kvHeads: 1), modelPresets: [],
        capabilities: [.kvCache, .fullAttention])
}
