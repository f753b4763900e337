import CMPFR

/// Relative and absolute errors between a reference vector and an approximation, measured
/// without losing digits: differences are formed by MPFR (correctly rounded, whatever the
/// operands' precisions), norms accumulated at 64 bits. So MPFR-128 against MPFR-256 shows
/// its true ~1e-38 distance, not the 1e-17 a Double comparison would.
public final class ErrorMeter {
    let diff = MPFRNumber(precision: 64)
    let square = MPFRNumber(precision: 64)
    let errSum = MPFRNumber(precision: 64)
    let refSum = MPFRNumber(precision: 64)
    let maxAbs = MPFRNumber(precision: 64)

    public init() {}

    public struct Distance: Sendable, Equatable {
        /// ‖a − b‖₂ / ‖a‖₂ (0 when both are zero, +∞ when only the reference is).
        public var relative: Double
        /// max_i |a_i − b_i|
        public var maxAbsolute: Double
        /// (number of NaN or infinite elements in the approximation)
        public var nonFinite: Int
    }

    /// Distance of b[0..<count] from the reference a[0..<count].
    public func distance(reference a: MPFRArray, _ b: MPFRArray, count: Int) -> Distance {
        let d = diff.pointer, s = square.pointer, e = errSum.pointer, r = refSum.pointer, m = maxAbs.pointer
        mpfr_set_zero(e, 1); mpfr_set_zero(r, 1); mpfr_set_zero(m, 1)
        var nonFinite = 0
        for i in 0..<count {
            if attnprec_mpfr_nan_p(b[i]) != 0 || attnprec_mpfr_inf_p(b[i]) != 0 { nonFinite += 1; continue }
            _ = mpfr_sub(d, a[i], b[i], MPFR_RNDN)
            _ = mpfr_abs(d, d, MPFR_RNDN)
            if mpfr_greater_p(d, m) != 0 { _ = mpfr_set(m, d, MPFR_RNDN) }
            _ = mpfr_sqr(s, d, MPFR_RNDN); _ = mpfr_add(e, e, s, MPFR_RNDN)
            _ = mpfr_sqr(s, a[i], MPFR_RNDN); _ = mpfr_add(r, r, s, MPFR_RNDN)
        }
        return finish(nonFinite: nonFinite)
    }

    /// The same for Double vectors (differences exact-ish: computed in double-double).
    public func distance(reference a: UnsafeBufferPointer<Double>, _ b: UnsafeBufferPointer<Double>) -> Distance {
        precondition(a.count == b.count)
        var e = 0.0, r = 0.0, m = 0.0
        var nonFinite = 0
        for i in 0..<a.count {
            if !b[i].isFinite { nonFinite += 1; continue }
            let dd = DoubleDouble.twoSum(a[i], -b[i])
            let d = abs(dd.hi)
            m = Swift.max(m, d)
            e = e.addingProduct(d, d)
            r = r.addingProduct(a[i], a[i])
        }
        let rel = nonFinite > 0 ? Double.nan : (r == 0 ? (e == 0 ? 0 : .infinity) : (e / r).squareRoot())
        return Distance(relative: rel, maxAbsolute: m, nonFinite: nonFinite)
    }

    func finish(nonFinite: Int) -> Distance {
        let e = mpfr_get_d(errSum.pointer, MPFR_RNDN), r = mpfr_get_d(refSum.pointer, MPFR_RNDN)
        let rel: Double
        if nonFinite > 0 { rel = .nan } else if r == 0 { rel = e == 0 ? 0 : .infinity } else {
            // ratio in MPFR: e and r may lie outside Double's range (1e-700 errors at 2P bits).
            _ = mpfr_div(diff.pointer, errSum.pointer, refSum.pointer, MPFR_RNDN)
            _ = mpfr_sqrt(diff.pointer, diff.pointer, MPFR_RNDN)
            rel = mpfr_get_d(diff.pointer, MPFR_RNDN)
        }
        return Distance(relative: rel, maxAbsolute: mpfr_get_d(maxAbs.pointer, MPFR_RNDN), nonFinite: nonFinite)
    }
}
