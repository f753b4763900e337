import ExactArithmetic
import Workloads

/// Block-sparse softmax attention: MoBA and NSA's selection (DESIGN.md §4).
///
/// Keys are grouped in blocks of `blockSize` tokens; each full block keeps a pooled key
/// (mean of its exact keys, binary64 — "KV + pooled block keys"). At query position t the
/// current (partial) block is always attended; the previous full blocks are scored by
/// Σ_{h ∈ group} q_{t,h}·k̄_b (the KV group's query heads summed, binary64), the top
/// `topKBlocks` are kept (ties toward the lower block), and one softmax runs over the union in
/// ascending position order.
///
/// - MoBA (Lu et al. 2025): exactly that.
/// - NSA (Yuan et al. 2025) as a selector: the initial block and the last `window` tokens are
///   always included beside the top blocks (one softmax over the union). The `nsa` variant runs
///   the paper's gated three-branch form (`NSADecode`), with this selection (window excluded) as
///   its selected branch.
///
/// Pooled keys are the means of the keys as stored (`keySource`, set by the run owning the
/// cache), so a quantized cache can change the selection — the top-k overlap the study records.
public struct BlockSparseConfig: Hashable, Sendable {
    public enum Kind: String, Hashable, Sendable { case moba, nsa }
    public var kind: Kind
    public var attention: SoftmaxAttentionConfig
    public var blockSize: Int
    public var topKBlocks: Int
    /// NSA's sliding window (tokens).
    public var window: Int

    public init(kind: Kind, attention: SoftmaxAttentionConfig = SoftmaxAttentionConfig(), blockSize: Int = 64, topKBlocks: Int = 4, window: Int = 64) {
        self.kind = kind
        self.attention = attention
        self.blockSize = blockSize
        self.topKBlocks = topKBlocks
        self.window = window
    }

    public func validate() throws {
        try attention.validate()
        guard blockSize >= 1 else { throw VariantError("block_size: expected ≥ 1, got \(blockSize)") }
        guard topKBlocks >= 1 else { throw VariantError("top_k: expected ≥ 1, got \(topKBlocks)") }
        guard window >= 1 else { throw VariantError("window: expected ≥ 1, got \(window)") }
        if attention.window != nil { throw VariantError("window: \(kind.rawValue) selects blocks; leave the attention window unset") }
    }
}

public final class BlockSelector: KeySelector {
    public let config: BlockSparseConfig
    let kGen: InputGenerator, qGen: InputGenerator
    /// Pooled keys, one row per full block per KV head: [kvHead][block·d + c].
    public internal(set) var pooled: [[Double]]
    var row: [Double], q: [Double], blockScores: [Double] = [], order: [Int] = [], chosen: [Int] = []
    public private(set) var lastBlocks: [Int] = []
    /// Where pooled keys come from: (kvHead, position, row) → the stored key as the kernel reads
    /// it. Set by the attention run that owns the cache; unset: the exact generated keys.
    public var keySource: ((Int, Int, inout [Double]) -> Void)?
    /// NSA standalone: the window is part of the union; NSA's gated form attends it separately.
    public var windowInUnion = true

    public init(config: BlockSparseConfig) throws {
        try config.validate()
        self.config = config
        let a = config.attention
        kGen = InputGenerator(seed: a.seed, stream: "k", dimension: a.headDim, distribution: a.keyDistribution ?? a.distribution)
            .replaying(a.replay?["k"])
        qGen = InputGenerator(seed: a.seed, stream: "q", dimension: a.headDim, distribution: a.distribution).replaying(a.replay?["q"])
        pooled = [[Double]](repeating: [], count: a.kvHeads)
        row = [Double](repeating: 0, count: a.headDim)
        q = row
    }

    public func didAppend(position t: Int) {
        let B = config.blockSize, d = config.attention.headDim
        guard (t + 1) % B == 0 else { return }
        for g in 0..<config.attention.kvHeads {
            var mean = [Double](repeating: 0, count: d)
            for s in t + 1 - B...t {
                if let keySource {
                    keySource(g, s, &row)
                } else {
                    row.withUnsafeMutableBufferPointer { kGen.fill($0, head: config.attention.repeatedKV ? 0 : g, position: s) }
                }
                for c in 0..<d { mean[c] += row[c] }
            }
            for c in 0..<d { pooled[g].append(mean[c] / Double(B)) }
        }
    }

    public func select(position t: Int, kvHead g: Int, into keys: inout [Int]) {
        let B = config.blockSize, d = config.attention.headDim
        let current = t / B
        let group = config.attention.queryHeads / config.attention.kvHeads
        keys.removeAll(keepingCapacity: true)
        chosen.removeAll(keepingCapacity: true)
        if current <= config.topKBlocks {
            chosen.append(contentsOf: 0..<current)
        } else {
            blockScores = [Double](repeating: 0, count: current)
            for h in g * group..<(g + 1) * group {
                q.withUnsafeMutableBufferPointer { qGen.fill($0, head: h, position: t) }
                for b in 0..<current {
                    var s = 0.0
                    for c in 0..<d { s = s.addingProduct(q[c], pooled[g][b * d + c]) }
                    blockScores[b] += s
                }
            }
            var k = config.topKBlocks
            if config.kind == .nsa {
                chosen.append(0)
                blockScores[0] = -.infinity
                k -= 1
            }
            if k > 0 {
                var top: [Int] = []
                DSAIndexer.topK(blockScores, k: k, into: &top, order: &order)
                chosen.append(contentsOf: top.filter { !chosen.contains($0) })
            }
            chosen.sort()
        }
        if g == 0 { lastBlocks = chosen }
        var positions = Set<Int>()
        for b in chosen { for s in b * B..<(b + 1) * B { positions.insert(s) } }
        for s in current * B...t { positions.insert(s) }
        if config.kind == .nsa && windowInUnion { for s in max(0, t - config.window + 1)...t { positions.insert(s) } }
        keys.append(contentsOf: positions.sorted())
    }
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
