import Foundation

/// A first, cheaper stage of Ziv's strategy for exp and sigmoid: the same argument reduction as
/// `expScaled` and the same table 2^(j/64), but exp(r) − 1 from a degree-6 polynomial whose
/// leading part r + r²/2 is kept in double-double and whose tail r³/6 + … + r⁶/720 is a double
/// Horner sum. Its error bound ε = 2^−62 leaves undecided about 2^−8 of the inputs (the
/// interval's width in ulps; a test checks > 99% decided on gate-like inputs); the rest
/// fall through to the degree-10 double-double stage (ε = 2^−90), then to MPFR — every stage
/// returns the correctly rounded double or nothing, so the result's bits do not depend on the
/// stage that gave it.
///
/// Error bound of `expQuick` (relative, against exp(x)/2^m):
/// - reduction: k as in `expScaled` (so |r| ≤ 0.00542), x − RN(k·c1) and k·c1 − RN(k·c1) exact
///   (two-sum, FMA), k·c2 + k·c3 and the low sums rounded (terms ≤ 2^−41): r = rh + rl with
///   |rl| ≤ 2^−53|rh|, absolute ≤ 2^−93;
/// - truncation: exp(r) − 1 − Σ_{n=1..6} r^n/n! ≤ 0.00542^7/7!·1.01 ≤ 2^−65.0;
/// - kept: rh + rh²/2 (rh² exact by FMA) + rl + rh·rl; dropped terms of rl beyond rh·rl ≤ 2^−76;
///   the tail rh³(1/6 + rh(1/24 + rh(1/120 + rh/720))) ≤ 2^−25.1 in magnitude, its roundings and
///   the coefficients' ≤ 2^−76, the four additions into the low part ≤ 2^−76: e = exp(r) − 1 to
///   ≤ 2^−64.9 absolute;
/// - y = T·(1 + e), T = 2^(j/64) as a double-double (≤ 2^−106): T_hi·e_hi exact (two-product),
///   the other products and sums ≤ 2^−76; |y| ≥ 0.994, so ≤ 2^−64.8 relative.
/// sigmoid adds 1/(1 + u) (u = e^∓|x| ≤ 1, dropped below 2^−1000, where it moves d by less
/// than 2^−999; d = 1 + u in double-double, 1/d by one Newton step
/// from an FMA residual: ≤ 2^−103) and, for x < 0, one product z·(1/d) (≤ 2^−104): u's error
/// enters d at most halved (u/(1 + u) ≤ ½), so ≤ 2^−64.8 + 2^−65.8 + 2^−100 ≤ 2^−64.2. ε = 2^−62
/// leaves a margin of 4.6× over the larger.
extension FastElementFunctions64 {
    public static let quickBound = 0x1p-62

    /// 2^(j/64) as (hi, lo) pairs, j = 0..<64 (the table of `constants`, flattened), behind a
    /// pointer allocated once and never freed (read without reference counting).
    @usableFromInline
    nonisolated(unsafe) static let quickTable: UnsafePointer<Double> = {
        let t = UnsafeMutablePointer<Double>.allocate(capacity: 128)
        for (j, v) in constants.table.enumerated() { t[2 * j] = v.hi; t[2 * j + 1] = v.lo }
        return UnsafePointer(t)
    }()

    /// ln2/64 = c1 + c2 + c3 (the constants of `expScaled`).
    @usableFromInline
    static let quickReduction: (Double, Double, Double) = (constants.c1, constants.c2, constants.c3)

    /// exp(x) = z·2^m, z ∈ [0.99, 2.02] a double-double of relative error ≤ 2^−64.8; |x| ≤ 746.
    @inlinable @inline(__always)
    static func expQuick(_ x: Double) -> (z: DoubleDouble, m: Int) {
        let (c1, c2, c3) = quickReduction
        let k = (x * (64 / 0x1.62e42fefa39efp-1)).rounded(.toNearestOrEven)
        let ki = Int(k)
        let p1h = k * c1, p1l = (-p1h).addingProduct(k, c1)  // k·c1 = p1h + p1l exactly
        let t = DoubleDouble.twoSum(x, -p1h)
        let r = DoubleDouble.twoSum(t.hi, t.lo - (p1l + (k * c2 + k * c3)))
        let rh = r.hi, rl = r.lo
        let h2 = rh * rh, h2l = (-h2).addingProduct(rh, rh)  // rh² − h2, exact
        let tail = h2 * rh * (1.0 / 6 + rh * (1.0 / 24 + rh * (1.0 / 120 + rh * (1.0 / 720))))
        let s = DoubleDouble.fastTwoSum(rh, 0.5 * h2)
        let lo = s.lo + (rl + (0.5 * h2l + (rh * rl + tail)))
        let j = (ki & 63) << 1
        let th = quickTable[j], tl = quickTable[j + 1]
        let p = DoubleDouble.twoProduct(th, s.hi)
        let lo2 = p.lo + (th * lo + (tl + tl * s.hi))
        let y = DoubleDouble.fastTwoSum(th, p.hi)
        return (DoubleDouble.fastTwoSum(y.hi, y.lo + lo2), ki >> 6)
    }

    @inlinable
    static func expFirst(_ x: Double, _ s: Double) -> Double? {
        guard abs(x) <= 746 else { return nil }  // also NaN
        let (z, m) = expQuick(x)
        return decide(z, quickBound * s, m)
    }

    /// 1/d for d = dh + dl (|dl| ≤ ulp(dh)), dh ∈ [1, 2]: one Newton step from y0 = RN(1/dh).
    @inlinable @inline(__always)
    static func reciprocalQuick(_ dh: Double, _ dl: Double) -> DoubleDouble {
        let y0 = 1 / dh
        let rho = (1.0).addingProduct(-dh, y0)  // 1 − dh·y0, exact
        let rho2 = rho - dl * y0
        return DoubleDouble.fastTwoSum(y0, y0 * rho2)
    }

    @inlinable
    static func sigmoidFirst(_ x: Double, _ s: Double) -> Double? {
        if x >= 40 { return x.isFinite ? 1 : nil }
        guard x >= -746 else { return nil }  // also NaN
        let (z, m) = expQuick(x >= 0 ? -x : x)
        let scale = m >= -1000 ? pow2(m) : 0  // m ≤ 1
        let uh = z.hi * scale, ul = z.lo * scale
        let d = DoubleDouble.fastTwoSum(1, uh)
        let q = reciprocalQuick(d.hi, d.lo + ul)
        if x >= 0 { return decide(q, quickBound * s, 0) }
        let p = DoubleDouble.twoProduct(z.hi, q.hi)
        return decide(DoubleDouble.fastTwoSum(p.hi, p.lo + (z.hi * q.lo + z.lo * q.hi)), quickBound * s, m)
    }

    /// 2^m for m in −1022...1023 (a normal double, built from its bits).
    @inlinable @inline(__always)
    static func pow2(_ m: Int) -> Double { Double(bitPattern: UInt64(1023 + m) << 52) }
}
