import Foundation

/// Binary32 results of the elementwise functions without MPFR in the common case (Ziv's
/// strategy): the function is evaluated in binary64 by libm with a relative error far below
/// 2^-45, and the binary64 value is rounded to binary32 only when it lies farther than that
/// bound from every rounding boundary (a midpoint between neighbouring binary32 values), so the
/// rounding is the correctly rounded one. Otherwise — and for results that are not normal
/// binary32 numbers — the caller falls back to MPFR, so the bits are exactly those of the MPFR
/// path.
///
/// Error Bounds: each formula below is a short composition of libm functions (each < 1 ulp of
/// binary64 on glibc) and correctly rounded operations, chosen without cancellation; 2^-45
/// relative leaves a margin of more than 100× over the worst composition (≈ 5 ulp = 2^-50.7).
public enum FastElementFunctions {
    public static let bound = 0x1p-45

    @inlinable @inline(__always)
    static func sigmoid(_ x: Double) -> Double {
        if x >= 0 { return 1 / (1 + Foundation.exp(-x)) }
        let e = Foundation.exp(x)
        return e / (1 + e)
    }

    @inlinable @inline(__always)
    static func softplus(_ x: Double) -> Double {
        x > 0 ? x + Foundation.log1p(Foundation.exp(-x)) : Foundation.log1p(Foundation.exp(x))
    }

    /// f(x) in binary64 (nil where the formula's bound does not hold).
    @inlinable
    static func approximate(_ f: ElementFunction, _ x: Double) -> Double? {
        switch f {
        case .exp: return Foundation.exp(x)
        case .expm1: return Foundation.expm1(x)
        case .log: return x > 0 ? Foundation.log(x) : nil
        case .log1p: return x > -1 ? Foundation.log1p(x) : nil
        case .sqrt: return x >= 0 ? x.squareRoot() : nil
        case .rsqrt: return x > 0 ? 1 / x.squareRoot() : nil
        case .sigmoid: return sigmoid(x)
        case .logsigmoid: return -softplus(-x)
        case .softplus: return softplus(x)
        case .silu: return x * sigmoid(x)
        case .elu: return x > 0 ? x : Foundation.expm1(x)
        }
    }

    /// The correctly rounded binary32 f(x), or nil when the fast path cannot decide it.
    @inlinable
    public static func float(_ f: ElementFunction, _ x: Float) -> Float? {
        guard x.isFinite, let y = approximate(f, Double(x)), y.isFinite else { return nil }
        let r = Float(y)
        guard r.isNormal, r.nextUp.isFinite else { return nil }
        let err = abs(y) * bound
        let below = (Double(r) + Double(r.nextDown)) / 2, above = (Double(r) + Double(r.nextUp)) / 2
        guard y - below > err, above - y > err else { return nil }
        return r
    }
}

/// The correctly rounded binary32 e^x of eight lanes at once, without libm, for the decay
/// matrices and gates of the chunked kernels (thousands of exponentials per chunk): `decided`
/// marks the lanes it answers, each with the bits of `FastElementFunctions.float(.exp, x)` and
/// MPFR; the caller takes the scalar path for the others (non-finite inputs, results outside the
/// normal binary32 range, and binary64 values too close to a rounding boundary: about one lane
/// in 2^16).
///
/// e^x = 2^k·e^r with k = round(x·log2 e) and r = x − k·ln 2 by two FMAs with ln 2 = hi + lo
/// (x − k·hi is exact: x has 24 bits, |x| ≥ 0.34 when k ≠ 0, and the result is below 1/2 with
/// its last bit at or above 2^−53; the second FMA rounds once, ≤ 2^−53·|r|; lo's own error is
/// ≈ 2^−107), e^r by its Taylor polynomial of degree 13 on |r| ≤ 0.35 (remainder < 2^−57) in
/// Horner form with FMAs (< 2^−51 relative with the coefficients' rounding), 2^k exactly from
/// the exponent bits. So y is within 2^−50·y of e^x, 8 binary64 ulps; a lane is decided when
/// the 29 bits that rounding y to binary32 drops lie more than 2^12 ulps from the half-way
/// pattern 2^28 (512× that bound): then every value within the bound rounds the same way.
public enum FastExp8 {
    public typealias D = SIMD8<Double>
    public typealias Mask = SIMDMask<SIMD8<Int64>>

    @inlinable @inline(__always)
    public static func exp(_ x: SIMD8<Float>) -> (value: SIMD8<Float>, decided: Mask) {
        let xd = widened(x)
        // Inputs whose e^x is a normal binary32 with room to spare (NaN fails both).
        let inRange = (xd .>= D(repeating: -87)) .& (xd .<= D(repeating: 88))
        let (value, far) = rounded(expDouble(D(repeating: 0).replacing(with: xd, where: inRange)))
        return (value, inRange .& far)
    }

    /// The lanes as doubles, lane by lane: one vcvtps2pd (the generic init is a call).
    @inlinable @inline(__always)
    public static func widened(_ x: SIMD8<Float>) -> D {
        var xd = D()
        for l in 0..<8 { xd[l] = Double(x[l]) }
        return xd
    }

    /// e^x in binary64 within 2^−50·e^x, for binary32 values x (the reduction's first product is
    /// exact for 24-bit x) with |x| ≤ 88.
    @inlinable @inline(__always)
    public static func expDouble(_ xs: D) -> D {
        let shifter = D(repeating: 0x1.8p52)
        let t = shifter.addingProduct(xs, D(repeating: 1.4426950408889634))  // 0x1.8p52 + k
        let k = t - shifter
        var r = xs.addingProduct(-k, D(repeating: 0x1.62e42fefa39efp-1))
        r = r.addingProduct(-k, D(repeating: 0x1.abc9e3b39803fp-56))
        var p = D(repeating: 1.0 / 6_227_020_800)
        p = D(repeating: 1.0 / 479_001_600).addingProduct(p, r)
        p = D(repeating: 1.0 / 39_916_800).addingProduct(p, r)
        p = D(repeating: 1.0 / 3_628_800).addingProduct(p, r)
        p = D(repeating: 1.0 / 362_880).addingProduct(p, r)
        p = D(repeating: 1.0 / 40_320).addingProduct(p, r)
        p = D(repeating: 1.0 / 5_040).addingProduct(p, r)
        p = D(repeating: 1.0 / 720).addingProduct(p, r)
        p = D(repeating: 1.0 / 120).addingProduct(p, r)
        p = D(repeating: 1.0 / 24).addingProduct(p, r)
        p = D(repeating: 1.0 / 6).addingProduct(p, r)
        p = D(repeating: 0.5).addingProduct(p, r)
        p = D(repeating: 1).addingProduct(p, r)
        p = D(repeating: 1).addingProduct(p, r)
        // 2^k from the bits: t's low bits hold k (|k| ≤ 127).
        let kBits = unsafeBitCast(t, to: SIMD8<Int64>.self) &- SIMD8<Int64>(repeating: Int64(bitPattern: shifter[0].bitPattern))
        let scale = unsafeBitCast((kBits &+ 1023) &<< 52, to: D.self)
        return p * scale
    }

    /// RN(y) to binary32 and whether it is decided: the 29 bits rounding drops lie more than
    /// 2^12 binary64 ulps from the half-way pattern 2^28 (for y within 2^−48·y of the exact
    /// value, 32 ulps, a margin of 128×; y positive and normal).
    @inlinable @inline(__always)
    public static func rounded(_ y: D) -> (value: SIMD8<Float>, far: Mask) {
        let dropped = unsafeBitCast(y, to: SIMD8<Int64>.self) & SIMD8<Int64>(repeating: 0x1FFF_FFFF)
        let distance = dropped &- SIMD8<Int64>(repeating: 1 << 28)
        let far = (distance .> SIMD8<Int64>(repeating: 1 << 12)) .| (distance .< SIMD8<Int64>(repeating: -(1 << 12)))
        var value = SIMD8<Float>()
        for l in 0..<8 { value[l] = Float(y[l]) }
        return (value, far)
    }

    /// The correctly rounded binary32 σ(x) = 1/(1 + e^−x) of eight lanes (`decided` as for
    /// `exp`), the bits of `FastElementFunctions.float(.sigmoid, x)` and MPFR. With u = e^−|x|
    /// from `expDouble` (≤ 2^−50 relative), 1 + u carries u's error at most (≤ 2^−50·(1 + u))
    /// plus one rounding, 1/(1 + u) one more, u/(1 + u) u's error and one more: ≤ 2^−48.7 in
    /// all, inside `rounded`'s 2^−48. |x| ≤ 87: the result is a normal binary32 (σ(−87) ≈ 2^−125.5).
    @inlinable @inline(__always)
    public static func sigmoid(_ x: SIMD8<Float>) -> (value: SIMD8<Float>, decided: Mask) {
        let xd = widened(x)
        let inRange = (xd .>= D(repeating: -87)) .& (xd .<= D(repeating: 87))  // NaN fails
        let xs = D(repeating: 0).replacing(with: xd, where: inRange)
        let nonNegative = xs .>= D(repeating: 0)
        let u = expDouble(xs.replacing(with: xs * -1, where: nonNegative))
        let d = 1 + u
        let y = (1 / d).replacing(with: u / d, where: .!nonNegative)
        let (value, far) = rounded(y)
        return (value, inRange .& far)
    }
}
