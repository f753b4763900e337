import ExactArithmetic
import Workloads

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
