import CMPFR

/// Namespace for process-wide MPFR settings and scoped helpers.
public enum MPFR {
    /// The default reference precision in bits (DESIGN.md §5).
    public static let defaultPrecision = 128

    /// The largest precision MPFR accepts.
    public static var maxPrecision: Int { Int(attnprec_mpfr_prec_max()) }

    /// The current thread's exponent range (emin, emax).
    public static var exponentRange: (emin: Int, emax: Int) {
        (Int(mpfr_get_emin()), Int(mpfr_get_emax()))
    }

    /// Runs `body` with the calling thread's exponent range set to [emin, emax], then restores
    /// the previous range, also when `body` throws.
    ///
    /// MPFR keeps emin/emax per thread; every piece of code that narrows them (to emulate a
    /// small format with `mpfr_subnormalize`, say) must put them back, or later computations
    /// on the same thread silently overflow.
    @inlinable
    public static func withExponentRange<R>(
        emin: Int, emax: Int, _ body: () throws -> R
    ) rethrows -> R {
        let oldMin = mpfr_get_emin()
        let oldMax = mpfr_get_emax()
        precondition(
            mpfr_set_emin(mpfr_exp_t(emin)) == 0 && mpfr_set_emax(mpfr_exp_t(emax)) == 0,
            "exponent range [\(emin), \(emax)] outside MPFR's limits")
        defer {
            mpfr_set_emin(oldMin)
            mpfr_set_emax(oldMax)
        }
        return try body()
    }

    /// Clears MPFR's per-thread caches (constants such as log 2 kept at the highest precision
    /// used so far). Leak tests call it so that cache growth is not mistaken for a leak.
    public static func freeCaches() { mpfr_free_cache() }
}

/// One MPFR number, freed exactly once.
///
/// A noncopyable owner of an `mpfr_t`: it cannot be copied, so `mpfr_clear` runs once, in
/// `deinit`. Operations are in place (`formFMA`, `formSum`…) and never allocate; results are
/// correctly rounded to the number's precision with round-to-nearest-even.
///
/// Edge cases: the exponent range is MPFR's thread-local one (huge by default); see
/// `MPFR.withExponentRange` to narrow it.
public struct MPFRNumber: ~Copyable {
    /// The underlying `mpfr_t`; valid for the lifetime of `self`. Passing it as both target
    /// and source of an `mpfr_*` call is allowed (MPFR supports aliasing).
    public let pointer: mpfr_ptr

    /// A number of `precision` bits holding `value` (rounded to nearest).
    public init(precision: Int = MPFR.defaultPrecision, _ value: Double = 0) {
        precondition(precision >= 1 && precision <= MPFR.maxPrecision, "bad MPFR precision \(precision)")
        pointer = .allocate(capacity: 1)
        mpfr_init2(pointer, mpfr_prec_t(precision))
        _ = attnprec_mpfr_set_d(pointer, value, MPFR_RNDN)
    }

    deinit {
        mpfr_clear(pointer)
        pointer.deallocate()
    }

    public var precision: Int { Int(attnprec_mpfr_get_prec(pointer)) }

    /// The value rounded to the nearest `Double`.
    public var doubleValue: Double { mpfr_get_d(pointer, MPFR_RNDN) }

    public mutating func set(_ value: Double) { _ = attnprec_mpfr_set_d(pointer, value, MPFR_RNDN) }
    public mutating func set(_ other: borrowing MPFRNumber) { _ = mpfr_set(pointer, other.pointer, MPFR_RNDN) }

    /// self ← self + x.
    public mutating func formSum(_ x: borrowing MPFRNumber) { _ = mpfr_add(pointer, pointer, x.pointer, MPFR_RNDN) }
    /// self ← self − x.
    public mutating func formDifference(_ x: borrowing MPFRNumber) { _ = mpfr_sub(pointer, pointer, x.pointer, MPFR_RNDN) }
    /// self ← self · x.
    public mutating func formProduct(_ x: borrowing MPFRNumber) { _ = mpfr_mul(pointer, pointer, x.pointer, MPFR_RNDN) }
    /// self ← self / x.
    public mutating func formQuotient(_ x: borrowing MPFRNumber) { _ = mpfr_div(pointer, pointer, x.pointer, MPFR_RNDN) }
    /// self ← a·b + self, one rounding.
    public mutating func formFMA(_ a: borrowing MPFRNumber, _ b: borrowing MPFRNumber) {
        _ = mpfr_fma(pointer, a.pointer, b.pointer, pointer, MPFR_RNDN)
    }
    /// self ← f(self), correctly rounded.
    public mutating func apply(_ f: ElementFunction) {
        MPFRFunctions.evaluate(f, pointer, pointer)
    }
}

/// An arena of MPFR numbers of one precision whose significands share one contiguous block.
///
/// The arena allocates twice in its life (the `mpfr_t` headers and the limbs) and frees both
/// in `deinit`; values are addressed by index. Because every operation names its operands by
/// index, the same slot may be target and source (`fma(0, 1, 2, 0)`).
public final class MPFRArray {
    public let precision: Int
    public let count: Int
    public let values: UnsafeMutablePointer<__mpfr_struct>
    @usableFromInline let limbs: UnsafeMutableRawPointer

    public init(count: Int, precision: Int = MPFR.defaultPrecision) {
        precondition(count >= 0 && precision >= 1 && precision <= MPFR.maxPrecision)
        self.count = count
        self.precision = precision
        values = .allocate(capacity: max(count, 1))
        let size = attnprec_mpfr_custom_size(mpfr_prec_t(precision))
        let stride = (size + 15) & ~15
        limbs = .allocate(byteCount: max(stride * count, 16), alignment: 16)
        for i in 0..<count {
            attnprec_mpfr_custom_init_zero(values + i, mpfr_prec_t(precision), limbs + i * stride)
        }
    }

    deinit {
        // Custom-allocated numbers must not be passed to mpfr_clear.
        values.deallocate()
        limbs.deallocate()
    }

    @inlinable public subscript(_ i: Int) -> mpfr_ptr { values + i }

    @inlinable public func set(_ i: Int, _ x: Double) { _ = attnprec_mpfr_set_d(values + i, x, MPFR_RNDN) }
    @inlinable public func double(_ i: Int) -> Double { mpfr_get_d(values + i, MPFR_RNDN) }
    @inlinable public func fma(_ d: Int, _ a: Int, _ b: Int, _ c: Int) {
        _ = mpfr_fma(values + d, values + a, values + b, values + c, MPFR_RNDN)
    }
}

extension MPFR {
    /// The standard normal CDF Φ(x) = erfc(−x/√2)/2, evaluated at 128 bits and rounded to the
    /// nearest double: the same value on every machine (an analytic prediction that sits beside
    /// measured numbers in a record).
    public static func normalCDF(_ x: Double) -> Double {
        let t = MPFRNumber(precision: 128, 2)
        _ = mpfr_sqrt(t.pointer, t.pointer, MPFR_RNDN)
        let y = MPFRNumber(precision: 128, -x)
        _ = mpfr_div(t.pointer, y.pointer, t.pointer, MPFR_RNDN)
        _ = mpfr_erfc(t.pointer, t.pointer, MPFR_RNDN)
        _ = mpfr_div_2ui(t.pointer, t.pointer, 1, MPFR_RNDN)
        return t.doubleValue
    }
}

extension MPFR {
    /// e^x at 128 bits, rounded to the nearest double (the same value on every machine, unlike
    /// the C library's exp).
    public static func exp(_ x: Double) -> Double {
        let t = MPFRNumber(precision: 128, x)
        _ = mpfr_exp(t.pointer, t.pointer, MPFR_RNDN)
        return t.doubleValue
    }

    /// ln x at 128 bits, rounded to the nearest double.
    public static func log(_ x: Double) -> Double {
        let t = MPFRNumber(precision: 128, x)
        _ = mpfr_log(t.pointer, t.pointer, MPFR_RNDN)
        return t.doubleValue
    }
}
