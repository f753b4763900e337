import ExactArithmetic

/// Intra-chunk scores under per-channel decays, shared by GLA and RWKV-7's chunked forms:
///
///     A_ij = Σ_c x_ic y_jc e^{qc_ic − kc_jc}   for j ≤ i (`inclusive`) or j < i, 0 elsewhere,
///
/// where kc holds the inclusive cumulative log decays b_j and qc the query side's (b_i, or
/// b_{i−1} for RWKV-7's "before this token's decay" products); qc_i ≤ kc_j whenever j ≤ i
/// (j < i when not inclusive), so every exponent is ≤ 0.
///
/// FLA's sub-chunk scheme: rows in blocks of `subChunk`; keys before a block as one gemm of
/// x_i ⊙ e^{qc_i − kc_r} and y_j ⊙ e^{kc_r − kc_j} with r the last token before the block
/// (both factors ≤ 1, no overflow in any precision); keys inside the block as direct sums.
/// Several key matrices y (same x, qc, kc) share the exponentials.
struct DecayedScores {
    let m: Int, width: Int
    let subChunk: Int

    /// outs[n] (≥ m×m) ← the scores of ys[n]; xh, yh, factors (≥ m×width) and row (1×width)
    /// are scratch.
    func compute<B: Backend>(
        _ b: B, into outs: [Tensor], x: Tensor, qc: Tensor, ys: [Tensor], kc: Tensor, inclusive: Bool,
        xh: Tensor, yh: Tensor, factors: Tensor, row: Tensor
    ) {
        precondition(outs.count == ys.count)
        for a in outs { b.fill(a.block(rows: 0..<m, cols: 0..<m), 0) }
        var i0 = 0
        while i0 < m {
            let i1 = Swift.min(i0 + subChunk, m)
            if i0 > 0 {
                let r = i0 - 1
                for i in i0..<i1 {
                    b.subtract(row, qc.row(i), kc.row(r))
                    b.apply(.exp, row, row)
                    b.multiply(xh.row(i), x.row(i), row)
                }
                for j in 0...r {
                    b.subtract(factors.row(j), kc.row(r), kc.row(j))
                }
                b.apply(.exp, factors.block(rows: 0..<i0, cols: 0..<width), factors.block(rows: 0..<i0, cols: 0..<width))
                for (a, y) in zip(outs, ys) {
                    b.multiply(yh.block(rows: 0..<i0, cols: 0..<width), y.block(rows: 0..<i0, cols: 0..<width), factors.block(rows: 0..<i0, cols: 0..<width))
                    b.gemm(a.block(rows: i0..<i1, cols: 0..<i0), xh.block(rows: i0..<i1, cols: 0..<width), transposeA: false,
                           yh.block(rows: 0..<i0, cols: 0..<width), transposeB: true, accumulate: false)
                }
            }
            for i in i0..<i1 {
                let last = inclusive ? i : i - 1
                if last < i0 { continue }
                for j in i0...last {
                    b.subtract(row, qc.row(i), kc.row(j))
                    b.apply(.exp, row, row)
                    // x_i ⊙ e^{qc_i − kc_j}, then the dot with each y_j.
                    b.multiply(row, row, x.row(i))
                    for (a, y) in zip(outs, ys) { b.dot(a.element(i, j), y.row(j), row) }
                }
            }
            i0 = i1
        }
    }
}
