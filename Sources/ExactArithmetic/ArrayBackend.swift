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
    /// Benchmarks only: binary32 `gemm` through OpenBLAS's sgemm (m·n·k ≥ 32³) instead of the
    /// fixed-order kernel — the baseline the kernel is measured against; its bits depend on the
    /// kernel family OpenBLAS picks, so no result is computed this way.
    public var gemmViaBLAS = false

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

    /// D ← Sᵀ.
    @inlinable
    public func transpose(_ d: Tensor, _ s: Tensor) {
        precondition(d.rows == s.cols && d.cols == s.rows, "transpose shape mismatch")
        let ps = p(s), pd = p(d)
        for i in 0..<s.rows { for j in 0..<s.cols { pd[j * d.rowStride + i] = ps[i * s.rowStride + j] } }
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
        let vectorised = f == .exp || f == .sigmoid
        if vectorised && dst.isContiguous && src.isContiguous {
            // One stream (a column of gates is n rows of one element).
            let d = UnsafeMutableRawPointer(p(dst)).assumingMemoryBound(to: Float.self)
            lanesFloat(f, d, UnsafeMutableRawPointer(p(src)).assumingMemoryBound(to: Float.self), count: dst.count)
            return
        }
        for r in 0..<dst.rows {
            let d = UnsafeMutableRawPointer(p(dst) + r * dst.rowStride).assumingMemoryBound(to: Float.self)
            let x = UnsafeMutableRawPointer(p(src) + r * src.rowStride).assumingMemoryBound(to: Float.self)
            if vectorised {
                lanesFloat(f, d, x, count: dst.cols)
            } else {
                for c in 0..<dst.cols { d[c] = scalar(f, x[c]) }
            }
        }
    }

    /// d[i] = f(x[i]) correctly rounded for f = exp or sigmoid (`FastExp8`), eight lanes at a
    /// time (the tail padded); undecided lanes (rare) take the scalar path. d may be x.
    @usableFromInline
    func lanesFloat(_ f: ElementFunction, _ d: UnsafeMutablePointer<Float>, _ x: UnsafePointer<Float>, count: Int) {
        var start = 0
        while start < count {
            let n = Swift.min(8, count - start)
            var xv = SIMD8<Float>()
            if n == 8 {
                xv = UnsafeRawPointer(x + start).loadUnaligned(as: SIMD8<Float>.self)
            } else {
                for l in 0..<n { xv[l] = x[start + l] }
            }
            let (v, decided) = f == .exp ? FastExp8.exp(xv) : FastExp8.sigmoid(xv)
            if n == 8 && all(decided) {
                UnsafeMutableRawPointer(d + start).storeBytes(of: v, as: SIMD8<Float>.self)
            } else {
                for l in 0..<n { d[start + l] = decided[l] ? v[l] : scalar(f, xv[l]) }
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

    /// Binary64: the double-double fast path (`FastElementFunctions64`; exp and sigmoid eight
    /// lanes at a time through `QuickElementFunctions8` first), MPFR where it cannot decide
    /// (`MPFRFunctions.rounded`); the same bits either way.
    @usableFromInline
    func applyDouble(_ f: ElementFunction, _ dst: Tensor, _ src: Tensor) {
        let contiguous = dst.isContiguous && src.isContiguous
        let (rows, cols) = contiguous ? (1, dst.count) : (dst.rows, dst.cols)
        for r in 0..<rows {
            let d = UnsafeMutableRawPointer(p(dst) + r * dst.rowStride).assumingMemoryBound(to: Double.self)
            let x = UnsafeMutableRawPointer(p(src) + r * src.rowStride).assumingMemoryBound(to: Double.self)
            var c = 0
            if f == .exp || f == .sigmoid {
                while c + 8 <= cols {
                    let xv = UnsafeRawPointer(x + c).loadUnaligned(as: SIMD8<Double>.self)
                    let (v, decided) = f == .exp ? QuickElementFunctions8.exp(xv) : QuickElementFunctions8.sigmoid(xv)
                    if all(decided) {
                        UnsafeMutableRawPointer(d + c).storeBytes(of: v, as: SIMD8<Double>.self)
                    } else {
                        for l in 0..<8 { d[c + l] = decided[l] ? v[l] : scalarDouble(f, xv[l]) }
                    }
                    c += 8
                }
            }
            while c < cols {
                d[c] = scalarDouble(f, x[c])
                c += 1
            }
        }
    }

    /// One binary64 element: the fast stages, else MPFR.
    @usableFromInline
    func scalarDouble(_ f: ElementFunction, _ x: Double) -> Double {
        FastElementFunctions64.double(f, x) ?? MPFRFunctions.rounded(f, x, bits: 53, leastExponent: -1074, workspace: workspace)
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
