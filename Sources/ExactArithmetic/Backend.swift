import NumberFormats

/// A view of a backend's storage: a row-major matrix (a vector is one row or one column, a
/// scalar one element). Rows are `rowStride` elements apart, elements of a row contiguous.
@frozen
public struct Tensor: Hashable, Sendable {
    public let offset: Int
    public let rows: Int
    public let cols: Int
    public let rowStride: Int

    @inlinable
    public init(offset: Int, rows: Int, cols: Int, rowStride: Int? = nil) {
        self.offset = offset
        self.rows = rows
        self.cols = cols
        self.rowStride = rowStride ?? cols
    }

    @inlinable public var count: Int { rows * cols }
    @inlinable public var isContiguous: Bool { rows <= 1 || rowStride == cols }
    /// Row i as a 1×cols tensor.
    @inlinable public func row(_ i: Int) -> Tensor { Tensor(offset: offset + i * rowStride, rows: 1, cols: cols) }
    /// Element i of a contiguous tensor (row-major index) as a 1×1 tensor.
    @inlinable public func element(_ i: Int) -> Tensor { Tensor(offset: offset + i, rows: 1, cols: 1) }
    @inlinable public func element(_ i: Int, _ j: Int) -> Tensor {
        Tensor(offset: offset + i * rowStride + j, rows: 1, cols: 1)
    }
    /// The rows r..<r+n and columns c..<c+m.
    @inlinable public func block(rows r: Range<Int>, cols c: Range<Int>) -> Tensor {
        Tensor(offset: offset + r.lowerBound * rowStride + c.lowerBound, rows: r.count, cols: c.count, rowStride: rowStride)
    }
}

/// Which arithmetic a backend performs.
/// Code generic over the backend (a kernel's constructor, say), for `BackendTier.with`.
public protocol BackendGeneric {
    associatedtype Output
    func callAsFunction<B: Backend>(_ backend: B) throws -> Output
}

public enum BackendTier: Hashable, Sendable, CustomStringConvertible {
    case mpfr(bits: Int)
    case float64
    case doubleDouble
    case float32

    public var description: String {
        switch self {
        case .mpfr(let b): return "mpfr-\(b)"
        case .float64: return "float64"
        case .doubleDouble: return "double-double"
        case .float32: return "float32"
        }
    }

    /// `body` on a new backend of this tier, specialised for it: the one place that maps a
    /// tier to a backend.
    @inlinable
    public func with<Body: BackendGeneric>(_ body: Body) throws -> Body.Output {
        switch self {
        case .mpfr(let bits): return try body(MPFRBackend(precision: bits))
        case .float64: return try body(Float64Backend())
        case .doubleDouble: return try body(DoubleDoubleBackend())
        case .float32: return try body(Float32Backend())
        }
    }

    /// Unit roundoff u of one operation.
    public var unitRoundoff: Double {
        switch self {
        case .mpfr(let b): return Double(sign: .plus, exponent: -b, significand: 1)
        case .float64: return 0x1p-53
        case .doubleDouble: return DoubleDouble.unitRoundoff
        case .float32: return 0x1p-24
        }
    }
}

/// The vocabulary variant kernels are written in (DESIGN.md §2).
///
/// A backend owns its storage; `Tensor`s are views into it, allocated once when a run is set
/// up, so no operation allocates. Every operation rounds each elementary result to the
/// backend's precision with round-to-nearest-even, in the order its documentation states
/// (operation order is part of the definition: it changes rounding). Products that are
/// accumulated are fused (`fma`) one term at a time, terms in ascending index order, unless
/// stated otherwise. Rounding to a *storage* format is not a backend concern: kernels call
/// `store` at the store points named by a precision recipe.
///
/// Operands of a scalar role (`s`, `alpha`…) are 1×1 tensors. Unless stated, `dst` may be the
/// same tensor as an operand of the same shape.
public protocol Backend: AnyObject {
    var tier: BackendTier { get }

    /// A new zero-filled rows×cols tensor.
    func allocate(rows: Int, cols: Int) -> Tensor

    // MARK: data in and out
    /// t ← values (row-major), each rounded to nearest at the backend's precision.
    func load(_ t: Tensor, _ values: UnsafeBufferPointer<Double>)
    func fill(_ t: Tensor, _ value: Double)
    func copy(_ dst: Tensor, _ src: Tensor)
    /// The values of t rounded to nearest doubles, row-major.
    func read(_ t: Tensor, into out: UnsafeMutableBufferPointer<Double>)
    /// The values of t into out[start...], rounded to nearest at out's precision (exact when
    /// out has at least the backend's precision: 24, 53, 107 or P bits).
    func export(_ t: Tensor, into out: MPFRArray, at start: Int)
    /// Rounds every element of t as storing it in a storage format would (store point).
    /// Correct for every format of at most 51 significand bits: values are first rounded to
    /// double by round-to-odd.
    func store(_ t: Tensor, quantizer: any StoreQuantizer, random: CounterRandom)

    // MARK: elementwise (b or c may be a 1×1 tensor, broadcast)
    func add(_ dst: Tensor, _ a: Tensor, _ b: Tensor)
    func subtract(_ dst: Tensor, _ a: Tensor, _ b: Tensor)
    func multiply(_ dst: Tensor, _ a: Tensor, _ b: Tensor)
    func divide(_ dst: Tensor, _ a: Tensor, _ b: Tensor)
    /// dst ← a·b + c, one rounding per element; b and c may be 1×1.
    func fma(_ dst: Tensor, _ a: Tensor, _ b: Tensor, _ c: Tensor)
    /// dst ← f(src), correctly rounded (Float32: through Double, see `ArrayBackend`).
    func apply(_ f: ElementFunction, _ dst: Tensor, _ src: Tensor)
    /// dst ← max(a, b); b may be 1×1.
    func maximum(_ dst: Tensor, _ a: Tensor, _ b: Tensor)

    // MARK: reductions (out is 1×1)
    /// out ← Σ x_i: exact then rounded once (mpfr_sum) in MPFR; ascending order elsewhere.
    func sum(_ out: Tensor, _ x: Tensor)
    /// out ← Σ x_i y_i. MPFR: exact products, one rounding (mpfr_sum); others: fma chain.
    func dot(_ out: Tensor, _ x: Tensor, _ y: Tensor)
    /// out ← max_i x_i (ties toward the lower index).
    func max(_ out: Tensor, _ x: Tensor)
    /// x ← x · (Σx² + eps)^(−1/2), the sum of squares as `dot`, then rsqrt, then a product.
    func l2Normalize(_ x: Tensor, eps: Double)

    // MARK: level 1–2
    /// x ← s·x.
    func scale(_ x: Tensor, by s: Tensor)
    /// y ← a·x + y (fused).
    func axpy(_ y: Tensor, _ a: Tensor, _ x: Tensor)
    /// M[i, :] ← v_i · M[i, :].
    func scaleRows(_ m: Tensor, by v: Tensor)
    /// D[i, :] ← v_i · X[i, :] (the same products as `copy` then `scaleRows`).
    func scaleRows(_ d: Tensor, _ x: Tensor, by v: Tensor)
    /// M[:, j] ← v_j · M[:, j].
    func scaleColumns(_ m: Tensor, by v: Tensor)
    /// y ← M x, y_i = Σ_j M_ij x_j (fma chain over j ascending).
    func matvec(_ y: Tensor, _ m: Tensor, _ x: Tensor)
    /// y ← Mᵀ x, y_j = Σ_i M_ij x_i (fma chain over i ascending). y must not alias x.
    func matTvec(_ y: Tensor, _ m: Tensor, _ x: Tensor)
    /// M ← M + x yᵀ, M_ij ← fma(x_i, y_j, M_ij).
    func rank1(_ m: Tensor, _ x: Tensor, _ y: Tensor)
    /// The linear-attention decode step in one pass, bit-identical to
    /// `scale(m, by: decay)` (when given), `rank1(m, x, y)`, `matTvec(out, m, q)`.
    func decayRank1MatTvec(_ m: Tensor, decay: Tensor?, _ x: Tensor, _ y: Tensor, _ q: Tensor, _ out: Tensor)

    // MARK: level 3
    /// C ← op(A)·op(B) (+ C when `accumulate`), each C_ij an fma chain over k ascending
    /// (Float32: OpenBLAS sgemm for large products, its own order). C must not alias A or B.
    func gemm(_ c: Tensor, _ a: Tensor, transposeA: Bool, _ b: Tensor, transposeB: Bool, accumulate: Bool)
    /// D ← Sᵀ (D is S.cols × S.rows; no rounding): a B operand stored once as the K rows of N
    /// that `gemm` would otherwise copy a transposed B to on every call.
    func transpose(_ d: Tensor, _ s: Tensor)
    /// B ← L⁻¹ B for unit lower-triangular L (its diagonal and upper part are not read), by
    /// forward substitution: X_i = B_i − Σ_{j<i} L_ij X_j, fma chain over j ascending.
    func solveUnitLower(_ l: Tensor, _ b: Tensor)

    // MARK: chunked forms
    /// Row i ← row i + row (i − 1) for i = 1…rows−1 in order: inclusive prefix sums down the
    /// rows (the cumulative log-decays γ of a chunk).
    func cumulativeSumRows(_ x: Tensor)
    /// D_ij ← e^{g_i − g_j} for j ≤ i from the n cumulative log-decays in g (n×1 or 1×n), D
    /// n×n: the difference rounded once, then `apply(.exp)`'s exponential. Entries above the
    /// diagonal are not written.
    func decayMatrix(_ d: Tensor, _ g: Tensor)
}

extension Backend {
    /// Element by element (`copy` of 1×1 views); the array backends have their own loop.
    public func transpose(_ d: Tensor, _ s: Tensor) {
        precondition(d.rows == s.cols && d.cols == s.rows, "transpose shape mismatch")
        for i in 0..<s.rows { for j in 0..<s.cols { copy(d.element(j, i), s.element(i, j)) } }
    }

    /// A new vector of n elements (1×n).
    public func allocate(_ n: Int) -> Tensor { allocate(rows: 1, cols: n) }
    /// A new 1×1 tensor holding `value` (rounded to nearest).
    public func scalar(_ value: Double) -> Tensor {
        let t = allocate(rows: 1, cols: 1)
        fill(t, value)
        return t
    }
    public func load(_ t: Tensor, _ values: [Double]) {
        values.withUnsafeBufferPointer { load(t, $0) }
    }
    public func read(_ t: Tensor) -> [Double] {
        [Double](unsafeUninitializedCapacity: t.count) { buf, n in
            read(t, into: buf)
            n = t.count
        }
    }
}
