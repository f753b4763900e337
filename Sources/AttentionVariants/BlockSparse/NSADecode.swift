import ExactArithmetic
import Workloads

/// Native Sparse Attention (Yuan et al. 2025), decode: three branches per query head, each its
/// own softmax over the same cache, mixed by gates —
///
/// - compressed: over block summaries (K̄_b, V̄_b) = the means of full block b's keys and values
///   as the kernel stores them (binary64 means; the paper's learned compression MLP is replaced
///   by mean pooling, as MoBA does);
/// - selected: the initial block, the top blocks by Σ_{h ∈ group} q_h·K̄_b and the current block
///   (`BlockSelector` without the window);
/// - sliding window: the last `window` tokens;
///
/// o_h = σ(z_c)·o_c + σ(z_s)·o_s + σ(z_w)·o_w, where the gate logits z (the output of NSA's gate
/// MLP) are a fixed random input per head and position (stream `nsa_gate`; replayed: tensor
/// `gates` [T, HQ, 3], logits in the order compressed, selected, window). A branch with no keys
/// (no full block yet) contributes zero. Every tier runs the same operation order; the stored
/// cache (roles `k_cache`, `v_cache`) is shared by the three branches.
public final class NSADecode<B: Backend>: SteppedRun, AttentionDiagnostics {
    public let config: BlockSparseConfig
    public let backend: B
    /// The selected branch (it owns the cache every branch reads) and the window branch.
    public let selected: SoftmaxDecode<B>
    let window: SoftmaxDecode<B>
    public private(set) var position = -1
    public let output: Tensor

    let gateGen: InputGenerator
    let gates: Tensor, keyT: Tensor, valueT: Tensor, score: Tensor, branch: Tensor
    let compressed: [OnlineSoftmax<B>]
    /// K̄ and V̄ per KV head, one row per full block: [kvHead][block·d + c].
    var pooledK: [[Double]], pooledV: [[Double]]
    /// Rows of exactly the key and value widths (the backend loads whole rows).
    var rows: [[Double]], gateRow: [Double]

    public init(config: BlockSparseConfig, backend: B, recipe: Recipe = .exact) throws {
        precondition(config.kind == .nsa, "NSADecode runs the nsa kind")
        try config.validate()
        self.config = config
        self.backend = backend
        let sel = try BlockSelector(config: config)
        sel.windowInUnion = false
        selected = try SoftmaxDecode(config: config.attention, backend: backend, recipe: recipe, selector: sel)
        window = try SoftmaxDecode(config: config.attention, backend: backend, recipe: recipe, selector: WindowSelector(window: config.window, sinkTokens: 0))
        let a = config.attention
        gateGen = InputGenerator(seed: a.seed, stream: "nsa_gate", dimension: 3).replaying(a.replay?["gates"])
        output = backend.allocate(rows: a.queryHeads, cols: a.valueDim)
        gates = backend.allocate(3)
        keyT = backend.allocate(a.headDim)
        valueT = backend.allocate(a.valueDim)
        score = backend.allocate(1)
        branch = backend.allocate(a.valueDim)
        compressed = (0..<a.queryHeads).map { _ in OnlineSoftmax(backend: backend, valueCount: a.valueDim) }
        pooledK = [[Double]](repeating: [], count: a.kvHeads)
        pooledV = pooledK
        rows = [[Double](repeating: 0, count: a.headDim), [Double](repeating: 0, count: a.valueDim)]
        gateRow = [Double](repeating: 0, count: 3)
    }

    public var tier: BackendTier { backend.tier }
    public var outputCount: Int { config.attention.queryHeads * config.attention.valueDim }
    public var stateCount: Int { 0 }
    public var cacheRelativeError: Double { selected.cacheRelativeError }
    public var lastSelection: [Int] { selected.lastSelection }
    public var recordScores: Bool {
        get { selected.recordScores }
        set { selected.recordScores = newValue }
    }
    public var lastScores: [Double] { selected.lastScores }
    public var sinkLogit: Double? { nil }
    /// The selected branch's caches (the window branch stores the same rows, bit for bit).
    public var storedNonFinite: NonFiniteCount { selected.storedNonFinite }

    public func step() {
        position += 1
        let t = position, a = config.attention, B = config.blockSize
        selected.step()
        window.step()
        if (t + 1) % B == 0 {
            for g in 0..<a.kvHeads {
                pool(&pooledK[g], .k, kvHead: g, last: t, width: a.headDim)
                pool(&pooledV[g], .v, kvHead: g, last: t, width: a.valueDim)
            }
        }
        if a.evaluation.contains(t) { evaluate(t) }
    }

    /// Appends the mean of the block ending at `last` (binary64, ascending positions).
    func pool(_ into: inout [Double], _ which: Role, kvHead g: Int, last: Int, width: Int) {
        var mean = [Double](repeating: 0, count: width)
        for s in last + 1 - config.blockSize...last {
            let i = which == .k ? 0 : 1
            selected.storedRow(which, kvHead: g, position: s, into: &rows[i])
            for c in 0..<width { mean[c] += rows[i][c] }
        }
        for c in 0..<width { into.append(mean[c] / Double(config.blockSize)) }
    }

    func evaluate(_ t: Int) {
        let b = backend, a = config.attention
        let group = a.queryHeads / a.kvHeads, d = a.headDim, dv = a.valueDim
        let blocks = (t + 1) / config.blockSize
        for h in 0..<a.queryHeads {
            let g = h / group
            let o = output.row(h)
            gateRow.withUnsafeMutableBufferPointer { gateGen.fill($0, head: h, position: t) }
            b.load(gates, gateRow)
            b.apply(.sigmoid, gates, gates)
            // selected and window branches (already evaluated by their runs)
            b.copy(o, selected.output.row(h))
            b.scale(o, by: gates.element(1))
            b.axpy(o, gates.element(2), window.output.row(h))
            guard blocks > 0 else { continue }
            let sm = compressed[h]
            sm.reset()
            let q = selected.scaledQuery(head: h)
            for blk in 0..<blocks {
                pooledK[g].withUnsafeBufferPointer { b.load(keyT, UnsafeBufferPointer(rebasing: $0[blk * d..<(blk + 1) * d])) }
                pooledV[g].withUnsafeBufferPointer { b.load(valueT, UnsafeBufferPointer(rebasing: $0[blk * dv..<(blk + 1) * dv])) }
                b.dot(score, q, keyT)
                sm.add(score: score, value: valueT)
            }
            sm.finish(into: branch)
            b.axpy(o, gates.element(0), branch)
        }
    }

    public func exportOutput(into out: MPFRArray) { backend.export(output, into: out, at: 0) }
    public func exportState(into out: MPFRArray) {}
    public func readOutput(into out: UnsafeMutableBufferPointer<Double>) { backend.read(output, into: out) }
    public func readState(into out: UnsafeMutableBufferPointer<Double>) {}
}
