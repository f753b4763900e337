import Workloads

extension SoftmaxDefinition {
    /// Grouped-query attention: by default two query heads share one KV head.
    public static let gqa = SoftmaxDefinition(
        name: "gqa", math: "o = softmax(q·Kᵀ/√d) V, each KV head shared by HQ/HKV query heads",
        sharing: .grouped, windowed: false, defaultConfig: SoftmaxAttentionConfig(queryHeads: 2, kvHeads: 1),
        modelPresets: [ModelFacts.miniMaxM2, .llama3_8B].map(preset),
        capabilities: [.kvCache, .fullAttention])
}
