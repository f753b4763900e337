/// The first Ziv stage of binary64 exp and sigmoid (`FastElementFunctions64+Quick`) on eight
/// lanes at once: the same operations in the same order as `expQuick`, `sigmoidFirst` and
/// `decide` (so the same values, and the same lanes decided), vectorised for the stacks' SiLU
/// and gates and the reference tier's softmax probabilities. Lanes it leaves undecided — outside
/// the quick stage's range, too close to a rounding boundary, or scaled by 2^m with |m| > 1000 —
/// go to the scalar path (`FastElementFunctions64.double`, then MPFR), whose answer is the same
/// correctly rounded double whichever stage gives it.
///
/// Two steps differ in form, not value: k (an integer-valued double, |k| < 2^17) becomes an
/// integer through the bits of k + 1.5·2^52 (exact) instead of a conversion, and 2^m is built
/// from its exponent bits for every lane, as `pow2` does for one.
public enum QuickElementFunctions8 {
    public typealias D = SIMD8<Double>
    public typealias I = SIMD8<Int64>
    public typealias Mask = SIMDMask<SIMD8<Int64>>

    /// e^x for decided lanes.
    @inlinable @inline(__always)
    public static func exp(_ x: D, boundScale s: Double = 1) -> (value: D, decided: Mask) {
        let inRange = magnitude(x) .<= D(repeating: 746)  // NaN fails
        let xs = D(repeating: 0).replacing(with: x, where: inRange)
        let (zh, zl, m) = expQuick(xs)
        let (v, ok) = decide(zh, zl, FastElementFunctions64.quickBound * s, m)
        return (v, ok .& inRange)
    }

    /// σ(x) for decided lanes.
    @inlinable @inline(__always)
    public static func sigmoid(_ x: D, boundScale s: Double = 1) -> (value: D, decided: Mask) {
        let saturated = x .>= D(repeating: 40)
        let inRange = (x .>= D(repeating: -746)) .& .!saturated  // NaN fails
        let xs = D(repeating: 0).replacing(with: x, where: inRange)
        let nonNegative = xs .>= D(repeating: 0)
        let (zh, zl, m) = expQuick(xs.replacing(with: negated(xs), where: nonNegative))
        let scale = D(repeating: 0).replacing(with: pow2(m), where: m .>= I(repeating: -1000))
        let uh = zh * scale, ul = zl * scale
        let d = ddFastTwoSum(D(repeating: 1), uh)
        let q = reciprocalQuick(d.hi, d.lo + ul)
        let p = ddTwoProduct(zh, q.hi)
        let neg = ddFastTwoSum(p.hi, p.lo + (zh * q.lo + zl * q.hi))
        let vh = q.hi.replacing(with: neg.hi, where: .!nonNegative), vl = q.lo.replacing(with: neg.lo, where: .!nonNegative)
        let (v, ok) = decide(vh, vl, FastElementFunctions64.quickBound * s, I(repeating: 0).replacing(with: m, where: .!nonNegative))
        // x ≥ 40 (finite): 1, as the scalar stage answers.
        let finite = magnitude(x) .< D(repeating: .infinity)
        return (v.replacing(with: 1, where: saturated), (ok .& inRange) .| (saturated .& finite))
    }

    /// `expQuick`: e^x = z·2^m, z = zh + zl.
    @inlinable @inline(__always)
    static func expQuick(_ x: D) -> (zh: D, zl: D, m: I) {
        let (c1, c2, c3) = FastElementFunctions64.quickReduction
        let k = (x * (64 / 0x1.62e42fefa39efp-1)).rounded(.toNearestOrEven)
        let shifter = D(repeating: 0x1.8p52)
        let ki = unsafeBitCast(k + shifter, to: I.self) &- I(repeating: Int64(bitPattern: (0x1.8p52).bitPattern))
        let p1h = k * c1, p1l = negated(p1h).addingProduct(k, D(repeating: c1))
        let t = ddTwoSum(x, negated(p1h))
        let r = ddTwoSum(t.hi, t.lo - (p1l + (k * c2 + k * c3)))
        let rh = r.hi, rl = r.lo
        let h2 = rh * rh, h2l = negated(h2).addingProduct(rh, rh)
        let tail = h2 * rh * (D(repeating: 1.0 / 6) + rh * (D(repeating: 1.0 / 24) + rh * (D(repeating: 1.0 / 120) + rh * D(repeating: 1.0 / 720))))
        let s = ddFastTwoSum(rh, 0.5 * h2)
        let lo = s.lo + (rl + (0.5 * h2l + (rh * rl + tail)))
        let j = (ki & 63) &<< 1
        var th = D(), tl = D()
        let table = FastElementFunctions64.quickTable
        for l in 0..<8 {
            th[l] = table[Int(j[l])]
            tl[l] = table[Int(j[l]) + 1]
        }
        let p = ddTwoProduct(th, s.hi)
        let lo2 = p.lo + (th * lo + (tl + tl * s.hi))
        let y = ddFastTwoSum(th, p.hi)
        let z = ddFastTwoSum(y.hi, y.lo + lo2)
        return (z.hi, z.lo, ki &>> 6)
    }

    /// `reciprocalQuick`.
    @inlinable @inline(__always)
    static func reciprocalQuick(_ dh: D, _ dl: D) -> DD8 {
        let y0 = 1 / dh
        let rho = D(repeating: 1).addingProduct(negated(dh), y0)
        let rho2 = rho - dl * y0
        return ddFastTwoSum(y0, y0 * rho2)
    }

    /// `decide`: RN((vh + vl)·2^m) where every value within eps·|v| rounds the same way and
    /// |m| ≤ 1000.
    @inlinable @inline(__always)
    static func decide(_ vh: D, _ vl: D, _ eps: Double, _ m: I) -> (D, Mask) {
        let e = 2 * eps * magnitude(vh)
        let a = vh + (vl + e), b = vh + (vl - e)
        let small = (m .>= I(repeating: -1000)) .& (m .<= I(repeating: 1000))
        let scaled = a * pow2(I(repeating: 0).replacing(with: m, where: small))
        return (scaled, (a .== b) .& small)
    }

    /// |x| by clearing the sign bit (as the scalar `abs`).
    @inlinable @inline(__always)
    static func magnitude(_ x: D) -> D { unsafeBitCast(unsafeBitCast(x, to: I.self) & I(repeating: Int64.max), to: D.self) }

    /// 2^m for m in −1022...1023, from its bits.
    @inlinable @inline(__always)
    static func pow2(_ m: I) -> D {
        let clamped = m.clamped(lowerBound: I(repeating: -1022), upperBound: I(repeating: 1023))
        return unsafeBitCast((clamped &+ 1023) &<< 52, to: D.self)
    }
}
