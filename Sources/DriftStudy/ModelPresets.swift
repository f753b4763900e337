import AttentionVariants

/// Named model presets a study variant or a budget can take (`preset: qwen3-next`): the public
/// shapes and gate schedule of one layer of a model, measured on one head — for grouped
/// attention, one KV head with the query heads that share it (weights are not needed: inputs
/// are synthetic).
public enum ModelPresets {
    public struct Entry: Sendable {
        public let name: String
        public let variant: String
        public let summary: String
    }

    /// Every preset with the variant it applies to (a name may serve several variants, as
    /// Kimi Linear has KDA and MLA layers).
    public static var all: [Entry] {
        DeltaPreset.all.map { Entry(name: $0.name, variant: $0.kind.rawValue, summary: "\($0.keyHeads) key / \($0.valueHeads) value heads, K = \($0.keyDim), V = \($0.valueDim), model gates \($0.gates)") }
            + SoftmaxCatalog.presets.map { Entry(name: $0.name, variant: $0.variant, summary: $0.summary) }
            + SoftmaxFamily.mlaPresets.map { Entry(name: $0.name, variant: $0.variant, summary: $0.summary) }
            + [Entry(name: "minimax-01", variant: "lightning", summary: "MiniMax-01 Lightning: 64 heads × 80 layers slope schedule, d = 128 (head: and layer: pick one)"),
               Entry(name: "mamba2-2.7b", variant: "mamba2", summary: "Mamba2-2.7B: 80 heads, head dim 64, d_state 128, A_init (1, 16), dt [0.001, 0.1] (head: picks one)")]
    }

    /// Checks that `name` is a preset of `variant`; the error lists the valid ones.
    public static func check(_ name: String, variant: String) throws {
        if all.contains(where: { $0.name == name && $0.variant == variant }) { return }
        let mine = all.filter { $0.variant == variant }.map(\.name)
        let valid = mine.isEmpty ? "variant '\(variant)' has no presets" : "presets of '\(variant)': \(mine.joined(separator: ", "))"
        throw StudyInputError("preset: unknown '\(name)' for variant '\(variant)'; \(valid)")
    }

    static func delta(_ name: String) -> DeltaPreset? { DeltaPreset.all.first { $0.name == name } }

    /// One KV head of a softmax preset, with the query heads that read it.
    static func softmax(_ name: String) -> SoftmaxAttentionConfig? {
        guard var c = SoftmaxCatalog.presets.first(where: { $0.name == name })?.config else { return nil }
        c.queryHeads = max(c.queryHeads / max(c.kvHeads, 1), 1)
        c.kvHeads = 1
        return c
    }

    /// One query head of an MLA/DSA preset (the latent cache is shared by all heads).
    static func mla(_ name: String, variant: String) -> DSAConfig? {
        guard var c = SoftmaxFamily.mlaPresets.first(where: { $0.name == name && $0.variant == variant })?.dsa else { return nil }
        c.mla.heads = 1
        return c
    }
}
