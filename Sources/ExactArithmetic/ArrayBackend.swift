import CBLAS
import CMPFR
import NumberFormats

/// OpenBLAS set up before its first call: one thread, the kernel family (`BLASSetup`).
@usableFromInline let blasSingleThreaded: Void = { BLASSetup.configure() }()

/// The OpenBLAS kernel family in use and how it was chosen (`BLASSetup`): the Float32 gemms'
/// speed and their low bits depend on it.
public var blasCoreName: String {
    _ = blasSingleThreaded
    return BLASSetup.selection
}

/// The engine of the Float32, Float64 and double-double backends: storage and every `Backend`
/// operation over a contiguous array of `S`, written once. (`Float64Backend` and its siblings
/// are concrete classes that forward to it, so each operation is compiled specialised for its
/// element type even when a kernel calls it through a generic or existential `Backend`.)
///
/// Loops run over raw pointers; every method is `@inlinable` so that kernels specialise it.
/// Elementwise transcendental functions are MPFR's at the element type's precision
/// (`MPFRFunctions`), correctly rounded (subnormal results too: `MPFRFunctions.rounded`); Float and
/// Double take a fast path first (`FastElementFunctions`, `FastElementFunctions64`: the same
/// bits, MPFR only where the fast path cannot decide), double-double always MPFR (≈0.3–1 µs
/// per element). Gates cost O(K) per token, the state update O(K·V).
public final class ArrayBackend<S: FastScalar> {
    @usableFromInline var base: UnsafeMutablePointer<S>
    @usableFromInline var capacity: Int
    @usableFromInline var used: Int = 0
    @usableFromInline let workspace = MPFRWorkspace()
    @usableFromInline var scratch: [Double] = []

    public init(capacity: Int = 1 << 14) {
        self.capacity = Swift.max(capacity, 16)
        base = Self.allocateAligned(self.capacity)
    }

    deinit { UnsafeMutableRawPointer(base).deallocate() }

    /// Storage on a 64-byte boundary: the vector kernels load 64 bytes at a time, and a tensor
    /// at offset 0 (a state) whose rows are multiples of 64 bytes then never splits a load
    /// across two cache lines (measured: Float64 decode ≈ 1.4× faster than at 16 mod 64).
    static func allocateAligned(_ count: Int) -> UnsafeMutablePointer<S> {
        UnsafeMutableRawPointer.allocate(byteCount: count * MemoryLayout<S>.stride, alignment: 64)
            .bindMemory(to: S.self, capacity: count)
    }

    public var tier: BackendTier { S.tier }

    public func allocate(rows: Int, cols: Int) -> Tensor {
        precondition(rows >= 0 && cols >= 0)
        let n = rows * cols
        if used + n > capacity {
            var newCapacity = capacity * 2
            while used + n > newCapacity { newCapacity *= 2 }
            let p = Self.allocateAligned(newCapacity)
            p.moveInitialize(from: base, count: used)
            UnsafeMutableRawPointer(base).deallocate()
            base = p
            capacity = newCapacity
        }
        (base + used).initialize(repeating: S.zero, count: n)
        let t = Tensor(offset: used, rows: rows, cols: cols)
        used += n
        return t
    }

    /// The elements of a contiguous tensor (valid until the next `allocate`).
    @inlinable @inline(__always)
    public func buffer(_ t: Tensor) -> UnsafeMutableBufferPointer<S> {
        precondition(t.isContiguous, "tensor is not contiguous")
        return UnsafeMutableBufferPointer(start: base + t.offset, count: t.count)
    }

    @inlinable @inline(__always)
    func p(_ t: Tensor) -> UnsafeMutablePointer<S> { base + t.offset }

    // MARK: data in and out

    @inlinable
    public func load(_ t: Tensor, _ values: UnsafeBufferPointer<Double>) {
        precondition(values.count == t.count, "load: \(values.count) values for \(t.count) elements")
        for r in 0..<t.rows {
            let d = p(t) + r * t.rowStride
            for c in 0..<t.cols { d[c] = S(roundingDouble: values[r * t.cols + c]) }
        }
    }

    @inlinable
    public func fill(_ t: Tensor, _ value: Double) {
        let v = S(roundingDouble: value)
        for r in 0..<t.rows { (p(t) + r * t.rowStride).update(repeating: v, count: t.cols) }
    }

    @inlinable
    public func copy(_ dst: Tensor, _ src: Tensor) {
        precondition(dst.rows == src.rows && dst.cols == src.cols)
        for r in 0..<dst.rows {
            (p(dst) + r * dst.rowStride).update(from: p(src) + r * src.rowStride, count: dst.cols)
        }
    }

    @inlinable
    public func read(_ t: Tensor, into out: UnsafeMutableBufferPointer<Double>) {
        precondition(out.count >= t.count)
        for r in 0..<t.rows {
            let s = p(t) + r * t.rowStride
            for c in 0..<t.cols { out[r * t.cols + c] = s[c].nearestDouble }
        }
    }

    public func export(_ t: Tensor, into out: MPFRArray, at start: Int) {
        precondition(start + t.count <= out.count)
        let tmp = workspace.input.pointer
        for r in 0..<t.rows {
            let s = p(t) + r * t.rowStride
            for c in 0..<t.cols {
                s[c].setMPFR(tmp)
                _ = mpfr_set(out[start + r * t.cols + c], tmp, MPFR_RNDN)
            }
        }
    }

    public func store(_ t: Tensor, quantizer: any StoreQuantizer, random: CounterRandom) {
        if S.self == Float.self && t.isContiguous {
            let b = UnsafeMutableRawPointer(p(t)).assumingMemoryBound(to: Float.self)
            quantizer.store(UnsafeMutableBufferPointer(start: b, count: t.count), rows: t.rows, cols: t.cols, random: random)
            return
        }
        if S.self == Double.self && t.isContiguous {
            let b = UnsafeMutableRawPointer(p(t)).assumingMemoryBound(to: Double.self)
            quantizer.store(UnsafeMutableBufferPointer(start: b, count: t.count), rows: t.rows, cols: t.cols, random: random)
            return
        }
        if scratch.count < t.count { scratch = [Double](repeating: 0, count: t.count) }
        scratch.withUnsafeMutableBufferPointer { sb in
            for r in 0..<t.rows {
                let s = p(t) + r * t.rowStride
                for c in 0..<t.cols { sb[r * t.cols + c] = s[c].oddDouble }
            }
            quantizer.store(UnsafeMutableBufferPointer(rebasing: sb[0..<t.count]), rows: t.rows, cols: t.cols, random: random)
            for r in 0..<t.rows {
                let s = p(t) + r * t.rowStride
                for c in 0..<t.cols { s[c] = S(roundingDouble: sb[r * t.cols + c]) }
            }
        }
    }

    // MARK: elementwise

    /// dst = a ∘ b elementwise (b may be a single element). The operation is a type, not a
    /// closure, so that each specialisation is a plain loop the compiler vectorises.
    @inlinable @inline(__always)
    func zip<Op: ElementwiseOperation>(_ dst: Tensor, _ a: Tensor, _ b: Tensor, _: Op.Type) {
        precondition(dst.rows == a.rows && dst.cols == a.cols, "shape mismatch")
        if b.count == 1 && a.count != 1 {
            let bv = p(b)[0]
            for r in 0..<dst.rows {
                let d = p(dst) + r * dst.rowStride, x = p(a) + r * a.rowStride
                for c in 0..<dst.cols { d[c] = Op.apply(x[c], bv) }
            }
        } else {
            precondition(b.rows == a.rows && b.cols == a.cols, "shape mismatch")
            for r in 0..<dst.rows {
                let d = p(dst) + r * dst.rowStride, x = p(a) + r * a.rowStride, y = p(b) + r * b.rowStride
                // In place as separate loops: the vectoriser's overlap check rejects d == x or d == y.
                if d == x {
                    for c in 0..<dst.cols { d[c] = Op.apply(d[c], y[c]) }
                } else if d == y {
                    for c in 0..<dst.cols { d[c] = Op.apply(x[c], d[c]) }
                } else {
                    for c in 0..<dst.cols { d[c] = Op.apply(x[c], y[c]) }
                }
            }
        }
    }

    @inlinable public func add(_ dst: Tensor, _ a: Tensor, _ b: Tensor) { zip(dst, a, b, AddOperation.self) }
    @inlinable public func subtract(_ dst: Tensor, _ a: Tensor, _ b: Tensor) { zip(dst, a, b, SubtractOperation.self) }
    @inlinable public func multiply(_ dst: Tensor, _ a: Tensor, _ b: Tensor) { zip(dst, a, b, MultiplyOperation.self) }
    @inlinable public func divide(_ dst: Tensor, _ a: Tensor, _ b: Tensor) { zip(dst, a, b, DivideOperation.self) }
    @inlinable public func maximum(_ dst: Tensor, _ a: Tensor, _ b: Tensor) { zip(dst, a, b, MaximumOperation.self) }

    @inlinable
    public func fma(_ dst: Tensor, _ a: Tensor, _ b: Tensor, _ c: Tensor) {
        precondition(dst.rows == a.rows && dst.cols == a.cols, "shape mismatch")
        let bs = b.count == 1 && a.count != 1, cs = c.count == 1 && a.count != 1
        for r in 0..<dst.rows {
            let d = p(dst) + r * dst.rowStride, x = p(a) + r * a.rowStride
            let y = bs ? p(b) : p(b) + r * b.rowStride, z = cs ? p(c) : p(c) + r * c.rowStride
            for j in 0..<dst.cols { d[j] = S.fused(x[j], y[bs ? 0 : j], z[cs ? 0 : j]) }
        }
    }

    public func apply(_ f: ElementFunction, _ dst: Tensor, _ src: Tensor) {
        precondition(dst.rows == src.rows && dst.cols == src.cols, "shape mismatch")
        if S.self == Float.self {
            applyFloat(f, dst, src)
            return
        }
        if S.self == Double.self {
            applyDouble(f, dst, src)
            return
        }
        let inp = workspace.input.pointer, out = workspace.output.pointer
        mpfr_set_prec(out, mpfr_prec_t(S.exactBits))
        defer { mpfr_set_prec(out, 256) }
        for r in 0..<dst.rows {
            let d = p(dst) + r * dst.rowStride, x = p(src) + r * src.rowStride
            for c in 0..<dst.cols {
                x[c].setMPFR(inp)
                MPFRFunctions.evaluate(f, out, inp, workspace: workspace)
                d[c] = S(mpfr: out)
            }
        }
    }

    /// Binary32: the fast correctly rounded path, MPFR where it cannot decide.
    @usableFromInline
    func applyFloat(_ f: ElementFunction, _ dst: Tensor, _ src: Tensor) {
        if f == .exp && dst.isContiguous && src.isContiguous {
            // One stream (a column of gates is n rows of one element).
            let d = UnsafeMutableRawPointer(p(dst)).assumingMemoryBound(to: Float.self)
            expFloat(d, UnsafeMutableRawPointer(p(src)).assumingMemoryBound(to: Float.self), count: dst.count)
            return
        }
        for r in 0..<dst.rows {
            let d = UnsafeMutableRawPointer(p(dst) + r * dst.rowStride).assumingMemoryBound(to: Float.self)
            let x = UnsafeMutableRawPointer(p(src) + r * src.rowStride).assumingMemoryBound(to: Float.self)
            if f == .exp {
                expFloat(d, x, count: dst.cols)
            } else {
                for c in 0..<dst.cols { d[c] = scalar(f, x[c]) }
            }
        }
    }

    /// d[i] = e^{x[i]} correctly rounded, eight lanes at a time (the tail padded); undecided
    /// lanes (rare) take the scalar path. d may be x.
    @usableFromInline
    func expFloat(_ d: UnsafeMutablePointer<Float>, _ x: UnsafePointer<Float>, count: Int) {
        var start = 0
        while start < count {
            let n = Swift.min(8, count - start)
            var xv = SIMD8<Float>()
            if n == 8 {
                xv = UnsafeRawPointer(x + start).loadUnaligned(as: SIMD8<Float>.self)
            } else {
                for l in 0..<n { xv[l] = x[start + l] }
            }
            let (v, decided) = FastExp8.exp(xv)
            var allDecided: Int64 = -1
            for l in 0..<8 { allDecided &= unsafeBitCast(decided, to: SIMD8<Int64>.self)[l] }
            if n == 8 && allDecided != 0 {
                UnsafeMutableRawPointer(d + start).storeBytes(of: v, as: SIMD8<Float>.self)
            } else {
                for l in 0..<n { d[start + l] = decided[l] ? v[l] : scalar(.exp, xv[l]) }
            }
            start += n
        }
    }

    /// One binary32 element: the libm fast path, else MPFR correctly rounded (subnormals too).
    @usableFromInline
    func scalar(_ f: ElementFunction, _ x: Float) -> Float {
        if let v = FastElementFunctions.float(f, x) { return v }
        return Float(MPFRFunctions.rounded(f, Double(x), bits: 24, leastExponent: -149, workspace: workspace))
    }

    /// Binary64: the double-double fast path (`FastElementFunctions64`), MPFR where it cannot
    /// decide (`MPFRFunctions.rounded`); the same bits either way.
    @usableFromInline
    func applyDouble(_ f: ElementFunction, _ dst: Tensor, _ src: Tensor) {
        for r in 0..<dst.rows {
            let d = UnsafeMutableRawPointer(p(dst) + r * dst.rowStride).assumingMemoryBound(to: Double.self)
            let x = UnsafeMutableRawPointer(p(src) + r * src.rowStride).assumingMemoryBound(to: Double.self)
            for c in 0..<dst.cols {
                d[c] = FastElementFunctions64.double(f, x[c])
                    ?? MPFRFunctions.rounded(f, x[c], bits: 53, leastExponent: -1074, workspace: workspace)
            }
        }
    }

    // MARK: reductions

    @inlinable
    public func sum(_ out: Tensor, _ x: Tensor) {
        precondition(x.isContiguous)
        let xs = p(x)
        var acc = S.zero
        for i in 0..<x.count { acc = acc + xs[i] }
        p(out)[0] = acc
    }

    @inlinable
    public func dot(_ out: Tensor, _ x: Tensor, _ y: Tensor) {
        precondition(x.isContiguous && y.isContiguous && x.count == y.count)
        let xs = p(x), ys = p(y)
        var acc = S.zero
        for i in 0..<x.count { acc = S.fused(xs[i], ys[i], acc) }
        p(out)[0] = acc
    }

    @inlinable
    public func max(_ out: Tensor, _ x: Tensor) {
        precondition(x.isContiguous && x.count > 0)
        let xs = p(x)
        var m = xs[0]
        for i in 1..<x.count where m < xs[i] { m = xs[i] }
        p(out)[0] = m
    }

    public func l2Normalize(_ x: Tensor, eps: Double) {
        let xs = p(x)
        var acc = S.zero
        for i in 0..<x.count { acc = S.fused(xs[i], xs[i], acc) }
        acc = acc + S(roundingDouble: eps)
        let r = reciprocalSquareRoot(acc)
        for i in 0..<x.count { xs[i] = xs[i] * r }
    }

    /// 1/√a correctly rounded to S: the fast paths for Float and Double (the same bits as
    /// MPFR), MPFR where they cannot decide and for double-double.
    @usableFromInline
    func reciprocalSquareRoot(_ a: S) -> S {
        if S.self == Float.self, let v = FastElementFunctions.float(.rsqrt, unsafeBitCast(a, to: Float.self)) {
            return unsafeBitCast(v, to: S.self)
        }
        if S.self == Double.self, let v = FastElementFunctions64.double(.rsqrt, unsafeBitCast(a, to: Double.self)) {
            return unsafeBitCast(v, to: S.self)
        }
        let inp = workspace.input.pointer, out = workspace.output.pointer
        mpfr_set_prec(out, mpfr_prec_t(S.exactBits))
        defer { mpfr_set_prec(out, 256) }
        a.setMPFR(inp)
        MPFRFunctions.evaluate(.rsqrt, out, inp, workspace: workspace)
        return S(mpfr: out)
    }

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

    @inlinable
    public func gemm(_ c: Tensor, _ a: Tensor, transposeA: Bool, _ b: Tensor, transposeB: Bool, accumulate: Bool) {
        let m = transposeA ? a.cols : a.rows, k = transposeA ? a.rows : a.cols
        let kb = transposeB ? b.cols : b.rows, n = transposeB ? b.rows : b.cols
        precondition(k == kb && c.rows == m && c.cols == n, "gemm shape mismatch")
        if S.self == Float.self && m * n * k >= 32 * 32 * 32 {
            _ = blasSingleThreaded
            let fa = UnsafeMutableRawPointer(p(a)).assumingMemoryBound(to: Float.self)
            let fb = UnsafeMutableRawPointer(p(b)).assumingMemoryBound(to: Float.self)
            let fc = UnsafeMutableRawPointer(p(c)).assumingMemoryBound(to: Float.self)
            cblas_sgemm(
                CblasRowMajor, transposeA ? CblasTrans : CblasNoTrans, transposeB ? CblasTrans : CblasNoTrans,
                blasint(m), blasint(n), blasint(k), 1, fa, blasint(a.rowStride), fb, blasint(b.rowStride),
                accumulate ? 1 : 0, fc, blasint(c.rowStride))
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
                expFloat(flat.baseAddress!, flat.baseAddress!, count: k)
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

extension ArrayBackend {
    /// `solveUnitLower` on binary32, 16 columns per vector and up to 64 columns of row i in
    /// registers: every element takes the same fma chain (j ascending) as the generic loop.
    @usableFromInline
    func solveUnitLowerFloat(_ l: Tensor, _ b: Tensor) {
        @inline(__always) func f(_ t: Tensor) -> UnsafeMutablePointer<Float> {
            UnsafeMutableRawPointer(p(t)).assumingMemoryBound(to: Float.self)
        }
        @inline(__always) func load(_ q: UnsafeMutablePointer<Float>) -> SIMD16<Float> {
            UnsafeRawPointer(q).loadUnaligned(as: SIMD16<Float>.self)
        }
        @inline(__always) func store(_ q: UnsafeMutablePointer<Float>, _ v: SIMD16<Float>) {
            UnsafeMutableRawPointer(q).storeBytes(of: v, as: SIMD16<Float>.self)
        }
        let pl = f(l), pb = f(b), ls = l.rowStride, bs = b.rowStride, cols = b.cols
        let vectorCols = cols - cols % 16
        var i = 0
        // Rows i and i + 1 together where 64 columns fit (eight independent fma chains instead
        // of four): both take the terms j < i, then row i + 1 the term j = i from the final row i.
        while i + 1 < b.rows && vectorCols == cols && cols % 64 == 0 {
            let bi = pb + i * bs, bn = bi + bs, li = pl + i * ls, ln = li + ls
            for c0 in stride(from: 0, to: cols, by: 64) {
                var a0 = load(bi + c0), a1 = load(bi + c0 + 16), a2 = load(bi + c0 + 32), a3 = load(bi + c0 + 48)
                var n0 = load(bn + c0), n1 = load(bn + c0 + 16), n2 = load(bn + c0 + 32), n3 = load(bn + c0 + 48)
                for j in 0..<i {
                    let m = SIMD16<Float>(repeating: -li[j]), mn = SIMD16<Float>(repeating: -ln[j]), bj = pb + j * bs + c0
                    let x0 = load(bj), x1 = load(bj + 16), x2 = load(bj + 32), x3 = load(bj + 48)
                    a0 = a0.addingProduct(m, x0); a1 = a1.addingProduct(m, x1)
                    a2 = a2.addingProduct(m, x2); a3 = a3.addingProduct(m, x3)
                    n0 = n0.addingProduct(mn, x0); n1 = n1.addingProduct(mn, x1)
                    n2 = n2.addingProduct(mn, x2); n3 = n3.addingProduct(mn, x3)
                }
                let mi = SIMD16<Float>(repeating: -ln[i])
                n0 = n0.addingProduct(mi, a0); n1 = n1.addingProduct(mi, a1)
                n2 = n2.addingProduct(mi, a2); n3 = n3.addingProduct(mi, a3)
                store(bi + c0, a0); store(bi + c0 + 16, a1); store(bi + c0 + 32, a2); store(bi + c0 + 48, a3)
                store(bn + c0, n0); store(bn + c0 + 16, n1); store(bn + c0 + 32, n2); store(bn + c0 + 48, n3)
            }
            i += 2
        }
        while i < b.rows {
            let bi = pb + i * bs, li = pl + i * ls
            defer { i += 1 }
            var c0 = 0
            while c0 + 64 <= vectorCols {
                var a0 = load(bi + c0), a1 = load(bi + c0 + 16), a2 = load(bi + c0 + 32), a3 = load(bi + c0 + 48)
                for j in 0..<i {
                    let m = SIMD16<Float>(repeating: -li[j]), bj = pb + j * bs + c0
                    a0 = a0.addingProduct(m, load(bj)); a1 = a1.addingProduct(m, load(bj + 16))
                    a2 = a2.addingProduct(m, load(bj + 32)); a3 = a3.addingProduct(m, load(bj + 48))
                }
                store(bi + c0, a0); store(bi + c0 + 16, a1); store(bi + c0 + 32, a2); store(bi + c0 + 48, a3)
                c0 += 64
            }
            while c0 < vectorCols {
                var a0 = load(bi + c0)
                for j in 0..<i { a0 = a0.addingProduct(SIMD16(repeating: -li[j]), load(pb + j * bs + c0)) }
                store(bi + c0, a0)
                c0 += 16
            }
            for c in vectorCols..<cols {
                var a = bi[c]
                for j in 0..<i { a = a.addingProduct(-li[j], pb[j * bs + c]) }
                bi[c] = a
            }
        }
    }
}

extension ArrayBackend where S == Double {
    /// `decayRank1MatTvec` for binary64, 32 columns at a time down all rows: each state element
    /// is loaded and stored once and the 32 outputs stay in registers. Every element sees the
    /// same operations in the same order as the scalar sweep (a·S, then fma(x, y, ·), then
    /// fma(s, q, out) in row order), so the bits are the same.
    @inlinable
    public func decayRank1MatTvecColumns(_ m: Tensor, decay: Tensor?, _ x: Tensor, _ y: Tensor, _ q: Tensor, _ out: Tensor) {
        precondition(x.count == m.rows && y.count == m.cols && q.count == m.rows && out.count == m.cols)
        if let decay {
            columnSweep(m, decayed: true, a: p(decay)[0], p(x), p(y), p(q), p(out))
        } else {
            columnSweep(m, decayed: false, a: 0, p(x), p(y), p(q), p(out))
        }
    }

    @inlinable @inline(__always)
    func columnSweep(
        _ m: Tensor, decayed: Bool, a: Double, _ xs: UnsafeMutablePointer<Double>,
        _ ys: UnsafeMutablePointer<Double>, _ qs: UnsafeMutablePointer<Double>, _ os: UnsafeMutablePointer<Double>
    ) {
        typealias V8 = SIMD8<Double>
        let rows = m.rows, n = m.cols, stride = m.rowStride, base = p(m)
        let a8 = V8(repeating: a)
        @inline(__always) func load(_ p: UnsafeMutablePointer<Double>) -> V8 {
            UnsafeRawPointer(p).loadUnaligned(as: V8.self)
        }
        @inline(__always) func store(_ p: UnsafeMutablePointer<Double>, _ v: V8) {
            UnsafeMutableRawPointer(p).storeBytes(of: v, as: V8.self)
        }
        var c = 0
        while c + 32 <= n {
            let y0 = load(ys + c), y1 = load(ys + c + 8), y2 = load(ys + c + 16), y3 = load(ys + c + 24)
            var o0 = V8(), o1 = V8(), o2 = V8(), o3 = V8()
            for r in 0..<rows {
                let rp = base + r * stride + c
                let xr = V8(repeating: xs[r]), qr = V8(repeating: qs[r])
                var s0 = load(rp), s1 = load(rp + 8), s2 = load(rp + 16), s3 = load(rp + 24)
                if decayed { s0 *= a8; s1 *= a8; s2 *= a8; s3 *= a8 }
                s0 = s0.addingProduct(xr, y0); s1 = s1.addingProduct(xr, y1)
                s2 = s2.addingProduct(xr, y2); s3 = s3.addingProduct(xr, y3)
                store(rp, s0); store(rp + 8, s1); store(rp + 16, s2); store(rp + 24, s3)
                o0 = o0.addingProduct(s0, qr); o1 = o1.addingProduct(s1, qr)
                o2 = o2.addingProduct(s2, qr); o3 = o3.addingProduct(s3, qr)
            }
            store(os + c, o0); store(os + c + 8, o1); store(os + c + 16, o2); store(os + c + 24, o3)
            c += 32
        }
        while c + 8 <= n {
            let y0 = load(ys + c)
            var o0 = V8()
            for r in 0..<rows {
                let rp = base + r * stride + c
                var s0 = load(rp)
                if decayed { s0 *= a8 }
                s0 = s0.addingProduct(V8(repeating: xs[r]), y0)
                store(rp, s0)
                o0 = o0.addingProduct(s0, V8(repeating: qs[r]))
            }
            store(os + c, o0)
            c += 8
        }
        while c < n {
            var o = 0.0
            for r in 0..<rows {
                let rp = base + r * stride + c
                let s = (decayed ? rp[0] * a : rp[0]).addingProduct(xs[r], ys[c])
                rp[0] = s
                o = o.addingProduct(s, qs[r])
            }
            os[c] = o
            c += 1
        }
    }
}

/// The binary elementwise operations of `ArrayBackend.zip`.
@usableFromInline protocol ElementwiseOperation {
    static func apply<T: FastScalar>(_ a: T, _ b: T) -> T
}
@usableFromInline enum AddOperation: ElementwiseOperation {
    @inlinable @inline(__always) static func apply<T: FastScalar>(_ a: T, _ b: T) -> T { a + b }
}
@usableFromInline enum SubtractOperation: ElementwiseOperation {
    @inlinable @inline(__always) static func apply<T: FastScalar>(_ a: T, _ b: T) -> T { a - b }
}
@usableFromInline enum MultiplyOperation: ElementwiseOperation {
    @inlinable @inline(__always) static func apply<T: FastScalar>(_ a: T, _ b: T) -> T { a * b }
}
@usableFromInline enum DivideOperation: ElementwiseOperation {
    @inlinable @inline(__always) static func apply<T: FastScalar>(_ a: T, _ b: T) -> T { a / b }
}
/// a < b ? b : a (a NaN in a is kept, a NaN in b is not: the former closure's semantics).
@usableFromInline enum MaximumOperation: ElementwiseOperation {
    @inlinable @inline(__always) static func apply<T: FastScalar>(_ a: T, _ b: T) -> T { a < b ? b : a }
}
