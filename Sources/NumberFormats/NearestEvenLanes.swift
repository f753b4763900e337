/// Round-to-nearest-even of binary32 lanes to a smaller element format, vectorised: the same
/// result as `ElementRounder.round` for the formats it accepts (signed, with subnormals and
/// −0, 1…22 mantissa bits, inside binary32's range, nearest-even, no flush; NaN stays a NaN),
/// which a test checks value by value.
///
/// Formats with binary32's exponent range (bf16, tf32) round on the bits (add half − 1 + lsb,
/// mask), where carries into the exponent are correct rounding and overflow to infinity comes
/// out by itself. Others add and subtract c = 2^(max(e, emin) − m + 23), which rounds to the
/// format's quantum at every exponent (subnormals included), then clamp the overflow.
public struct NearestEvenLanes: Sendable {
    @usableFromInline enum Method: Sendable { case bits, magic }
    @usableFromInline let method: Method
    @usableFromInline let shift: SIMD8<UInt32>
    @usableFromInline let halfMinusOne: SIMD8<UInt32>
    @usableFromInline let mask: SIMD8<UInt32>
    @usableFromInline let minNormalExponentBits: SIMD8<UInt32>
    @usableFromInline let magicOffset: SIMD8<UInt32>
    @usableFromInline let clampBits: SIMD8<UInt32>
    @usableFromInline let maxFiniteBits: SIMD8<UInt32>
    @usableFromInline let overflowBits: SIMD8<UInt32>
    @usableFromInline let saturates: Bool
    /// The smallest positive binary32 magnitude whose rounding overflows or saturates: below
    /// it, rounding equals rounding with an unbounded exponent.
    public let overflowThreshold: Float
    @usableFromInline let mantissaBits: Int

    public init?(_ r: ElementRounder) {
        let f = r.format
        guard r.rounding == .nearestEven, !r.flushSubnormals, f.isSigned, f.hasSubnormals, f.hasNegativeZero,
              (1...22).contains(f.mantissaBits), f.minNormalExponent >= -126, f.maxFinite <= Double(Float.greatestFiniteMagnitude)
        else { return nil }
        let drop = UInt32(23 - f.mantissaBits)
        let maxFinite = Float(f.maxFinite).bitPattern
        let overflow = r.round(Float.greatestFiniteMagnitude).bitPattern & 0x7FFF_FFFF
        let infinity = r.round(Float.infinity).bitPattern & 0x7FFF_FFFF
        // One overflow result for finite and infinite inputs (true of every policy here).
        guard overflow == infinity, overflow == maxFinite || overflow >= 0x7F80_0000 else { return nil }
        saturates = overflow == maxFinite
        mantissaBits = f.mantissaBits
        // Where rounding with an unbounded exponent first goes above maxFinite: past the
        // midpoint to the next grid value, or at it when maxFinite's last bit is odd. The fast
        // magic rounding is exact below this (and below the rounder's own overflow point).
        let top = Double(sign: .plus, exponent: f.maxFinite.exponent - f.mantissaBits, significand: 1)
        let midpoint = Float(f.maxFinite + top / 2)
        let maxFiniteEven = (f.maxFinite / top).truncatingRemainder(dividingBy: 2) == 0
        let unboundedThreshold = maxFiniteEven ? midpoint.nextUp : midpoint
        // Rounding is monotone in the magnitude: bisect on the bit patterns of finite inputs.
        func overflows(_ bits: UInt32) -> Bool {
            let y = r.round(Float(bitPattern: bits))
            return !y.isFinite || Double(y) > f.maxFinite
        }
        if overflows(Float.greatestFiniteMagnitude.bitPattern) {
            var lo: UInt32 = 0, hi = Float.greatestFiniteMagnitude.bitPattern
            while hi - lo > 1 {
                let mid = lo + (hi - lo) / 2
                if overflows(mid) { hi = mid } else { lo = mid }
            }
            overflowThreshold = min(Float(bitPattern: hi), unboundedThreshold)
        } else {
            overflowThreshold = unboundedThreshold
        }
        let ieeeTop = f.minNormalExponent == -126 && f.hasInfinity && f.maxExponent == 127
        method = ieeeTop ? .bits : .magic
        if method == .magic {
            // The clamp below must stay above every value that rounds to a finite result.
            guard f.maxFinite < Double(sign: .plus, exponent: 127 - Int(drop), significand: 1) else { return nil }
        }
        shift = SIMD8(repeating: drop)
        halfMinusOne = SIMD8(repeating: (UInt32(1) << (drop - 1)) - 1)
        mask = SIMD8(repeating: ~((UInt32(1) << drop) - 1))
        minNormalExponentBits = SIMD8(repeating: Float(f.minNormal).bitPattern)
        magicOffset = SIMD8(repeating: drop << 23)
        // Inputs above 2^(127 − drop) would overflow c; any value there overflows the format too.
        clampBits = SIMD8(repeating: (254 - drop) << 23)
        maxFiniteBits = SIMD8(repeating: maxFinite)
        overflowBits = SIMD8(repeating: overflow)
    }

    @inlinable @inline(__always)
    public func round(_ x: SIMD8<Float>) -> SIMD8<Float> {
        switch method {
        case .bits: return roundBits(x)
        case .magic: return roundMagic(x)
        }
    }

    /// Formats sharing binary32's exponent range and infinities (bf16, tf32): 8 vector
    /// operations (10 when overflow saturates).
    @inlinable @inline(__always)
    func roundBits(_ x: SIMD8<Float>) -> SIMD8<Float> {
        typealias U = SIMD8<UInt32>
        let xb = unsafeBitCast(x, to: U.self)
        let signMask = U(repeating: 0x8000_0000), inf = U(repeating: 0x7F80_0000)
        let a = xb & ~signMask
        var r = a.nearestEvenOnBits(shift: shift, halfMinusOne: halfMinusOne, keep: mask)
        if saturates { r = r.replacing(with: maxFiniteBits, where: r .> maxFiniteBits) }
        return unsafeBitCast(r.replacing(with: a, where: a .> inf) | (xb & signMask), to: SIMD8<Float>.self)
    }

    /// Every other accepted format: the magic-number rounding at the value's own quantum. NaN
    /// needs no fix-up: the float compares leave it in place and the additions propagate it.
    @inlinable @inline(__always)
    func roundMagic(_ x: SIMD8<Float>) -> SIMD8<Float> {
        typealias U = SIMD8<UInt32>
        typealias F = SIMD8<Float>
        let xb = unsafeBitCast(x, to: U.self)
        let signMask = U(repeating: 0x8000_0000), expMask = U(repeating: 0x7F80_0000)
        let af = unsafeBitCast(xb & ~signMask, to: F.self)
        let clamp = unsafeBitCast(clampBits, to: F.self)
        let ac = af.replacing(with: clamp, where: af .> clamp)
        let e = pointwiseMax(unsafeBitCast(ac, to: U.self) & expMask, minNormalExponentBits)
        let c = unsafeBitCast(e &+ magicOffset, to: F.self)
        var r = (ac + c) - c
        let maxF = unsafeBitCast(maxFiniteBits, to: F.self)
        r = r.replacing(with: unsafeBitCast(overflowBits, to: F.self), where: r .> maxF)
        return unsafeBitCast(unsafeBitCast(r, to: U.self) | (xb & signMask), to: F.self)
    }

    @inlinable
    public func round(_ x: Float) -> Float { round(SIMD8(repeating: x))[0] }

    /// The 16-lane store rounding a fused kernel may use instead of `round` for this format.
    public enum ShortForm: Sendable {
        /// `BitsRounding`: binary32's exponent range without saturation.
        case bits
        /// `MagicRounding`, exact below `overflowThreshold` (m ≤ 21 keeps x + c in c's binade).
        case magic
        /// None: `ExactRounding` (this type's `round`) on every input.
        case exact
    }

    public var shortForm: ShortForm {
        switch method {
        case .bits: return saturates ? .exact : .bits
        case .magic: return mantissaBits <= 21 ? .magic : .exact
        }
    }
}

extension SIMD where Scalar == UInt32 {
    /// Binary32 bit patterns rounded to nearest-even at a fixed bit: add half − 1 plus the last
    /// kept bit, then clear the dropped bits (`keep` is zero on them). A carry into the exponent
    /// is the correct rounding and a finite input's carry never reaches the sign bit. The one
    /// copy of this step, for `FastElementKernel`, `NearestEvenLanes` and `BitsRounding`.
    @_transparent @usableFromInline
    func nearestEvenOnBits(shift: Self, halfMinusOne: Self, keep: Self) -> Self {
        (self &+ halfMinusOne &+ ((self &>> shift) & Self(repeating: 1))) & keep
    }
}

