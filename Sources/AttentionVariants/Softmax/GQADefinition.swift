extension SoftmaxDefinition {
    /// Grouped-query attention: by default two query heads share one KV head.
    public static let gqa = SoftmaxDefinition(
        name: "gqa", math: "o = softmax(q·Kᵀ/√d) V, each KV head shared by HQ/HKV query heads",
        sharing: .grouped, windowed: false, defaultConfig: SoftmaxAttentionConfig(queryHeads: 2, kvHeads: 1),
        modelPresets: [
            (VariantPreset(name: "minimax-m2", summary: "MiniMax-M2: 48 query / 8 KV heads, head_dim 128, full attention"),
             SoftmaxAttentionConfig(queryHeads: 48, kvHeads: 8, headDim: 128)),
            (VariantPreset(name: "llama3-8b", summary: "Llama-3-style GQA: 32 query / 8 KV heads, head_dim 128"),
             SoftmaxAttentionConfig(queryHeads: 32, kvHeads: 8, headDim: 128)),
        ],
        capabilities: [.kvCache, .fullAttention])
}
