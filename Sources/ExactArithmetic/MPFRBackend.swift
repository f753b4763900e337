import CMPFR
import NumberFormats

/// The gold-standard tier: every operation an in-place `mpfr_*` call at P bits on values held
/// in one `MPFRArray` arena (no allocation per operation).
///
/// Sums and dot products are correctly rounded (`mpfr_sum` over exact products); matrix
/// products, rank-1 updates and solves are fma chains in the documented order, each term
/// rounded once at P bits, so a K-term chain is within K·2^−P relative to its terms' magnitude.
public final class MPFRBackend: Backend {
    public let precision: Int
    @usableFromInline var arena: MPFRArray
    @usableFromInline var used = 0
    let workspace = MPFRWorkspace()
    /// Exact products for `dot` (2P bits) and the pointer table `mpfr_sum` reads.
    var products: MPFRArray
    var table: UnsafeMutablePointer<mpfr_ptr?>
    var tableCapacity: Int
    var scratch: [Double] = []

    public init(precision: Int = MPFR.defaultPrecision, capacity: Int = 1 << 12) {
        self.precision = precision
        arena = MPFRArray(count: Swift.max(capacity, 16), precision: precision)
        tableCapacity = 256
        products = MPFRArray(count: tableCapacity, precision: 2 * precision)
        table = .allocate(capacity: tableCapacity)
    }

    deinit { table.deallocate() }

    public var tier: BackendTier { .mpfr(bits: precision) }

    public func allocate(rows: Int, cols: Int) -> Tensor {
        let n = rows * cols
        if used + n > arena.count {
            var newCount = arena.count * 2
            while used + n > newCount { newCount *= 2 }
            let bigger = MPFRArray(count: newCount, precision: precision)
            for i in 0..<used { _ = mpfr_set(bigger[i], arena[i], MPFR_RNDN) }
            arena = bigger
        }
        for i in used..<(used + n) { _ = attnprec_mpfr_set_d(arena[i], 0, MPFR_RNDN) }
        let t = Tensor(offset: used, rows: rows, cols: cols)
        used += n
        return t
    }

    /// The `mpfr_t` of element (r, c) of t (valid until the next `allocate`).
    @inlinable @inline(__always)
    public func pointer(_ t: Tensor, _ r: Int = 0, _ c: Int = 0) -> mpfr_ptr {
        arena.values + (t.offset + r * t.rowStride + c)
    }

    func ensureTable(_ n: Int) {
        if n <= tableCapacity { return }
        table.deallocate()
        tableCapacity = Swift.max(n, 2 * tableCapacity)
        table = .allocate(capacity: tableCapacity)
        products = MPFRArray(count: tableCapacity, precision: 2 * precision)
    }

    // MARK: data in and out

    public func load(_ t: Tensor, _ values: UnsafeBufferPointer<Double>) {
        precondition(values.count == t.count, "load: \(values.count) values for \(t.count) elements")
        for r in 0..<t.rows {
            for c in 0..<t.cols { _ = attnprec_mpfr_set_d(pointer(t, r, c), values[r * t.cols + c], MPFR_RNDN) }
        }
    }

    public func fill(_ t: Tensor, _ value: Double) {
        for r in 0..<t.rows { for c in 0..<t.cols { _ = attnprec_mpfr_set_d(pointer(t, r, c), value, MPFR_RNDN) } }
    }

    public func copy(_ dst: Tensor, _ src: Tensor) {
        precondition(dst.rows == src.rows && dst.cols == src.cols)
        for r in 0..<dst.rows { for c in 0..<dst.cols { _ = mpfr_set(pointer(dst, r, c), pointer(src, r, c), MPFR_RNDN) } }
    }

    public func read(_ t: Tensor, into out: UnsafeMutableBufferPointer<Double>) {
        for r in 0..<t.rows { for c in 0..<t.cols { out[r * t.cols + c] = mpfr_get_d(pointer(t, r, c), MPFR_RNDN) } }
    }

    public func export(_ t: Tensor, into out: MPFRArray, at start: Int) {
        precondition(start + t.count <= out.count)
        for r in 0..<t.rows { for c in 0..<t.cols { _ = mpfr_set(out[start + r * t.cols + c], pointer(t, r, c), MPFR_RNDN) } }
    }

    public func store(_ t: Tensor, quantizer: any StoreQuantizer, random: CounterRandom) {
        if scratch.count < t.count { scratch = [Double](repeating: 0, count: t.count) }
        scratch.withUnsafeMutableBufferPointer { sb in
            for r in 0..<t.rows { for c in 0..<t.cols { sb[r * t.cols + c] = attnprec_mpfr_get_d_odd(pointer(t, r, c)) } }
            quantizer.store(UnsafeMutableBufferPointer(rebasing: sb[0..<t.count]), rows: t.rows, cols: t.cols, random: random)
            for r in 0..<t.rows { for c in 0..<t.cols { _ = attnprec_mpfr_set_d(pointer(t, r, c), sb[r * t.cols + c], MPFR_RNDN) } }
        }
    }

    // MARK: elementwise

    @inline(__always)
    func zip(
        _ dst: Tensor, _ a: Tensor, _ b: Tensor,
        _ op: (mpfr_ptr, mpfr_ptr, mpfr_ptr) -> Void
    ) {
        precondition(dst.rows == a.rows && dst.cols == a.cols, "shape mismatch")
        let broadcast = b.count == 1 && a.count != 1
        precondition(broadcast || (b.rows == a.rows && b.cols == a.cols), "shape mismatch")
        for r in 0..<dst.rows {
            for c in 0..<dst.cols {
                op(pointer(dst, r, c), pointer(a, r, c), broadcast ? pointer(b) : pointer(b, r, c))
            }
        }
    }

    public func add(_ dst: Tensor, _ a: Tensor, _ b: Tensor) { zip(dst, a, b) { _ = mpfr_add($0, $1, $2, MPFR_RNDN) } }
    public func subtract(_ dst: Tensor, _ a: Tensor, _ b: Tensor) { zip(dst, a, b) { _ = mpfr_sub($0, $1, $2, MPFR_RNDN) } }
    public func multiply(_ dst: Tensor, _ a: Tensor, _ b: Tensor) { zip(dst, a, b) { _ = mpfr_mul($0, $1, $2, MPFR_RNDN) } }
    public func divide(_ dst: Tensor, _ a: Tensor, _ b: Tensor) { zip(dst, a, b) { _ = mpfr_div($0, $1, $2, MPFR_RNDN) } }
    public func maximum(_ dst: Tensor, _ a: Tensor, _ b: Tensor) { zip(dst, a, b) { _ = mpfr_max($0, $1, $2, MPFR_RNDN) } }

    public func fma(_ dst: Tensor, _ a: Tensor, _ b: Tensor, _ c: Tensor) {
        precondition(dst.rows == a.rows && dst.cols == a.cols, "shape mismatch")
        let bs = b.count == 1 && a.count != 1, cs = c.count == 1 && a.count != 1
        for r in 0..<dst.rows {
            for j in 0..<dst.cols {
                _ = mpfr_fma(
                    pointer(dst, r, j), pointer(a, r, j), bs ? pointer(b) : pointer(b, r, j),
                    cs ? pointer(c) : pointer(c, r, j), MPFR_RNDN)
            }
        }
    }

    public func apply(_ f: ElementFunction, _ dst: Tensor, _ src: Tensor) {
        precondition(dst.rows == src.rows && dst.cols == src.cols, "shape mismatch")
        for r in 0..<dst.rows {
            for c in 0..<dst.cols { MPFRFunctions.evaluate(f, pointer(dst, r, c), pointer(src, r, c), workspace: workspace) }
        }
    }

    // MARK: reductions

    public func sum(_ out: Tensor, _ x: Tensor) {
        precondition(x.isContiguous)
        ensureTable(x.count)
        for i in 0..<x.count { table[i] = pointer(x.element(i)) }
        _ = mpfr_sum(pointer(out), table, UInt(x.count), MPFR_RNDN)
    }

    public func dot(_ out: Tensor, _ x: Tensor, _ y: Tensor) {
        precondition(x.isContiguous && y.isContiguous && x.count == y.count)
        ensureTable(x.count)
        for i in 0..<x.count {
            _ = mpfr_mul(products[i], pointer(x.element(i)), pointer(y.element(i)), MPFR_RNDN)  // exact at 2P
            table[i] = products[i]
        }
        _ = mpfr_sum(pointer(out), table, UInt(x.count), MPFR_RNDN)
    }

    public func max(_ out: Tensor, _ x: Tensor) {
        precondition(x.isContiguous && x.count > 0)
        var best = 0
        for i in 1..<x.count where mpfr_greater_p(pointer(x.element(i)), pointer(x.element(best))) != 0 { best = i }
        _ = mpfr_set(pointer(out), pointer(x.element(best)), MPFR_RNDN)
    }

    public func l2Normalize(_ x: Tensor, eps: Double) {
        ensureTable(x.count + 1)
        for i in 0..<x.count {
            _ = mpfr_sqr(products[i], pointer(x.element(i)), MPFR_RNDN)
            table[i] = products[i]
        }
        let s = workspace.output.pointer
        mpfr_set_prec(s, mpfr_prec_t(precision))
        defer { mpfr_set_prec(s, 256) }
        _ = mpfr_sum(s, table, UInt(x.count), MPFR_RNDN)
        _ = mpfr_add_d(s, s, eps, MPFR_RNDN)
        _ = mpfr_rec_sqrt(s, s, MPFR_RNDN)
        for i in 0..<x.count { _ = mpfr_mul(pointer(x.element(i)), pointer(x.element(i)), s, MPFR_RNDN) }
    }

    // MARK: level 1–2

    public func scale(_ x: Tensor, by s: Tensor) { multiply(x, x, s) }
    public func axpy(_ y: Tensor, _ a: Tensor, _ x: Tensor) { fma(y, x, a, y) }

    public func scaleRows(_ m: Tensor, by v: Tensor) { scaleRows(m, m, by: v) }

    public func scaleRows(_ d: Tensor, _ x: Tensor, by v: Tensor) {
        precondition(v.count == x.rows && d.rows == x.rows && d.cols == x.cols)
        for r in 0..<x.rows {
            let s = pointer(v.element(r))
            for c in 0..<x.cols { _ = mpfr_mul(pointer(d, r, c), pointer(x, r, c), s, MPFR_RNDN) }
        }
    }

    public func scaleColumns(_ m: Tensor, by v: Tensor) {
        precondition(v.count == m.cols)
        for r in 0..<m.rows {
            for c in 0..<m.cols { _ = mpfr_mul(pointer(m, r, c), pointer(m, r, c), pointer(v.element(c)), MPFR_RNDN) }
        }
    }

    public func matvec(_ y: Tensor, _ m: Tensor, _ x: Tensor) {
        precondition(x.count == m.cols && y.count == m.rows)
        for r in 0..<m.rows {
            let acc = pointer(y.element(r))
            mpfr_set_zero(acc, 1)
            for c in 0..<m.cols { _ = mpfr_fma(acc, pointer(m, r, c), pointer(x.element(c)), acc, MPFR_RNDN) }
        }
    }

    public func matTvec(_ y: Tensor, _ m: Tensor, _ x: Tensor) {
        precondition(x.count == m.rows && y.count == m.cols)
        let ys = pointer(y)
        for c in 0..<m.cols { mpfr_set_zero(ys + c, 1) }
        for r in 0..<m.rows {
            let row = pointer(m, r), xr = pointer(x.element(r))
            for c in 0..<m.cols { _ = mpfr_fma(ys + c, row + c, xr, ys + c, MPFR_RNDN) }
        }
    }

    public func rank1(_ m: Tensor, _ x: Tensor, _ y: Tensor) {
        precondition(x.count == m.rows && y.count == m.cols)
        let ys = pointer(y)
        for r in 0..<m.rows {
            let row = pointer(m, r), xr = pointer(x.element(r))
            for c in 0..<m.cols { _ = mpfr_fma(row + c, xr, ys + c, row + c, MPFR_RNDN) }
        }
    }

    public func decayRank1MatTvec(_ m: Tensor, decay: Tensor?, _ x: Tensor, _ y: Tensor, _ q: Tensor, _ out: Tensor) {
        precondition(x.count == m.rows && y.count == m.cols && q.count == m.rows && out.count == m.cols)
        let ys = pointer(y), os = pointer(out)
        for c in 0..<m.cols { mpfr_set_zero(os + c, 1) }
        let a = decay.map { pointer($0) }
        for r in 0..<m.rows {
            let row = pointer(m, r), xr = pointer(x.element(r)), qr = pointer(q.element(r))
            for c in 0..<m.cols {
                if let a { _ = mpfr_mul(row + c, row + c, a, MPFR_RNDN) }
                _ = mpfr_fma(row + c, xr, ys + c, row + c, MPFR_RNDN)
                _ = mpfr_fma(os + c, row + c, qr, os + c, MPFR_RNDN)
            }
        }
    }

    // MARK: level 3

    public func gemm(_ c: Tensor, _ a: Tensor, transposeA: Bool, _ b: Tensor, transposeB: Bool, accumulate: Bool) {
        let m = transposeA ? a.cols : a.rows, k = transposeA ? a.rows : a.cols
        let kb = transposeB ? b.cols : b.rows, n = transposeB ? b.rows : b.cols
        precondition(k == kb && c.rows == m && c.cols == n, "gemm shape mismatch")
        for i in 0..<m {
            if !accumulate { for j in 0..<n { mpfr_set_zero(pointer(c, i, j), 1) } }
            for kk in 0..<k {
                let aik = transposeA ? pointer(a, kk, i) : pointer(a, i, kk)
                for j in 0..<n {
                    let bkj = transposeB ? pointer(b, j, kk) : pointer(b, kk, j)
                    _ = mpfr_fma(pointer(c, i, j), aik, bkj, pointer(c, i, j), MPFR_RNDN)
                }
            }
        }
    }

    public func solveUnitLower(_ l: Tensor, _ b: Tensor) {
        precondition(l.rows == l.cols && l.rows == b.rows)
        let neg = workspace.output.pointer
        mpfr_set_prec(neg, mpfr_prec_t(precision))
        defer { mpfr_set_prec(neg, 256) }
        for i in 0..<b.rows {
            for j in 0..<i {
                _ = mpfr_neg(neg, pointer(l, i, j), MPFR_RNDN)
                for c in 0..<b.cols { _ = mpfr_fma(pointer(b, i, c), neg, pointer(b, j, c), pointer(b, i, c), MPFR_RNDN) }
            }
        }
    }

    public func cumulativeSumRows(_ x: Tensor) {
        for r in 1..<Swift.max(x.rows, 1) {
            for c in 0..<x.cols { _ = mpfr_add(pointer(x, r, c), pointer(x, r, c), pointer(x, r - 1, c), MPFR_RNDN) }
        }
    }

    public func decayMatrix(_ d: Tensor, _ g: Tensor) {
        let n = g.count
        precondition((g.rows == 1 || g.cols == 1) && d.rows == n && d.cols == n, "decayMatrix shape mismatch")
        func gp(_ i: Int) -> mpfr_ptr { g.rows == 1 ? pointer(g, 0, i) : pointer(g, i, 0) }
        for i in 0..<n {
            for j in 0...i { _ = mpfr_sub(pointer(d, i, j), gp(i), gp(j), MPFR_RNDN) }
            let row = Tensor(offset: d.offset + i * d.rowStride, rows: 1, cols: i + 1)
            apply(.exp, row, row)
        }
    }
}
