import ExactArithmetic
import Workloads

/// Block-sparse softmax attention (MoBA, NSA): softmax over the key blocks a selector picks.
public struct BlockSparseDefinition: VariantDefinition {
    public let name: String
    public let math: String
    /// The default workload: one head, d = 64, blocks of 64 tokens, top-4 blocks (NSA: the
    /// initial block, top-3, a 64-token window), so selection is active beyond 320 tokens.
    public let defaultConfig: BlockSparseConfig

    public var family: VariantFamily { .sparse }
    public var forms: [String] { ["recurrent"] }
    public var roles: [Role] { SoftmaxAttentionConfig.roles }
    public var overrides: VariantOverrides { .headDim }

    public func instance(_ p: VariantParameters) throws -> any VariantInstance {
        var c = defaultConfig
        c.attention.seed = p.seed
        c.attention.distribution = p.distribution
        if let s = p.schedule { c.attention.evaluation = s }
        if let h = p.headDim { c.attention.headDim = h; c.attention.valueDim = h }
        return BlockSparseInstance(config: c)
    }

    public var replayTensors: [ReplayTensorSpec]? {
        let nsa = defaultConfig.kind == .nsa
        var s = [
            ReplayTensorSpec(name: "q", shape: "[T, HQ, D]", meaning: "queries; scale D^-1/2; blocks of --block-size tokens (default 64), "
                + "--top-k blocks (default 4)" + (nsa ? ", window --window tokens (default 64)" : ""), required: true),
            ReplayTensorSpec(name: "k", shape: "[T, HKV, D]", meaning: "keys; HQ a multiple of HKV; block scores from the mean keys", required: true),
            ReplayTensorSpec(name: "v", shape: "[T, HKV, Dv]", meaning: "values", required: true),
        ]
        if nsa {
            s.append(ReplayTensorSpec(name: "gates", shape: "[T, HQ, 3]", meaning: "gate logits (before the sigmoid) of the compressed, selected and window branches", required: true))
        }
        return s
    }
}

public struct BlockSparseInstance: VariantInstance {
    public let config: BlockSparseConfig
    public func makeRun(form: String, tier: BackendTier, recipe: Recipe) throws -> SteppedRun {
        try SparseCatalog.makeRun(config: config, tier: tier, recipe: recipe)
    }
    public func cacheBytesPerToken(recipe: Recipe) -> Double? { config.attention.cacheBytesPerToken(recipe: recipe) }
}

extension BlockSparseDefinition {
    /// MoBA (Lu et al. 2025): top-k blocks by mean-key score, plus the current block.
    public static let moba = BlockSparseDefinition(
        name: "moba", math: "softmax over the blocks whose mean key scores highest (plus the current block)",
        defaultConfig: BlockSparseConfig(kind: .moba))

    /// NSA (Yuan et al. 2025): compressed, selected-block and sliding-window branches, gated.
    public static let nsa = BlockSparseDefinition(
        name: "nsa", math: "compressed + selected-block + sliding-window softmax branches, gated",
        defaultConfig: BlockSparseConfig(kind: .nsa))
}
