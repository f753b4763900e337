import ExactArithmetic
import NumberFormats
import Workloads

extension BlockSparseDefinition {
    /// MoBA and NSA: softmax over the blocks the mean keys select; NSA's three branches mixed by
    /// the given gate logits. `--block-size`, `--top-k` and (NSA) `--window` set the selection.
    public func replayPlan(_ x: ReplayTensors) throws -> ReplayPlan {
        let q = x.q, k = x.k, vv = x.v, o = x.options
        try x.checkKV()
        if let g = x.rows["gates"], g.heads != q.heads || g.width != 3 {
            throw ReplayTensors.mismatch(g, "'q' \(q.view.shapeText): gates are [T, HQ, 3]")
        }
        let windowed = replayFlags.contains(.window)
        if o.preset != nil { throw InputError("--preset: \(name) has no presets; give --block-size, --top-k\(windowed ? ", --window" : "")") }
        if !windowed && o.window != nil { throw InputError("--window: \(name) has no sliding window (\(Self.nsa.name) has)") }
        var c = defaultConfig
        c.attention.queryHeads = q.heads
        c.attention.kvHeads = k.heads
        c.attention.headDim = q.width
        c.attention.valueDim = vv.width
        c.attention.replay = x.inputs
        c.attention.evaluation = .every
        if let b = o.blockSize { c.blockSize = b }
        if let n = o.topK { c.topKBlocks = n }
        if let w = o.window { c.window = w }
        do { try c.validate() } catch { throw InputError("\(x.file.path): \(error)") }
        let config = c
        return ReplayPlan(tokens: x.T, inputs: x.views, outputShape: [x.T, q.heads, vv.width], stateShape: nil, roles: SoftmaxAttentionConfig.roles) { tier, recipe in
            [try SparseCatalog.makeRun(config: config, tier: tier, recipe: recipe)]
        }
    }
}
