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
    /// Replay takes the block size and count, and NSA its window.
    public var replayFlags: ReplayFlags { defaultConfig.kind == .nsa ? [.blockSize, .topK, .window] : [.blockSize, .topK] }

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

/// The block-sparse kernels' run factory.
public enum SparseCatalog {
    /// The default workload of the block-sparse definition named `name`.
    public static func defaultConfig(_ name: String) -> BlockSparseConfig? { (VariantRegistry.definition(name) as? BlockSparseDefinition)?.defaultConfig }

    public static func makeRun(config: BlockSparseConfig, tier: BackendTier, recipe: Recipe = .exact) throws -> SteppedRun {
        if config.kind == .nsa { return try tier.with(MakeNSA(config: config, recipe: recipe)) }
        return try tier.with(MakeBlocks(config: config, selector: try BlockSelector(config: config), recipe: recipe))
    }

    struct MakeNSA: BackendGeneric {
        let config: BlockSparseConfig, recipe: Recipe
        func callAsFunction<B: Backend>(_ b: B) throws -> SteppedRun { try NSADecode(config: config, backend: b, recipe: recipe) }
    }

    struct MakeBlocks: BackendGeneric {
        let config: BlockSparseConfig, selector: BlockSelector, recipe: Recipe
        func callAsFunction<B: Backend>(_ b: B) throws -> SteppedRun {
            try SoftmaxDecode(config: config.attention, backend: b, recipe: recipe, selector: selector)
        }
    }
}
