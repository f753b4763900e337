import CMPFR

/// The element type of an `ArrayBackend`: Float, Double or DoubleDouble.
public protocol FastScalar: Sendable {
    static var tier: BackendTier { get }
    /// Precision in bits that holds every value exactly (24, 53, 107).
    static var exactBits: Int { get }
    static var zero: Self { get }
    /// d rounded to nearest.
    init(roundingDouble d: Double)
    var nearestDouble: Double { get }
    /// The value rounded to double by round-to-odd (safe to round again to ≤ 51 bits).
    var oddDouble: Double { get }
    static func + (a: Self, b: Self) -> Self
    static func - (a: Self, b: Self) -> Self
    static func * (a: Self, b: Self) -> Self
    static func / (a: Self, b: Self) -> Self
    static prefix func - (a: Self) -> Self
    static func < (a: Self, b: Self) -> Bool
    /// a·b + c, rounded once (double-double: the double-word product then sum).
    static func fused(_ a: Self, _ b: Self, _ c: Self) -> Self
    /// Sets p to the value exactly (p must have at least `exactBits`).
    func setMPFR(_ p: mpfr_ptr)
    /// The MPFR value rounded to nearest (p holds at most `exactBits` significant bits for
    /// exactness; more are rounded).
    init(mpfr p: mpfr_ptr)
}

extension Double: FastScalar {
    public static var tier: BackendTier { .float64 }
    public static var exactBits: Int { 53 }
    @inlinable @inline(__always) public init(roundingDouble d: Double) { self = d }
    @inlinable @inline(__always) public var nearestDouble: Double { self }
    @inlinable @inline(__always) public var oddDouble: Double { self }
    @inlinable @inline(__always) public static func fused(_ a: Double, _ b: Double, _ c: Double) -> Double {
        c.addingProduct(a, b)
    }
    @inlinable public func setMPFR(_ p: mpfr_ptr) { _ = attnprec_mpfr_set_d(p, self, MPFR_RNDN) }
    @inlinable public init(mpfr p: mpfr_ptr) { self = mpfr_get_d(p, MPFR_RNDN) }
}

extension Float: FastScalar {
    public static var tier: BackendTier { .float32 }
    public static var exactBits: Int { 24 }
    @inlinable @inline(__always) public init(roundingDouble d: Double) { self = Float(d) }
    @inlinable @inline(__always) public var nearestDouble: Double { Double(self) }
    @inlinable @inline(__always) public var oddDouble: Double { Double(self) }
    @inlinable @inline(__always) public static func fused(_ a: Float, _ b: Float, _ c: Float) -> Float {
        c.addingProduct(a, b)
    }
    @inlinable public func setMPFR(_ p: mpfr_ptr) { _ = attnprec_mpfr_set_d(p, Double(self), MPFR_RNDN) }
    @inlinable public init(mpfr p: mpfr_ptr) { self = mpfr_get_flt(p, MPFR_RNDN) }
}

extension DoubleDouble: FastScalar {
    public static var tier: BackendTier { .doubleDouble }
    public static var exactBits: Int { 107 }
    @inlinable @inline(__always) public init(roundingDouble d: Double) { self.init(d) }
    @inlinable @inline(__always) public var nearestDouble: Double { hi + lo }
    @inlinable @inline(__always) public var oddDouble: Double { roundedToOddDouble }
    @inlinable @inline(__always) public static func fused(_ a: DoubleDouble, _ b: DoubleDouble, _ c: DoubleDouble) -> DoubleDouble {
        a * b + c
    }
    @inlinable public func setMPFR(_ p: mpfr_ptr) {
        _ = attnprec_mpfr_set_d(p, hi, MPFR_RNDN)
        _ = mpfr_add_d(p, p, lo, MPFR_RNDN)
    }
    /// hi = RN(x), lo = RN(x − hi); x − hi is computed exactly in p when p has ≤ 107 bits.
    @inlinable public init(mpfr p: mpfr_ptr) {
        let h = mpfr_get_d(p, MPFR_RNDN)
        if !h.isFinite { self.init(h); return }
        // p − h, exact for p of at most 107 bits (|p − h| ≤ ulp(h)/2); p is restored after.
        _ = mpfr_sub_d(p, p, h, MPFR_RNDN)
        let l = mpfr_get_d(p, MPFR_RNDN)
        _ = mpfr_add_d(p, p, h, MPFR_RNDN)
        self.init(hi: h, lo: l)
    }
}
