import ExactArithmetic
import NumberFormats

/// Softmax decode as a tiled kernel computes it, for recipes with compute store points
/// (`scores`, `p`) or a kernel profile's key blocks: for one query, the selected keys are
/// split into blocks of `keyBlock` positions (aligned at multiples of the block size, as a
/// kernel's tiles are), visited from the block holding the query down to the first when
/// `reverseKeyBlocks` (FlashAttention-2), else in ascending order; without a block size the
/// whole row is one block (attention materialised, as an eager implementation does). Per block:
///
///     s    = K_blk q̂                        store: scores
///     m'   = max(m, max s),  c = e^{m − m'}
///     P    = e^{s − m'}
///     l    ← l·c + Σ P                       (the row sum from P before its store, as in FA2)
///     P    ← store(P)                        store: p (FlashAttention: the input dtype)
///     acc  ← acc·c + P V_blk                 (one dot product per element, added once)
///
/// and o = acc / l at the end (store: output). A sink logit joins the denominator last. Keys and
/// values are read in tiles of at most `tile` rows (a block of 64 is one tile), so a whole-row
/// block keeps only its scores (O(T) per query head), never a copy of the cache.
final class SoftmaxBlockedWorkspace<B: Backend> {
    static var tile: Int { 64 }
    let backend: B
    let headDim: Int, valueDim: Int, heads: Int
    private(set) var capacity = 0
    let keysBlock: Tensor, valuesBlock: Tensor
    /// One row of scores (then P) per query head of the KV head being evaluated.
    var scores: Tensor
    let blockMax: Tensor, newMax: Tensor, correction: Tensor, rowSum: Tensor
    let runningMax: [Tensor], runningSum: [Tensor], accumulator: [Tensor]
    var rowK: [Double], rowV: [Double]

    init(backend b: B, heads: Int, headDim: Int, valueDim: Int) {
        backend = b
        (self.headDim, self.valueDim, self.heads) = (headDim, valueDim, heads)
        keysBlock = b.allocate(rows: Self.tile, cols: headDim)
        valuesBlock = b.allocate(rows: Self.tile, cols: valueDim)
        scores = b.allocate(rows: heads, cols: 1)
        blockMax = b.allocate(1); newMax = b.allocate(1); correction = b.allocate(1); rowSum = b.allocate(1)
        runningMax = (0..<heads).map { _ in b.allocate(1) }
        runningSum = (0..<heads).map { _ in b.allocate(1) }
        accumulator = (0..<heads).map { _ in b.allocate(valueDim) }
        rowK = [Double](repeating: 0, count: headDim)
        rowV = [Double](repeating: 0, count: valueDim)
    }

    /// Room for the scores of blocks of n keys.
    func reserve(_ n: Int) {
        guard n > capacity else { return }
        capacity = n
        scores = backend.allocate(rows: heads, cols: n)
    }

    /// The blocks of `selected` (ascending positions) as index ranges into it, in visiting order.
    static func blocks(_ selected: [Int], size: Int?, reverse: Bool) -> [Range<Int>] {
        guard let size, !selected.isEmpty else { return selected.isEmpty ? [] : [0..<selected.count] }
        var ranges: [Range<Int>] = []
        var start = 0
        for i in 1...selected.count where i == selected.count || selected[i] / size != selected[start] / size {
            ranges.append(start..<i)
            start = i
        }
        return reverse ? ranges.reversed() : ranges
    }
}

extension SoftmaxDecode {
    /// Whether `recipe` evaluates through key blocks (a compute store point or a profile's blocks).
    static func evaluatesBlocked(_ recipe: Recipe) -> Bool {
        recipe.blocking.keyBlock != nil || recipe[.p] != nil || recipe[.scores] != nil
    }

    /// The outputs of the query heads of KV head g at position t through key blocks.
    func evaluateBlocked(_ t: Int, kvHead g: Int, heads: Range<Int>) {
        let b = backend, ws = blocked!, blocking = recipe.blocking
        let ranges = SoftmaxBlockedWorkspace<B>.blocks(selected, size: blocking.keyBlock, reverse: blocking.reverseKeyBlocks)
        ws.reserve(ranges.map(\.count).max() ?? 1)
        let tile = SoftmaxBlockedWorkspace<B>.tile, d = config.headDim, dv = config.valueDim
        func tiles(_ n: Int) -> StrideTo<Int> { stride(from: 0, to: n, by: tile) }
        for (index, range) in ranges.enumerated() {
            let n = range.count, step = (t << 20) | index
            func row(_ h: Int, _ cols: Range<Int>) -> Tensor { ws.scores.block(rows: (h - heads.lowerBound)..<(h - heads.lowerBound + 1), cols: cols) }
            // s = K_blk q̂ for every query head, the keys read once, tile by tile.
            for t0 in tiles(n) {
                let m = min(tile, n - t0)
                for r in 0..<m {
                    loadStored(&keys[g], position: selected[range.lowerBound + t0 + r], row: &ws.rowK, into: ws.keysBlock.row(r), kvHead: g)
                }
                for h in heads { b.matvec(row(h, t0..<(t0 + m)), ws.keysBlock.block(rows: 0..<m, cols: 0..<d), qScaled[h]) }
            }
            for h in heads {
                let s = row(h, 0..<n), m = ws.runningMax[h], l = ws.runningSum[h], acc = ws.accumulator[h]
                qStores[h].store(.scores, s, on: b, step: step)
                b.max(ws.blockMax, s)
                if index == 0 {
                    b.copy(ws.newMax, ws.blockMax)
                } else {
                    b.maximum(ws.newMax, m, ws.blockMax)
                    b.subtract(ws.correction, m, ws.newMax)
                    b.apply(.exp, ws.correction, ws.correction)
                }
                b.subtract(s, s, ws.newMax)
                b.apply(.exp, s, s)
                b.sum(ws.rowSum, s)
                if index == 0 { b.copy(l, ws.rowSum) } else { b.fma(l, l, ws.correction, ws.rowSum) }
                if let probe = pStoreProbe, t >= probe.fromPosition {
                    probe.count(s, on: b, keys: selected[range]) { qStores[h].store(.p, s, on: b, step: step) }
                } else {
                    qStores[h].store(.p, s, on: b, step: step)
                }
                if index > 0 { b.scale(acc, by: ws.correction) }
                b.copy(m, ws.newMax)
            }
            // acc += P V_blk, the values read once, tile by tile.
            for t0 in tiles(n) {
                let m = min(tile, n - t0)
                for r in 0..<m {
                    loadStored(&values[g], position: selected[range.lowerBound + t0 + r], row: &ws.rowV, into: ws.valuesBlock.row(r), kvHead: g)
                }
                let vb = ws.valuesBlock.block(rows: 0..<m, cols: 0..<dv)
                for h in heads { b.gemm(ws.accumulator[h], row(h, t0..<(t0 + m)), transposeA: false, vb, transposeB: false, accumulate: index > 0 || t0 > 0) }
            }
        }
        for h in heads {
            let m = ws.runningMax[h], l = ws.runningSum[h], acc = ws.accumulator[h]
            if let sinkT {
                b.maximum(ws.newMax, m, sinkT)
                b.subtract(ws.correction, m, ws.newMax)
                b.apply(.exp, ws.correction, ws.correction)
                b.subtract(ws.rowSum, sinkT, ws.newMax)
                b.apply(.exp, ws.rowSum, ws.rowSum)
                b.fma(l, l, ws.correction, ws.rowSum)
                b.scale(acc, by: ws.correction)
            }
            let o = output.row(h)
            b.divide(o, acc, l)
            qStores[h].store(.output, o, on: b, step: t)
        }
    }
}

/// Counts what the `p` store does to P (arXiv 2606.06521's P-collapse): among the values of keys
/// at positions ≥ `firstCounted` (the non-sink keys) that are non-zero before the store, those it
/// rounds to zero; only for queries at positions ≥ `fromPosition`.
public final class PStoreProbe: @unchecked Sendable {
    public let firstCounted: Int, fromPosition: Int
    public private(set) var nonzero = 0, underflow = 0
    var before: [Double] = [], after: [Double] = []

    public init(firstCounted: Int, fromPosition: Int) { (self.firstCounted, self.fromPosition) = (firstCounted, fromPosition) }

    /// The fraction of counted non-zero P values the store flushed to zero.
    public var fraction: Double { nonzero > 0 ? Double(underflow) / Double(nonzero) : 0 }

    func count<B: Backend>(_ p: Tensor, on b: B, keys: ArraySlice<Int>, store: () -> Void) {
        let n = p.cols
        if before.count < n { before = [Double](repeating: 0, count: n); after = before }
        before.withUnsafeMutableBufferPointer { b.read(p, into: UnsafeMutableBufferPointer(rebasing: $0[0..<n])) }
        store()
        after.withUnsafeMutableBufferPointer { b.read(p, into: UnsafeMutableBufferPointer(rebasing: $0[0..<n])) }
        for (i, key) in keys.enumerated() where key >= firstCounted && before[i] != 0 {
            nonzero += 1
            if after[i] == 0 { underflow += 1 }
        }
    }
}
