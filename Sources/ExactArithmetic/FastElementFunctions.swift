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
