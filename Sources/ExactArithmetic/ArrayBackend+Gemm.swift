import NumberFormats

/// The matrix products of the chunked forms and the stacks, in a fixed summation order whose bits
/// depend neither on the blocking below nor on a BLAS library's kernel family, the thread count
/// or the CPU's vector width: SIMD lanes hold different columns j, never parts of one sum, and
/// every fma rounds once on every CPU (a CPU without the instruction computes the same correctly
/// rounded value in software).
///
/// - binary32 (`gemmFloat`): every element of op(A)·op(B) is the fma chain s ← fma(a_ik, b_kj, s)
///   for k = 0, 1, …, K − 1 in turn from s = 0, and with `accumulate` it is then added to C once
///   (c ← c + s, one rounding) — the order of a GPU kernel's `acc += dot(k, v)` on a tile and of
///   BLAS with β = 1.
/// - binary64 (`gemmDouble`, the reference tier): the chain runs from C itself (accumulating) or
///   from 0: c_ij ← fma(a_ik, b_kj, c_ij) for k = 0, 1, … — the generic loop's order.
///
/// Blocking (both): 6 rows × 2 vectors of C in twelve accumulators held across the whole k loop —
/// 8 floats or 4 doubles a vector (AVX2's 16 registers), 16 or 8 on a native build for a CPU with
/// AVX-512 (`BenchEnvironment.nativeAVX512`) — then one vector, then a scalar tail, over column
/// blocks of op(B) that fit L2 (`FixedOrderGemm.panelBytes`). The last
/// 2…5 rows take the same 6-row kernel with the missing rows repeating the last one (computed,
/// never stored); a single last row takes a 1-row kernel. A transposed B is first copied to K
/// rows of N. None of this changes an element's chain.
extension ArrayBackend {
    @usableFromInline
    func gemmFloat(_ c: Tensor, _ a: Tensor, transposeA: Bool, _ b: Tensor, transposeB: Bool, accumulate: Bool, m: Int, n: Int, k: Int) {
        gemmFixedOrder(SIMD8<Float>.self, wide: SIMD16<Float>.self, c, a, transposeA: transposeA, b, transposeB: transposeB,
                       accumulate: accumulate, chainFromC: false, m: m, n: n, k: k)
    }

    @usableFromInline
    func gemmDouble(_ c: Tensor, _ a: Tensor, transposeA: Bool, _ b: Tensor, transposeB: Bool, accumulate: Bool, m: Int, n: Int, k: Int) {
        gemmFixedOrder(SIMD4<Double>.self, wide: SIMD8<Double>.self, c, a, transposeA: transposeA, b, transposeB: transposeB,
                       accumulate: accumulate, chainFromC: true, m: m, n: n, k: k)
    }

    /// The product through `FixedOrderGemm` with vectors V (AVX2), or W on an AVX-512 build.
    @inline(__always)
    func gemmFixedOrder<V: SIMD, W: SIMD>(
        _: V.Type, wide _: W.Type, _ c: Tensor, _ a: Tensor, transposeA: Bool, _ b: Tensor, transposeB: Bool, accumulate: Bool, chainFromC: Bool,
        m: Int, n: Int, k: Int
    ) where V.Scalar: BinaryFloatingPoint, W.Scalar == V.Scalar {
        typealias T = V.Scalar
        @inline(__always) func f(_ t: Tensor) -> UnsafeMutablePointer<T> { UnsafeMutableRawPointer(p(t)).assumingMemoryBound(to: T.self) }
        // op(B) as K rows of N, row stride ldb.
        let packed = transposeB ? Self.packTransposed(f(b), ldb: b.rowStride, k: k, n: n) : nil
        defer { packed?.deallocate() }
        // a_ik: A row i (or column i of a transposed A).
        let g = GemmOperands(a: f(a), rowStep: transposeA ? 1 : a.rowStride, kStep: transposeA ? a.rowStride : 1, b: packed ?? f(b),
                             ldb: transposeB ? n : b.rowStride, c: f(c), ldc: c.rowStride, n: n, k: k, accumulate: accumulate, chainFromC: chainFromC)
        if BenchEnvironment.nativeAVX512 { FixedOrderGemm.blocked(W.self, g, rows: m) } else { FixedOrderGemm.blocked(V.self, g, rows: m) }
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
}

/// The register-blocked kernels of the fixed-order gemm (module level, so that a caller of an
/// unspecialised `ArrayBackend<S>` still runs them specialised for their concrete vector type).
@usableFromInline
enum FixedOrderGemm {
    /// The bytes of op(B) one column block may take (its K × nc elements stay in L2 while every
    /// row block of C passes over them; a row block's K elements of A stay in L1).
    static let panelBytes = 128 << 10

    @inline(__always)
    static func blocked<V: SIMD>(_: V.Type, _ g: GemmOperands<V.Scalar>, rows m: Int) where V.Scalar: BinaryFloatingPoint {
        let w2 = 2 * V.scalarCount
        let nc = Swift.max(w2, panelBytes / Swift.max(1, g.k * MemoryLayout<V.Scalar>.stride) / w2 * w2)
        var j0 = 0
        while j0 < g.n {
            var panel = g
            panel.b += j0
            panel.c += j0
            panel.n = Swift.min(nc, g.n - j0)
            var i = 0
            while i + 1 < m {
                rows6(V.self, panel, row: i, count: Swift.min(6, m - i))
                i += 6
            }
            if i < m { row1(V.self, panel, row: i) }
            j0 += nc
        }
    }

    /// Rows i…i+count−1 of C (count 2…6; rows past the last repeat it and are not stored).
    @inline(__always)
    static func rows6<V: SIMD>(_: V.Type, _ g: GemmOperands<V.Scalar>, row i: Int, count: Int) where V.Scalar: BinaryFloatingPoint {
        let w = V.scalarCount, n = g.n, k = g.k, kStep = g.kStep, b = g.b, ldb = g.ldb
        @inline(__always) func rowA(_ r: Int) -> UnsafeMutablePointer<V.Scalar> { g.a + (i + Swift.min(r, count - 1)) * g.rowStep }
        @inline(__always) func rowC(_ r: Int) -> UnsafeMutablePointer<V.Scalar> { g.c + (i + Swift.min(r, count - 1)) * g.ldc }
        let a0 = rowA(0), a1 = rowA(1), a2 = rowA(2), a3 = rowA(3), a4 = rowA(4), a5 = rowA(5)
        let c0 = rowC(0), c1 = rowC(1), c2 = rowC(2), c3 = rowC(3), c4 = rowC(4), c5 = rowC(5)
        let fromC = g.accumulate && g.chainFromC, addOnce = g.accumulate && !g.chainFromC
        @inline(__always) func start(_ q: UnsafeMutablePointer<V.Scalar>) -> V { fromC ? load(q) : V() }
        @inline(__always) func put(_ r: Int, _ q: UnsafeMutablePointer<V.Scalar>, _ v: V) { if r < count { store(q, addOnce ? load(q) + v : v) } }
        var j = 0
        while j + 2 * w <= n {
            var x0 = start(c0 + j), y0 = start(c0 + j + w), x1 = start(c1 + j), y1 = start(c1 + j + w)
            var x2 = start(c2 + j), y2 = start(c2 + j + w), x3 = start(c3 + j), y3 = start(c3 + j + w)
            var x4 = start(c4 + j), y4 = start(c4 + j + w), x5 = start(c5 + j), y5 = start(c5 + j + w)
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
            put(0, c0 + j, x0); put(0, c0 + j + w, y0); put(1, c1 + j, x1); put(1, c1 + j + w, y1)
            put(2, c2 + j, x2); put(2, c2 + j + w, y2); put(3, c3 + j, x3); put(3, c3 + j + w, y3)
            put(4, c4 + j, x4); put(4, c4 + j + w, y4); put(5, c5 + j, x5); put(5, c5 + j + w, y5)
            j += 2 * w
        }
        if j + w <= n {
            var x0 = start(c0 + j), x1 = start(c1 + j), x2 = start(c2 + j), x3 = start(c3 + j), x4 = start(c4 + j), x5 = start(c5 + j)
            for kk in 0..<k {
                let b0: V = load(b + kk * ldb + j), o = kk * kStep
                x0 = x0.addingProduct(V(repeating: a0[o]), b0); x1 = x1.addingProduct(V(repeating: a1[o]), b0)
                x2 = x2.addingProduct(V(repeating: a2[o]), b0); x3 = x3.addingProduct(V(repeating: a3[o]), b0)
                x4 = x4.addingProduct(V(repeating: a4[o]), b0); x5 = x5.addingProduct(V(repeating: a5[o]), b0)
            }
            put(0, c0 + j, x0); put(1, c1 + j, x1); put(2, c2 + j, x2); put(3, c3 + j, x3); put(4, c4 + j, x4); put(5, c5 + j, x5)
            j += w
        }
        if j < n { for r in 0..<count { tail(g, row: i + r, from: j) } }
    }

    /// Row i of C, two vectors at a time (two chains in flight).
    @inline(__always)
    static func row1<V: SIMD>(_: V.Type, _ g: GemmOperands<V.Scalar>, row i: Int) where V.Scalar: BinaryFloatingPoint {
        let w = V.scalarCount, a = g.a + i * g.rowStep, c = g.c + i * g.ldc
        let fromC = g.accumulate && g.chainFromC, addOnce = g.accumulate && !g.chainFromC
        var j = 0
        while j + 2 * w <= g.n {
            var x: V = fromC ? load(c + j) : V(), y: V = fromC ? load(c + j + w) : V()
            for kk in 0..<g.k {
                let s = V(repeating: a[kk * g.kStep]), bk = g.b + kk * g.ldb + j
                x = x.addingProduct(s, load(bk))
                y = y.addingProduct(s, load(bk + w))
            }
            store(c + j, addOnce ? load(c + j) + x : x)
            store(c + j + w, addOnce ? load(c + j + w) + y : y)
            j += 2 * w
        }
        while j + w <= g.n {
            var x: V = fromC ? load(c + j) : V()
            for kk in 0..<g.k { x = x.addingProduct(V(repeating: a[kk * g.kStep]), load(g.b + kk * g.ldb + j)) }
            store(c + j, addOnce ? load(c + j) + x : x)
            j += w
        }
        if j < g.n { tail(g, row: i, from: j) }
    }

    /// Columns j0..<n of row i, one element at a time (the same chain).
    @inline(__always)
    static func tail<T: BinaryFloatingPoint>(_ g: GemmOperands<T>, row i: Int, from j0: Int) {
        let a = g.a + i * g.rowStep, c = g.c + i * g.ldc
        for j in j0..<g.n {
            var x: T = g.accumulate && g.chainFromC ? c[j] : 0
            for kk in 0..<g.k { x = x.addingProduct(a[kk * g.kStep], g.b[kk * g.ldb + j]) }
            c[j] = g.accumulate && !g.chainFromC ? c[j] + x : x
        }
    }

    @inline(__always)
    static func load<V: SIMD>(_ q: UnsafeMutablePointer<V.Scalar>) -> V { UnsafeRawPointer(q).loadUnaligned(as: V.self) }

    @inline(__always)
    static func store<V: SIMD>(_ q: UnsafeMutablePointer<V.Scalar>, _ v: V) { UnsafeMutableRawPointer(q).storeBytes(of: v, as: V.self) }

}

/// The operands of one gemm: a_ik at a + i·rowStep + k·kStep, b_kj at b + k·ldb + j, c_ij at
/// c + i·ldc + j; `chainFromC`: an accumulating chain starts from c_ij (binary64) instead of
/// adding its finished sum to it once (binary32).
@usableFromInline
struct GemmOperands<T> {
    let a: UnsafeMutablePointer<T>
    let rowStep: Int, kStep: Int
    var b: UnsafeMutablePointer<T>
    let ldb: Int
    var c: UnsafeMutablePointer<T>
    let ldc: Int
    var n: Int
    let k: Int
    let accumulate: Bool
    var chainFromC = false
}
