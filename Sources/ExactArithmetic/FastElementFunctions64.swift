import CMPFR
import Foundation

/// Binary64 results of the per-token elementwise functions (exp, sigmoid, softplus, logsigmoid,
/// rsqrt) without MPFR in the common case, bit-identical to the MPFR path of `ArrayBackend`
/// (the function correctly rounded at 53 bits with MPFR's unbounded exponent, then `mpfr_get_d`).
///
/// Ziv's strategy (exp and sigmoid first try the cheaper stage of `FastElementFunctions64+Quick`,
/// ε = 2^−62): f(x) is evaluated in double-double arithmetic (`DoubleDouble`, whose
/// operations have proven relative error bounds: + ≤ 2^−104.4, × ≤ 2^−104, ÷ ≤ 2^−102.1) at a
/// magnitude in [2^−7, 4) (a binary exponent 2^m is kept apart; softplus: below 64), giving Y with
/// |f(x)/2^m − Y| ≤ ε·|Y|. Round-to-nearest-even is monotone, so when Y − ε|Y| and Y + ε|Y| round
/// to the same double r, RN(f(x)/2^m) = r; the result r·2^m is returned only when it is a normal
/// double (then it equals MPFR's 53-bit rounding with unbounded exponent, which `mpfr_get_d`
/// keeps exactly). Otherwise — near a rounding boundary, subnormal or overflowing results,
/// NaN/±Inf/±0 inputs, functions without a fast path — it returns nil and the caller takes the
/// MPFR path.
///
/// Error bounds (relative, before the rounding test; each with a margin of ≥ 2^7 to ε):
/// - exp: x = k·ln2/64 + r, |k| ≤ 2^17, r = x − k·(c1 + c2 + c3) in double-double with
///   k·c1, k·c2 exact (two-product), k·c3 rounded (≤ 2^−125 absolute), ln2/64 − c1 − c2 − c3
///   ≤ 2^−165: |r| ≤ 0.00542, absolute error ≤ 2^−104. exp(r) by its degree-10 Taylor
///   polynomial (remainder ≤ 0.00542^11/11! ≤ 2^−108), Horner in double-double (10 × and +,
///   the error of step i damped by |r|^i: ≤ 2^−102.5), times 2^(j/64) (double-double from
///   MPFR, ≤ 2^−106; one × ≤ 2^−104): total ≤ 2^−100. ε = 2^−90.
/// - sigmoid: 1/(1 + e^−x) (x ≥ 0) or e^x/(1 + e^x) (x < 0), one + and one ÷ on top of exp:
///   ≤ 2^−98.5. x ≥ 40 gives 1 (1 − e^−40 > 1 − 2^−54, the midpoint below 1). ε = 2^−90.
/// - log1p(u), u = e^±x ∈ (0, 1] from exp (≤ 2^−100): for u ≥ 2^−6, y0 = libm log1p(u.hi),
///   t = (1 + u)·e^−y0 − 1 in double-double (absolute ≤ 2^−98.5 from u and e^−y0, ≤ 2^−103
///   from the operations), log1p(u) = y0 + t − t²/2 (|t| ≤ 2^−45: remainder ≤ 2^−134):
///   absolute ≤ 2^−97.7, relative ≤ 2^−91.6 since log1p(u) ≥ 2^−6.03. For u < 2^−6,
///   log1p(u) = 2s·Σ s^2i/(2i+1), s = u/(2 + u) ≤ 2^−7, i ≤ 7 (remainder ≤ 2^−112), all in
///   double-double: ≤ 2^−98. softplus adds x ≥ 0 to it (no cancellation): ≤ 2^−91.5.
///   x ≥ 40 gives x (e^−40 < ulp(x)/4). ε = 2^−88 (softplus, logsigmoid = −softplus(−x)).
/// - rsqrt: x = f·2^2s, f ∈ [1, 4); y0 = 1/√f in double (≤ 2^−51.4); h = f·y0² − 1 from exact
///   products (absolute ≤ 2^−102), 1/√f = y0·(1 − h/2 + 3h²/8) (remainder ≤ 2^−150): ≤ 2^−100.
///   ε = 2^−95.
public enum FastElementFunctions64 {
    public static let expBound = 0x1p-90
    public static let softplusBound = 0x1p-88
    public static let rsqrtBound = 0x1p-95

    /// True for the functions with a fast path (the others always return nil).
    public static func hasFastPath(_ f: ElementFunction) -> Bool {
        switch f {
        case .exp, .sigmoid, .softplus, .logsigmoid, .rsqrt: return true
        default: return false
        }
    }

    /// The correctly rounded binary64 f(x) (equal to the MPFR path), or nil when the fast path
    /// cannot decide it. `boundScale` (tests only) multiplies every error bound: a larger
    /// bound only makes the fast path give up more often.
    @inlinable
    public static func double(_ f: ElementFunction, _ x: Double, boundScale: Double = 1) -> Double? {
        switch f {
        case .exp: return expFirst(x, boundScale) ?? exp(x, boundScale)
        case .sigmoid: return sigmoidFirst(x, boundScale) ?? sigmoid(x, boundScale)
        case .softplus: return softplus(x, boundScale)
        case .logsigmoid: return softplus(-x, boundScale).map { -$0 }
        case .rsqrt: return rsqrt(x, boundScale)
        default: return nil
        }
    }

    // MARK: rounding test

    /// RN(v·2^m) when every value within eps·|v| of v rounds to the same double and the
    /// result is a normal double; |v| in [2^−7, 64) (so eps·|v.hi| is a normal double and the
    /// rounding error of v.lo ± 2·eps·|v.hi|, ≤ 2^−105·|v.hi|, stays below the slack eps·|v.hi| the
    /// factor 2 leaves over eps·|v| ≤ eps·|v.hi|·(1 + 2^−52); eps ≥ 2^−100).
    @inlinable @inline(__always)
    static func decide(_ v: DoubleDouble, _ eps: Double, _ m: Int) -> Double? {
        let e = 2 * eps * abs(v.hi)
        let a = v.hi + (v.lo + e), b = v.hi + (v.lo - e)
        guard a == b else { return nil }
        if m == 0 { return a }
        // |a| ∈ [2^−7, 64]: a·2^m is exact and normal for |m| ≤ 1000.
        if abs(m) <= 1000 { return a * pow2(m) }
        let r = Double(sign: .plus, exponent: m, significand: a)
        guard r.isFinite, abs(r) >= Double.leastNormalMagnitude else { return nil }
        return r
    }

    // MARK: constants (computed once with MPFR at 256 bits, each split to a double-double)

    @usableFromInline
    struct Constants: Sendable {
        /// ln2/64 = c1 + c2 + c3.
        let c1: Double, c2: Double, c3: Double
        /// 2^(j/64), j = 0..<64.
        let table: [DoubleDouble]
        /// 1/n!, n = 0...10.
        let taylor: [DoubleDouble]
        /// 1/(2i + 1), i = 0...7.
        let odd: [DoubleDouble]
    }

    @usableFromInline
    static let constants: Constants = {
        let t = MPFRNumber(precision: 256), u = MPFRNumber(precision: 256)
        let rnd = MPFR_RNDN
        func split() -> DoubleDouble {
            let h = mpfr_get_d(t.pointer, rnd)
            _ = mpfr_sub_d(u.pointer, t.pointer, h, rnd)
            return DoubleDouble(hi: h, lo: mpfr_get_d(u.pointer, rnd))
        }
        _ = mpfr_const_log2(t.pointer, rnd)
        _ = mpfr_div_ui(t.pointer, t.pointer, 64, rnd)
        let c1 = mpfr_get_d(t.pointer, rnd)
        _ = mpfr_sub_d(t.pointer, t.pointer, c1, rnd)
        let c2 = mpfr_get_d(t.pointer, rnd)
        _ = mpfr_sub_d(t.pointer, t.pointer, c2, rnd)
        let c3 = mpfr_get_d(t.pointer, rnd)
        var table: [DoubleDouble] = []
        for j in 0..<64 {
            _ = attnprec_mpfr_set_d(t.pointer, Double(j) / 64, rnd)  // exact
            _ = mpfr_exp2(t.pointer, t.pointer, rnd)
            table.append(split())
        }
        var taylor: [DoubleDouble] = []
        var factorial = 1.0  // n! ≤ 10! is exact
        for n in 0...10 {
            if n > 0 { factorial *= Double(n) }
            _ = attnprec_mpfr_set_d(u.pointer, factorial, rnd)
            _ = mpfr_ui_div(t.pointer, 1, u.pointer, rnd)
            taylor.append(split())
        }
        var odd: [DoubleDouble] = []
        for i in 0...7 {
            _ = attnprec_mpfr_set_d(u.pointer, Double(2 * i + 1), rnd)
            _ = mpfr_ui_div(t.pointer, 1, u.pointer, rnd)
            odd.append(split())
        }
        return Constants(c1: c1, c2: c2, c3: c3, table: table, taylor: taylor, odd: odd)
    }()

    // MARK: exp

    /// exp(x) = z·2^m with z ∈ [0.99, 2.02] a double-double of relative error ≤ 2^−100;
    /// |x| ≤ 746.
    @usableFromInline
    static func expScaled(_ x: Double) -> (z: DoubleDouble, m: Int) {
        let c = constants
        let k = (x * (64 / 0x1.62e42fefa39efp-1)).rounded(.toNearestOrEven)
        let ki = Int(k)
        let p1 = DoubleDouble.twoProduct(k, c.c1), p2 = DoubleDouble.twoProduct(k, c.c2)
        var r = DoubleDouble(x) - p1
        r = r - p2
        r = r - DoubleDouble(k * c.c3)
        var p = c.taylor[10]
        for n in stride(from: 9, through: 0, by: -1) { p = p * r + c.taylor[n] }
        let j = ki & 63
        return (c.table[j] * p, ki >> 6)
    }

    @inlinable
    static func exp(_ x: Double, _ s: Double) -> Double? {
        guard abs(x) <= 746 else { return nil }  // also NaN
        let (z, m) = expScaled(x)
        return decide(z, expBound * s, m)
    }

    // MARK: sigmoid

    @inlinable
    static func sigmoid(_ x: Double, _ s: Double) -> Double? {
        if x >= 40 { return x.isFinite ? 1 : nil }
        guard x >= -746 else { return nil }  // also NaN
        if x >= 0 {
            let (z, m) = expScaled(-x)
            let e = DoubleDouble(hi: Double(sign: .plus, exponent: m, significand: z.hi),
                                 lo: Double(sign: .plus, exponent: m, significand: z.lo))
            return decide(DoubleDouble(1) / (DoubleDouble(1) + e), expBound * s, 0)
        }
        let (z, m) = expScaled(x)
        let e = DoubleDouble(hi: Double(sign: .plus, exponent: m, significand: z.hi),
                             lo: Double(sign: .plus, exponent: m, significand: z.lo))
        return decide(z / (DoubleDouble(1) + e), expBound * s, m)
    }

    // MARK: softplus

    /// log1p(u) = w·2^m for u = z·2^mz ∈ (0, 1] (z, mz from `expScaled`).
    @usableFromInline
    static func log1pScaled(_ z: DoubleDouble, _ mz: Int) -> (w: DoubleDouble, m: Int) {
        let c = constants
        let u = DoubleDouble(hi: Double(sign: .plus, exponent: mz, significand: z.hi),
                             lo: Double(sign: .plus, exponent: mz, significand: z.lo))
        let one = DoubleDouble(1)
        if u.hi >= 0x1p-6 {
            let v = one + u
            let y0 = _log1p(u.hi)
            let (ez, em) = expScaled(-y0)
            let e = DoubleDouble(hi: Double(sign: .plus, exponent: em, significand: ez.hi),
                                 lo: Double(sign: .plus, exponent: em, significand: ez.lo))
            let t = v * e - one
            let th = t.hi
            let corr = t - DoubleDouble(0.5 * th * th)
            return (DoubleDouble(y0) + corr, 0)
        }
        // 2s·Σ s^2i/(2i+1), s = u/(2+u); unscaled: 2·(z/(2+u))·Σ.
        let d = DoubleDouble(2) + u
        let sScaled = u / d
        let s2 = sScaled * sScaled
        var sum = c.odd[7]
        for i in stride(from: 6, through: 0, by: -1) { sum = sum * s2 + c.odd[i] }
        let sUnscaled = z / d
        let w = sUnscaled * sum
        return (DoubleDouble(hi: 2 * w.hi, lo: 2 * w.lo), mz)
    }

    @inlinable
    static func softplus(_ x: Double, _ s: Double) -> Double? {
        if x >= 40 { return x.isFinite ? x : nil }
        guard x >= -746 else { return nil }  // also NaN
        if x > 0 {
            let (z, m) = expScaled(-x)
            let (w, mw) = log1pScaled(z, m)
            let l = DoubleDouble(hi: Double(sign: .plus, exponent: mw, significand: w.hi),
                                 lo: Double(sign: .plus, exponent: mw, significand: w.lo))
            return decide(DoubleDouble(x) + l, softplusBound * s, 0)
        }
        let (z, m) = expScaled(x)
        let (w, mw) = log1pScaled(z, m)
        return decide(w, softplusBound * s, mw)
    }

    // MARK: rsqrt

    @inlinable
    static func rsqrt(_ x: Double, _ s: Double) -> Double? {
        guard x > 0, x.isFinite else { return nil }  // also NaN
        let e = Int(x.exponent)
        let half = e >= 0 ? e / 2 : -((1 - e) / 2)  // floor(e/2)
        let f = Double(sign: .plus, exponent: -2 * half, significand: x)  // [1, 4), exact
        let y0 = 1 / f.squareRoot()
        let p = DoubleDouble.twoProduct(y0, y0)
        let a = DoubleDouble.twoProduct(f, p.hi)
        let b = f * p.lo
        let h = ((a.hi - 1) + a.lo) + b
        let c = y0 * (h * (0.375 * h - 0.5))
        return decide(DoubleDouble.fastTwoSum(y0, c), rsqrtBound * s, -half)
    }
}

@usableFromInline func _log1p(_ x: Double) -> Double { Foundation.log1p(x) }
