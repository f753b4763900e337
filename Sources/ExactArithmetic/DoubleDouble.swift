/// An unevaluated sum hi + lo of two doubles with |lo| ≤ ulp(hi)/2: about 106 bits.
///
/// Algorithms from M. Joldes, J.-M. Muller, V. Popescu, "Tight and rigorous error bounds for
/// basic building blocks of double-word arithmetic", ACM TOMS 44(2), 2017:
/// addition is their Algorithm 6 (AccurateDWPlusDW, relative error ≤ 3u² + 13u³),
/// multiplication Algorithm 12 (DWTimesDW3, ≤ 4u²), division Algorithm 17 (DWDivDW2,
/// ≤ 15u² + 56u³), with u = 2^−53. Every product error term is taken with an explicit fused
/// multiply-add, so results do not depend on compiler flags.
@frozen
public struct DoubleDouble: Hashable, Sendable, CustomStringConvertible {
    public var hi: Double
    public var lo: Double

    @inlinable @inline(__always)
    public init(hi: Double, lo: Double) { self.hi = hi; self.lo = lo }

    @inlinable @inline(__always)
    public init(_ x: Double) { hi = x; lo = 0 }

    public static let zero = DoubleDouble(0)
    /// Unit roundoff of the format's working model (2^−104 covers the algorithms' bounds).
    public static let unitRoundoff = 0x1p-104

    @inlinable public var doubleValue: Double { hi + lo }
    public var description: String { "(\(hi) + \(lo))" }

    // MARK: error-free transformations

    @inlinable @inline(__always)
    public static func twoSum(_ a: Double, _ b: Double) -> DoubleDouble {
        let s = a + b
        let bb = s - a
        let e = (a - (s - bb)) + (b - bb)
        return DoubleDouble(hi: s, lo: e)
    }

    @inlinable @inline(__always)
    public static func fastTwoSum(_ a: Double, _ b: Double) -> DoubleDouble {
        let s = a + b
        return DoubleDouble(hi: s, lo: b - (s - a))
    }

    @inlinable @inline(__always)
    public static func twoProduct(_ a: Double, _ b: Double) -> DoubleDouble {
        let p = a * b
        return DoubleDouble(hi: p, lo: (-p).addingProduct(a, b))
    }

    // MARK: arithmetic

    @inlinable @inline(__always)
    public static func + (x: DoubleDouble, y: DoubleDouble) -> DoubleDouble {
        let s = twoSum(x.hi, y.hi)
        let t = twoSum(x.lo, y.lo)
        let c = s.lo + t.hi
        let v = fastTwoSum(s.hi, c)
        let w = t.lo + v.lo
        return fastTwoSum(v.hi, w)
    }

    @inlinable @inline(__always)
    public static prefix func - (x: DoubleDouble) -> DoubleDouble { DoubleDouble(hi: -x.hi, lo: -x.lo) }

    @inlinable @inline(__always)
    public static func - (x: DoubleDouble, y: DoubleDouble) -> DoubleDouble { x + (-y) }

    @inlinable @inline(__always)
    public static func * (x: DoubleDouble, y: DoubleDouble) -> DoubleDouble {
        let ch = x.hi * y.hi
        let cl1 = (-ch).addingProduct(x.hi, y.hi)
        let tl0 = x.lo * y.lo
        let tl1 = tl0.addingProduct(x.hi, y.lo)
        let cl2 = tl1.addingProduct(x.lo, y.hi)
        let cl3 = cl1 + cl2
        return fastTwoSum(ch, cl3)
    }

    @inlinable @inline(__always)
    public static func / (x: DoubleDouble, y: DoubleDouble) -> DoubleDouble {
        let th = x.hi / y.hi
        let r = y * DoubleDouble(th)
        let ph = x.hi - r.hi
        let dl = x.lo - r.lo
        let d = ph + dl
        let tl = d / y.hi
        return fastTwoSum(th, tl)
    }

    /// a·b + c with the double-word product and sum (two double-word roundings).
    @inlinable @inline(__always)
    public static func fma(_ a: DoubleDouble, _ b: DoubleDouble, _ c: DoubleDouble) -> DoubleDouble {
        a * b + c
    }

    /// √x: one Newton correction of the double square root (Karp–Markstein).
    @inlinable
    public func squareRoot() -> DoubleDouble {
        if hi <= 0 || !hi.isFinite { return DoubleDouble(hi.squareRoot()) }
        let s = hi.squareRoot()
        let e = self - DoubleDouble.twoProduct(s, s)
        return DoubleDouble.fastTwoSum(s, e.hi / (2 * s))
    }

    @inlinable public static func < (x: DoubleDouble, y: DoubleDouble) -> Bool {
        x.hi < y.hi || (x.hi == y.hi && x.lo < y.lo)
    }

    /// hi + lo rounded to a double by round-to-odd: a later rounding to any format with at
    /// most 51 significand bits is then correct (no double rounding).
    @inlinable
    public var roundedToOddDouble: Double {
        if lo == 0 || !hi.isFinite { return hi }
        // Truncate toward zero: hi itself when lo points toward zero's other side.
        var t = hi
        if (hi > 0) != (lo > 0) { t = hi > 0 ? hi.nextDown : hi.nextUp }
        let bits = t.bitPattern
        return Double(bitPattern: bits | 1)
    }
}
