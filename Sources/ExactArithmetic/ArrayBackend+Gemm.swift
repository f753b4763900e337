import NumberFormats

/// The binary32 matrix product of the chunked forms, with a fixed summation order: every element
/// of op(A)·op(B) is the fma chain s ← fma(a_ik, b_kj, s) for k = 0, 1, …, K − 1 in turn from
/// s = 0, and with `accumulate` it is then added to C once (c ← c + s, one rounding) — the order
/// of a GPU kernel's `acc += dot(k, v)` on a tile and of BLAS with β = 1. The bits depend neither
/// on the blocking below nor on a BLAS library's kernel family, the thread count or the CPU's
/// vector width: SIMD lanes hold different columns j, never parts of one sum, and every fma
/// rounds once on every CPU (a CPU without the instruction computes the same correctly rounded
/// value in software).
///
/// Blocking: 6 rows × 2 vectors of C in twelve accumulators — 8-lane vectors (AVX2's 16
/// registers), or 16-lane ones on a native build for a CPU with AVX-512 (32 registers;
/// `BenchEnvironment.nativeAVX512`) — then one vector, then a scalar tail; a 1-row kernel for
/// the remaining rows. A transposed B is first copied to K rows of N. The vector width changes
/// which columns share a register, never an element's sum.
extension ArrayBackend {
    @usableFromInline
    func gemmFloat(_ c: Tensor, _ a: Tensor, transposeA: Bool, _ b: Tensor, transposeB: Bool, accumulate: Bool, m: Int, n: Int, k: Int) {
        @inline(__always) func f(_ t: Tensor) -> UnsafeMutablePointer<Float> {
            UnsafeMutableRawPointer(p(t)).assumingMemoryBound(to: Float.self)
        }
        let pa = f(a), pc = f(c), lda = a.rowStride, ldc = c.rowStride
        // op(B) as K rows of N floats, row stride ldb.
        let packed = transposeB ? Self.packTransposed(f(b), ldb: b.rowStride, k: k, n: n) : nil
        let pb = packed ?? f(b), ldb = transposeB ? n : b.rowStride
        defer { packed?.deallocate() }
        // a_ik: A row i (or column i of a transposed A).
        let g = GemmOperands(a: pa, rowStep: transposeA ? 1 : lda, kStep: transposeA ? lda : 1, b: pb, ldb: ldb, c: pc, ldc: ldc,
                             n: n, k: k, accumulate: accumulate)
        if BenchEnvironment.nativeAVX512 { Self.gemmBlocked(SIMD16<Float>.self, g, rows: m) } else { Self.gemmBlocked(SIMD8<Float>.self, g, rows: m) }
    }

    @inline(__always)
    static func gemmBlocked<V: SIMD>(_: V.Type, _ g: GemmOperands, rows m: Int) where V.Scalar == Float {
        var i = 0
        while i + 6 <= m {
            gemmRows6(V.self, g, row: i)
            i += 6
        }
        while i < m {
            gemmRow1(V.self, g, row: i)
            i += 1
        }
    }

    /// Rows i…i+5 of C.
    @inline(__always)
    static func gemmRows6<V: SIMD>(_: V.Type, _ g: GemmOperands, row i: Int) where V.Scalar == Float {
        let w = V.scalarCount, n = g.n, k = g.k, kStep = g.kStep, b = g.b, ldb = g.ldb
        let c0 = g.c + i * g.ldc, c1 = c0 + g.ldc, c2 = c1 + g.ldc, c3 = c2 + g.ldc, c4 = c3 + g.ldc, c5 = c4 + g.ldc
        let a0 = g.a + i * g.rowStep, a1 = a0 + g.rowStep, a2 = a1 + g.rowStep, a3 = a2 + g.rowStep, a4 = a3 + g.rowStep, a5 = a4 + g.rowStep
        // The sum, added to C once when accumulating.
        @inline(__always) func put(_ q: UnsafeMutablePointer<Float>, _ v: V) { store(q, g.accumulate ? load(q) + v : v) }
        var j = 0
        while j + 2 * w <= n {
            var x0 = V(), y0 = V(), x1 = V(), y1 = V()
            var x2 = V(), y2 = V(), x3 = V(), y3 = V()
            var x4 = V(), y4 = V(), x5 = V(), y5 = V()
            for kk in 0..<k {
                let bk = b + kk * ldb + j, o = kk * kStep
                let b0: V = load(bk), b1: V = load(bk + w)
                var s = V(repeating: a0[o])
                x0 = x0.addingProduct(s, b0); y0 = y0.addingProduct(s, b1)
                s = V(repeating: a1[o]); x1 = x1.addingProduct(s, b0); y1 = y1.addingProduct(s, b1)
                s = V(repeating: a2[o]); x2 = x2.addingProduct(s, b0); y2 = y2.addingProduct(s, b1)
                s = V(repeating: a3[o]); x3 = x3.addingProduct(s, b0); y3 = y3.addingProduct(s, b1)
                s = V(repeating: a4[o]); x4 = x4.addingProduct(s, b0); y4 = y4.addingProduct(s, b1)
                s = V(repeating: a5[o]); x5 = x5.addingProduct(s, b0); y5 = y5.addingProduct(s, b1)
            }
            put(c0 + j, x0); put(c0 + j + w, y0); put(c1 + j, x1); put(c1 + j + w, y1)
            put(c2 + j, x2); put(c2 + j + w, y2); put(c3 + j, x3); put(c3 + j + w, y3)
            put(c4 + j, x4); put(c4 + j + w, y4); put(c5 + j, x5); put(c5 + j + w, y5)
            j += 2 * w
        }
        if j + w <= n {
            var x0 = V(), x1 = V(), x2 = V(), x3 = V(), x4 = V(), x5 = V()
            for kk in 0..<k {
                let b0: V = load(b + kk * ldb + j), o = kk * kStep
                x0 = x0.addingProduct(V(repeating: a0[o]), b0); x1 = x1.addingProduct(V(repeating: a1[o]), b0)
                x2 = x2.addingProduct(V(repeating: a2[o]), b0); x3 = x3.addingProduct(V(repeating: a3[o]), b0)
                x4 = x4.addingProduct(V(repeating: a4[o]), b0); x5 = x5.addingProduct(V(repeating: a5[o]), b0)
            }
            put(c0 + j, x0); put(c1 + j, x1); put(c2 + j, x2); put(c3 + j, x3); put(c4 + j, x4); put(c5 + j, x5)
            j += w
        }
        if j < n { for r in 0..<6 { gemmTail(g, row: i + r, from: j) } }
    }

    /// Row i of C.
    @inline(__always)
    static func gemmRow1<V: SIMD>(_: V.Type, _ g: GemmOperands, row i: Int) where V.Scalar == Float {
        let w = V.scalarCount, a = g.a + i * g.rowStep, c = g.c + i * g.ldc
        var j = 0
        while j + w <= g.n {
            var x = V()
            for kk in 0..<g.k { x = x.addingProduct(V(repeating: a[kk * g.kStep]), load(g.b + kk * g.ldb + j)) }
            store(c + j, g.accumulate ? load(c + j) + x : x)
            j += w
        }
        if j < g.n { gemmTail(g, row: i, from: j) }
    }

    /// Columns j0..<n of row i, one element at a time (the same order).
    @inline(__always)
    static func gemmTail(_ g: GemmOperands, row i: Int, from j0: Int) {
        let a = g.a + i * g.rowStep, c = g.c + i * g.ldc
        for j in j0..<g.n {
            var x: Float = 0
            for kk in 0..<g.k { x = Float.fused(a[kk * g.kStep], g.b[kk * g.ldb + j], x) }
            c[j] = g.accumulate ? c[j] + x : x
        }
    }

    @inline(__always)
    static func load<V: SIMD>(_ q: UnsafeMutablePointer<Float>) -> V where V.Scalar == Float { UnsafeRawPointer(q).loadUnaligned(as: V.self) }

    @inline(__always)
    static func store<V: SIMD>(_ q: UnsafeMutablePointer<Float>, _ v: V) where V.Scalar == Float {
        UnsafeMutableRawPointer(q).storeBytes(of: v, as: V.self)
    }
}

/// The operands of one binary32 gemm: a_ik at a + i·rowStep + k·kStep, b_kj at b + k·ldb + j,
/// c_ij at c + i·ldc + j.
@usableFromInline
struct GemmOperands {
    let a: UnsafeMutablePointer<Float>
    let rowStep: Int, kStep: Int
    let b: UnsafeMutablePointer<Float>
    let ldb: Int
    let c: UnsafeMutablePointer<Float>
    let ldc: Int
    let n: Int, k: Int
    let accumulate: Bool
}

extension ArrayBackend {
    /// The binary64 gemm: the same fma chain per element as the generic loop (c_ij ←
    /// fma(a_ik, b_kj, c_ij) for k = 0, 1, … from C or 0), four columns of a row at a time
    /// (`addingProduct` is one fused multiply-add per lane), op(B) packed into K rows of N
    /// doubles first when transposed. The same bits as the scalar chain, at SIMD speed.
    @usableFromInline
    func gemmDouble(_ c: Tensor, _ a: Tensor, transposeA: Bool, _ b: Tensor, transposeB: Bool, accumulate: Bool, m: Int, n: Int, k: Int) {
        @inline(__always) func d(_ t: Tensor) -> UnsafeMutablePointer<Double> {
            UnsafeMutableRawPointer(p(t)).assumingMemoryBound(to: Double.self)
        }
        let pa = d(a), pc = d(c)
        let packed = transposeB ? Self.packTransposed(d(b), ldb: b.rowStride, k: k, n: n) : nil
        let pb = packed ?? d(b), ldb = transposeB ? n : b.rowStride
        defer { packed?.deallocate() }
        for i in 0..<m where !accumulate { (pc + i * c.rowStride).update(repeating: 0, count: n) }
        @inline(__always) func aAt(_ i: Int, _ kk: Int) -> Double { transposeA ? pa[kk * a.rowStride + i] : pa[i * a.rowStride + kk] }
        // Blocks of 4 rows × 8 columns held in registers across the whole k loop (each element's
        // chain still runs k = 0, 1, … in turn), then the leftover rows and columns one at a time.
        var i = 0
        while i + 4 <= m {
            var j = 0
            while j + 8 <= n {
                @inline(__always) func load(_ r: Int, _ h: Int) -> SIMD4<Double> {
                    UnsafeRawPointer(pc + (i + r) * c.rowStride + j + h).loadUnaligned(as: SIMD4<Double>.self)
                }
                @inline(__always) func store(_ r: Int, _ h: Int, _ v: SIMD4<Double>) {
                    UnsafeMutableRawPointer(pc + (i + r) * c.rowStride + j + h).storeBytes(of: v, as: SIMD4<Double>.self)
                }
                var (c00, c01, c10, c11) = (load(0, 0), load(0, 4), load(1, 0), load(1, 4))
                var (c20, c21, c30, c31) = (load(2, 0), load(2, 4), load(3, 0), load(3, 4))
                for kk in 0..<k {
                    let bk = pb + kk * ldb + j
                    let b0 = UnsafeRawPointer(bk).loadUnaligned(as: SIMD4<Double>.self), b1 = UnsafeRawPointer(bk + 4).loadUnaligned(as: SIMD4<Double>.self)
                    let a0 = SIMD4(repeating: aAt(i, kk)), a1 = SIMD4(repeating: aAt(i + 1, kk))
                    let a2 = SIMD4(repeating: aAt(i + 2, kk)), a3 = SIMD4(repeating: aAt(i + 3, kk))
                    c00 = c00.addingProduct(a0, b0); c01 = c01.addingProduct(a0, b1)
                    c10 = c10.addingProduct(a1, b0); c11 = c11.addingProduct(a1, b1)
                    c20 = c20.addingProduct(a2, b0); c21 = c21.addingProduct(a2, b1)
                    c30 = c30.addingProduct(a3, b0); c31 = c31.addingProduct(a3, b1)
                }
                store(0, 0, c00); store(0, 4, c01); store(1, 0, c10); store(1, 4, c11)
                store(2, 0, c20); store(2, 4, c21); store(3, 0, c30); store(3, 4, c31)
                j += 8
            }
            for r in i..<(i + 4) { gemmDoubleTail(pc + r * c.rowStride, from: j, to: n, k: k, ldb: ldb, pb: pb) { aAt(r, $0) } }
            i += 4
        }
        while i < m {
            gemmDoubleTail(pc + i * c.rowStride, from: 0, to: n, k: k, ldb: ldb, pb: pb) { aAt(i, $0) }
            i += 1
        }
    }

    /// op(B) for a transposed B (n rows of k at stride ldb) as k rows of n, freshly allocated.
    @usableFromInline
    static func packTransposed<T>(_ b: UnsafeMutablePointer<T>, ldb: Int, k: Int, n: Int) -> UnsafeMutablePointer<T> {
        let q = UnsafeMutablePointer<T>.allocate(capacity: Swift.max(k * n, 1))
        for j in 0..<n {
            let src = b + j * ldb
            for kk in 0..<k { (q + kk * n + j).initialize(to: src[kk]) }
        }
        return q
    }

    /// Columns lo..<hi of one row of C: c_j ← fma(a_k, b_kj, c_j) for k in turn.
    @inline(__always)
    func gemmDoubleTail(_ ci: UnsafeMutablePointer<Double>, from lo: Int, to hi: Int, k: Int, ldb: Int, pb: UnsafeMutablePointer<Double>, a: (Int) -> Double) {
        guard lo < hi else { return }
        for kk in 0..<k {
            let aik = a(kk), bk = pb + kk * ldb
            for j in lo..<hi { ci[j] = ci[j].addingProduct(aik, bk[j]) }
        }
    }
}
