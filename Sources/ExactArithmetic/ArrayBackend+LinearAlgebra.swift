import CBLAS
import CMPFR
import NumberFormats

extension ArrayBackend {
    // MARK: level 1–2

    @inlinable public func scale(_ x: Tensor, by s: Tensor) { multiply(x, x, s) }

    @inlinable
    public func axpy(_ y: Tensor, _ a: Tensor, _ x: Tensor) { fma(y, x, a, y) }

    @inlinable
    public func scaleRows(_ m: Tensor, by v: Tensor) {
        precondition(v.count == m.rows)
        let vs = p(v)
        for r in 0..<m.rows {
            let d = p(m) + r * m.rowStride, s = vs[r]
            for c in 0..<m.cols { d[c] = d[c] * s }
        }
    }

    @inlinable
    public func scaleRows(_ d: Tensor, _ x: Tensor, by v: Tensor) {
        precondition(v.count == x.rows && d.rows == x.rows && d.cols == x.cols)
        guard p(d) != p(x) else { return scaleRows(d, by: v) }
        let vs = p(v)
        for r in 0..<x.rows {
            let dr = p(d) + r * d.rowStride, xr = p(x) + r * x.rowStride, s = vs[r]
            for c in 0..<x.cols { dr[c] = xr[c] * s }
        }
    }

    @inlinable
    public func scaleColumns(_ m: Tensor, by v: Tensor) {
        precondition(v.count == m.cols)
        let vs = p(v)
        for r in 0..<m.rows {
            let d = p(m) + r * m.rowStride
            for c in 0..<m.cols { d[c] = d[c] * vs[c] }
        }
    }

    @inlinable
    public func matvec(_ y: Tensor, _ m: Tensor, _ x: Tensor) {
        precondition(x.count == m.cols && y.count == m.rows)
        let xs = p(x), ys = p(y)
        for r in 0..<m.rows {
            let row = p(m) + r * m.rowStride
            var acc = S.zero
            for c in 0..<m.cols { acc = S.fused(row[c], xs[c], acc) }
            ys[r] = acc
        }
    }

    @inlinable
    public func matTvec(_ y: Tensor, _ m: Tensor, _ x: Tensor) {
        precondition(x.count == m.rows && y.count == m.cols)
        let xs = p(x), ys = p(y)
        ys.update(repeating: S.zero, count: m.cols)
        for r in 0..<m.rows {
            let row = p(m) + r * m.rowStride, xr = xs[r]
            for c in 0..<m.cols { ys[c] = S.fused(row[c], xr, ys[c]) }
        }
    }

    @inlinable
    public func rank1(_ m: Tensor, _ x: Tensor, _ y: Tensor) {
        precondition(x.count == m.rows && y.count == m.cols)
        let xs = p(x), ys = p(y)
        for r in 0..<m.rows {
            let row = p(m) + r * m.rowStride, xr = xs[r]
            for c in 0..<m.cols { row[c] = S.fused(xr, ys[c], row[c]) }
        }
    }

    @inlinable
    public func decayRank1MatTvec(_ m: Tensor, decay: Tensor?, _ x: Tensor, _ y: Tensor, _ q: Tensor, _ out: Tensor) {
        precondition(x.count == m.rows && y.count == m.cols && q.count == m.rows && out.count == m.cols)
        p(out).update(repeating: S.zero, count: m.cols)
        // Two specialisations of one sweep: the decay test folds away in each.
        if let decay {
            decayRank1MatTvecSweep(m, decayed: true, a: p(decay)[0], x, y, q, out)
        } else {
            decayRank1MatTvecSweep(m, decayed: false, a: S.zero, x, y, q, out)
        }
    }

    /// S ← a·S + x yᵀ (a·S only when `decayed`), out ← Sᵀq. Four rows per sweep: out[c] stays in
    /// a register across them, and its fmas run in the same row order as one row at a time, so
    /// the bits do not change.
    @inlinable @inline(__always)
    func decayRank1MatTvecSweep(_ m: Tensor, decayed: Bool, a: S, _ x: Tensor, _ y: Tensor, _ q: Tensor, _ out: Tensor) {
        let xs = p(x), ys = p(y), qs = p(q), os = p(out)
        var r = 0
        while r + 4 <= m.rows {
            let r0 = p(m) + r * m.rowStride, r1 = r0 + m.rowStride, r2 = r1 + m.rowStride, r3 = r2 + m.rowStride
            let x0 = xs[r], x1 = xs[r + 1], x2 = xs[r + 2], x3 = xs[r + 3]
            let q0 = qs[r], q1 = qs[r + 1], q2 = qs[r + 2], q3 = qs[r + 3]
            for c in 0..<m.cols {
                let yc = ys[c]
                let s0 = S.fused(x0, yc, decayed ? r0[c] * a : r0[c])
                let s1 = S.fused(x1, yc, decayed ? r1[c] * a : r1[c])
                let s2 = S.fused(x2, yc, decayed ? r2[c] * a : r2[c])
                let s3 = S.fused(x3, yc, decayed ? r3[c] * a : r3[c])
                r0[c] = s0
                r1[c] = s1
                r2[c] = s2
                r3[c] = s3
                os[c] = S.fused(s3, q3, S.fused(s2, q2, S.fused(s1, q1, S.fused(s0, q0, os[c]))))
            }
            r += 4
        }
        while r < m.rows {
            let row = p(m) + r * m.rowStride, xr = xs[r], qr = qs[r]
            for c in 0..<m.cols {
                let s = S.fused(xr, ys[c], decayed ? row[c] * a : row[c])
                row[c] = s
                os[c] = S.fused(s, qr, os[c])
            }
            r += 1
        }
    }

    // MARK: level 3

    /// C (+)= op(A)·op(B) in a fixed order, so the bits do not depend on the machine (no BLAS):
    /// binary32 (`gemmFloat`, blocked SIMD) sums each element's fma chain over k = 0, 1, … from
    /// 0 and adds it to C once; the other tiers chain fma(a_ik, b_kj, c) from C (or 0) in turn.
    @inlinable
    public func gemm(_ c: Tensor, _ a: Tensor, transposeA: Bool, _ b: Tensor, transposeB: Bool, accumulate: Bool) {
        let m = transposeA ? a.cols : a.rows, k = transposeA ? a.rows : a.cols
        let kb = transposeB ? b.cols : b.rows, n = transposeB ? b.rows : b.cols
        precondition(k == kb && c.rows == m && c.cols == n, "gemm shape mismatch")
        if S.self == Float.self {
            if gemmViaBLAS && m * n * k >= 32 * 32 * 32 {
                blasGemm(c, a, transposeA: transposeA, b, transposeB: transposeB, accumulate: accumulate)
                return
            }
            gemmFloat(c, a, transposeA: transposeA, b, transposeB: transposeB, accumulate: accumulate, m: m, n: n, k: k)
            return
        }
        if S.self == Double.self {
            gemmDouble(c, a, transposeA: transposeA, b, transposeB: transposeB, accumulate: accumulate, m: m, n: n, k: k)
            return
        }
        let pa = p(a), pb = p(b)
        for i in 0..<m {
            let ci = p(c) + i * c.rowStride
            if !accumulate { ci.update(repeating: S.zero, count: n) }
            for kk in 0..<k {
                let aik = transposeA ? pa[kk * a.rowStride + i] : pa[i * a.rowStride + kk]
                if transposeB {
                    for j in 0..<n { ci[j] = S.fused(aik, pb[j * b.rowStride + kk], ci[j]) }
                } else {
                    let bk = pb + kk * b.rowStride
                    for j in 0..<n { ci[j] = S.fused(aik, bk[j], ci[j]) }
                }
            }
        }
    }

    /// OpenBLAS's sgemm on the same operands (benchmarks only: its bits depend on the kernel
    /// family OpenBLAS picks for the CPU).
    public func blasGemm(_ c: Tensor, _ a: Tensor, transposeA: Bool, _ b: Tensor, transposeB: Bool, accumulate: Bool) {
        precondition(S.self == Float.self, "blasGemm: binary32 only")
        let m = transposeA ? a.cols : a.rows, k = transposeA ? a.rows : a.cols
        let n = transposeB ? b.rows : b.cols
        _ = blasSingleThreaded
        let fa = UnsafeMutableRawPointer(p(a)).assumingMemoryBound(to: Float.self)
        let fb = UnsafeMutableRawPointer(p(b)).assumingMemoryBound(to: Float.self)
        let fc = UnsafeMutableRawPointer(p(c)).assumingMemoryBound(to: Float.self)
        cblas_sgemm(
            CblasRowMajor, transposeA ? CblasTrans : CblasNoTrans, transposeB ? CblasTrans : CblasNoTrans,
            blasint(m), blasint(n), blasint(k), 1, fa, blasint(a.rowStride), fb, blasint(b.rowStride),
            accumulate ? 1 : 0, fc, blasint(c.rowStride))
    }

    @inlinable
    public func solveUnitLower(_ l: Tensor, _ b: Tensor) {
        precondition(l.rows == l.cols && l.rows == b.rows)
        if S.self == Float.self {
            solveUnitLowerFloat(l, b)
            return
        }
        let pl = p(l)
        for i in 0..<b.rows {
            let bi = p(b) + i * b.rowStride
            for j in 0..<i {
                let lij = -pl[i * l.rowStride + j]
                let bj = p(b) + j * b.rowStride
                for c in 0..<b.cols { bi[c] = S.fused(lij, bj[c], bi[c]) }
            }
        }
    }
}

extension ArrayBackend {
    @inlinable
    public func cumulativeSumRows(_ x: Tensor) {
        for r in 1..<Swift.max(x.rows, 1) {
            let d = p(x) + r * x.rowStride, s = p(x) + (r - 1) * x.rowStride
            for c in 0..<x.cols { d[c] = d[c] + s[c] }
        }
    }

    @inlinable
    public func decayMatrix(_ d: Tensor, _ g: Tensor) {
        let n = g.count
        precondition((g.rows == 1 || g.cols == 1) && d.rows == n && d.cols == n, "decayMatrix shape mismatch")
        let pg = p(g), step = g.rows == 1 ? 1 : g.rowStride
        if S.self == Float.self {
            // The lower triangle as one stream of differences, one eight-lane exp pass, rows back.
            let fg = UnsafeMutableRawPointer(pg).assumingMemoryBound(to: Float.self)
            let fd = UnsafeMutableRawPointer(p(d)).assumingMemoryBound(to: Float.self)
            withUnsafeTemporaryAllocation(of: Float.self, capacity: n * (n + 1) / 2) { flat in
                var k = 0
                for i in 0..<n {
                    let gi = fg[i * step], row = flat.baseAddress! + k
                    if step == 1 {
                        for j in 0..<(i + 1) { row[j] = gi - fg[j] }
                    } else {
                        for j in 0..<(i + 1) { row[j] = gi - fg[j * step] }
                    }
                    k += i + 1
                }
                lanesFloat(.exp, flat.baseAddress!, flat.baseAddress!, count: k)
                k = 0
                for i in 0..<n {
                    (fd + i * d.rowStride).update(from: flat.baseAddress! + k, count: i + 1)
                    k += i + 1
                }
            }
            return
        }
        for i in 0..<n {
            let row = p(d) + i * d.rowStride, gi = pg[i * step]
            for j in 0..<(i + 1) { row[j] = gi - pg[j * step] }
            let t = Tensor(offset: d.offset + i * d.rowStride, rows: 1, cols: i + 1)
            apply(.exp, t, t)
        }
    }
}
