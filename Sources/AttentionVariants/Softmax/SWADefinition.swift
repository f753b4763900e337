import Workloads

extension SoftmaxDefinition {
    /// Sliding-window attention with attention sinks: window 128, 4 sink tokens, sink logit 0.5.
    public static let swa = SoftmaxDefinition(
        name: "swa", math: "o = softmax over the last W keys (plus sink tokens and an optional sink logit)",
        sharing: .grouped, windowed: true, defaultConfig: SoftmaxAttentionConfig(window: 128, sinkTokens: 4, sinkLogit: 0.5),
        modelPresets: [preset(.gptOSS)],
        capabilities: [.kvCache])
}
