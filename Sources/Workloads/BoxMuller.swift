/// The Box–Muller transform on counter bits, without libm: both outputs of each pair are used,
/// and the logarithm, sine and cosine are our own polynomials written with explicit fma, once for
/// scalars and once for eight lanes, so both paths give the same bits on every machine (a test
/// checks scalar against SIMD, and pins values).
///
/// For 64-bit words b₁, b₂:
///
///     u₁ = (⌊b₁/2¹²⌋ + ½)·2⁻⁵² ∈ [2⁻⁵³, 1 − 2⁻⁵³]     (exact)
///     v  =  ⌊b₂/2¹²⌋·2⁻⁵²       ∈ [0, 1)               (exact)
///     r  = √(−2 ln u₁),   (z₀, z₁) = (r cos 2πv, r sin 2πv)
///
/// Box, G. E. P. and Muller, M. E., "A Note on the Generation of Random Normal Deviates",
/// Ann. Math. Statist. 29 (1958).
///
/// Error Bounds: ln by u₁ = 2ᵉ·m, m ∈ [√½, √2), ln m = 2 atanh((m − 1)/(m + 1)) (11 odd terms,
/// truncation < 10⁻¹⁷ relative); sin/cos of 2πv by v = k/4 + y/4, |y| ≤ ½, k's quadrant swapping
/// and negating the Taylor polynomials of sin(πy/2) (9 terms) and cos(πy/2) (10 terms), whose
/// truncation is below 10⁻¹⁷. Each output is within a few ulps of the exact transform of the
/// same uniforms (a test measures it against libm), far below the Float32 rounding applied to
/// generated inputs. |z| ≤ √(2·53·ln 2) ≈ 8.57. The square root is our own too (`root`): Swift's
/// `squareRoot()` keeps libm's errno path, which stops it from vectorising.
public enum BoxMuller {
    @usableFromInline static let one: UInt64 = 0x3FF0_0000_0000_0000
    /// Bits of √2 (mantissas at or above it are halved).
    @usableFromInline static let sqrt2Bits: UInt64 = 0x3FF6_A09E_667F_3BCD
    @usableFromInline static let mantissaMask: UInt64 = 0x000F_FFFF_FFFF_FFFF
    /// 2^52 as bits: adding a small non-negative integer's bits gives 2^52 + n exactly.
    @usableFromInline static let twoP52Bits: UInt64 = 0x4330_0000_0000_0000
    /// fdlibm's split of ln 2: ln2Hi has trailing zeros, so e·ln2Hi is exact for |e| < 2^11.
    @usableFromInline static let ln2Hi = 6.93147180369123816490e-01
    @usableFromInline static let ln2Lo = 1.90821492927058770002e-10
    /// 2/(2n+1), n = 1…11: ln m = 2s + s³·Σ c_n s^(2n−2).
    @usableFromInline static let logC: (Double, Double, Double, Double, Double, Double, Double, Double, Double, Double, Double) = (
        0.6666666666666666, 0.4, 0.2857142857142857, 0.2222222222222222, 0.18181818181818182, 0.15384615384615385,
        0.13333333333333333, 0.11764705882352941, 0.10526315789473684, 0.09523809523809523, 0.08695652173913043)
    /// (−1)ⁿ(π/2)^(2n+1)/(2n+1)!, n = 0…8.
    @usableFromInline static let sinC: (Double, Double, Double, Double, Double, Double, Double, Double, Double) = (
        1.5707963267948966, -0.6459640975062463, 0.07969262624616705, -0.004681754135318688, 0.00016044118478735983,
        -3.598843235212085e-06, 5.692172921967927e-08, -6.688035109811468e-10, 6.0669357311061955e-12)
    /// (−1)ⁿ(π/2)^(2n)/(2n)!, n = 1…9 (n = 0 is 1).
    @usableFromInline static let cosC: (Double, Double, Double, Double, Double, Double, Double, Double, Double) = (
        -1.2337005501361697, 0.25366950790104803, -0.02086348076335296, 0.0009192602748394266, -2.5202042373060607e-05,
        4.710874778818172e-07, -6.386603083791852e-09, 6.565963114979473e-11, -5.294400200734623e-13)

    /// √x for x in [2⁻⁵⁴, 2⁷] by Newton's iteration on 1/√x from the bit-pattern estimate, then one
    /// fma-corrected step on √x (within an ulp; the same bits as `roots`, which vectorises where
    /// Swift's `squareRoot()` calls libm's sqrt lane by lane).
    @inlinable @inline(__always)
    static func root(_ x: Double) -> Double {
        var y = Double(bitPattern: 0x5FE6_EB50_C7B5_37A9 &- (x.bitPattern >> 1))
        let h = 0.5 * x
        for _ in 0..<4 { y = y * (1.5 as Double).addingProduct(-h, y * y) }
        let r = x * y
        return r.addingProduct(0.5 * y, x.addingProduct(-r, r))
    }

    @inlinable @inline(__always)
    static func roots(_ x: SIMD8<Double>) -> SIMD8<Double> {
        var y = unsafeBitCast(SIMD8<UInt64>(repeating: 0x5FE6_EB50_C7B5_37A9) &- (unsafeBitCast(x, to: SIMD8<UInt64>.self) &>> 1), to: SIMD8<Double>.self)
        let h = 0.5 * x
        for _ in 0..<4 { y = y * SIMD8<Double>(repeating: 1.5).addingProduct(-h, y * y) }
        let r = x * y
        return r.addingProduct(0.5 * y, x.addingProduct(-r, r))
    }

    /// (r cos 2πv, r sin 2πv) for the words (b1, b2).
    @inlinable
    public static func pair(_ b1: UInt64, _ b2: UInt64) -> (Double, Double) {
        // u₁ and its decomposition 2ᵉ·m, m ∈ [√½, √2).
        let u1 = (Double(bitPattern: one | (b1 >> 12)) - 1) + 0x1p-53
        let xb = u1.bitPattern
        var mb = (xb & mantissaMask) | one
        var e = (Double(bitPattern: twoP52Bits | (xb >> 52)) - 0x1p52) - 1023
        if mb >= sqrt2Bits { mb = mb &- (1 << 52); e = e + 1 }
        let m = Double(bitPattern: mb)
        let s = (m - 1) / (m + 1)
        let s2 = s * s
        let c = logC
        var p = c.10
        p = c.9.addingProduct(p, s2); p = c.8.addingProduct(p, s2); p = c.7.addingProduct(p, s2)
        p = c.6.addingProduct(p, s2); p = c.5.addingProduct(p, s2); p = c.4.addingProduct(p, s2)
        p = c.3.addingProduct(p, s2); p = c.2.addingProduct(p, s2); p = c.1.addingProduct(p, s2)
        p = c.0.addingProduct(p, s2)
        let lnm = (2 * s).addingProduct(s * s2, p)
        let ln = (e * ln2Hi) + lnm.addingProduct(e, ln2Lo)
        let r = root(-2 * ln)
        // Angle: 2πv = (π/2)(k + y), k = v4 rounded to nearest-even by adding 2^52.
        let v4 = (Double(bitPattern: one | (b2 >> 12)) - 1) * 4
        let kb = v4 + 0x1p52
        let y = v4 - (kb - 0x1p52)
        let q = kb.bitPattern & 3
        let y2 = y * y
        let a = sinC, b = cosC
        var ps = a.8
        ps = a.7.addingProduct(ps, y2); ps = a.6.addingProduct(ps, y2); ps = a.5.addingProduct(ps, y2)
        ps = a.4.addingProduct(ps, y2); ps = a.3.addingProduct(ps, y2); ps = a.2.addingProduct(ps, y2)
        ps = a.1.addingProduct(ps, y2)
        let sn = (y * a.0).addingProduct(y * y2, ps)
        var pc = b.8
        pc = b.7.addingProduct(pc, y2); pc = b.6.addingProduct(pc, y2); pc = b.5.addingProduct(pc, y2)
        pc = b.4.addingProduct(pc, y2); pc = b.3.addingProduct(pc, y2); pc = b.2.addingProduct(pc, y2)
        pc = b.1.addingProduct(pc, y2); pc = b.0.addingProduct(pc, y2)
        let cs = (1 as Double).addingProduct(y2, pc)
        // Quadrant k: (cos, sin)(θ + kπ/2).
        let swap = q & 1 != 0
        var cb = (swap ? sn : cs).bitPattern, sb = (swap ? cs : sn).bitPattern
        let sign: UInt64 = 1 << 63
        if (q &+ 1) & 2 != 0 { cb ^= sign }
        if q & 2 != 0 { sb ^= sign }
        return (r * Double(bitPattern: cb), r * Double(bitPattern: sb))
    }

    /// The same as `pair` on eight lanes. Branches and selects are integer arithmetic (masks from
    /// the borrow of a subtraction, signs shifted into place): lane-by-lane selects kept LLVM
    /// from vectorising the whole transform.
    @inlinable @inline(__always)
    public static func pairs(_ b1: SIMD8<UInt64>, _ b2: SIMD8<UInt64>) -> (SIMD8<Double>, SIMD8<Double>) {
        typealias D = SIMD8<Double>
        typealias U = SIMD8<UInt64>
        @inline(__always) func f(_ x: U) -> D { unsafeBitCast(x, to: D.self) }
        @inline(__always) func u(_ x: D) -> U { unsafeBitCast(x, to: U.self) }
        let oneV = U(repeating: one)
        let u1 = (f(oneV | (b1 &>> 12)) - 1) + 0x1p-53
        let xb = u(u1)
        // big = 1 where the mantissa is at or above √2's (then halve m, e + 1).
        let big = (U(repeating: sqrt2Bits &- 1) &- ((xb & mantissaMask) | oneV)) &>> 63
        let mb = ((xb & mantissaMask) | oneV) &- (big &<< 52)
        let e = (f(U(repeating: twoP52Bits) | ((xb &>> 52) &+ big)) - 0x1p52) - 1023
        let m = f(mb)
        let s = (m - 1) / (m + 1)
        let s2 = s * s
        let c = logC
        var p = D(repeating: c.10)
        p = D(repeating: c.9).addingProduct(p, s2); p = D(repeating: c.8).addingProduct(p, s2)
        p = D(repeating: c.7).addingProduct(p, s2); p = D(repeating: c.6).addingProduct(p, s2)
        p = D(repeating: c.5).addingProduct(p, s2); p = D(repeating: c.4).addingProduct(p, s2)
        p = D(repeating: c.3).addingProduct(p, s2); p = D(repeating: c.2).addingProduct(p, s2)
        p = D(repeating: c.1).addingProduct(p, s2); p = D(repeating: c.0).addingProduct(p, s2)
        let lnm = (2 * s).addingProduct(s * s2, p)
        let ln = (e * ln2Hi) + lnm.addingProduct(e, D(repeating: ln2Lo))
        let r = roots(-2 * ln)
        let v4 = (f(oneV | (b2 &>> 12)) - 1) * 4
        let kb = v4 + 0x1p52
        let y = v4 - (kb - 0x1p52)
        let q = u(kb) & 3
        let y2 = y * y
        let a = sinC, b = cosC
        var ps = D(repeating: a.8)
        ps = D(repeating: a.7).addingProduct(ps, y2); ps = D(repeating: a.6).addingProduct(ps, y2)
        ps = D(repeating: a.5).addingProduct(ps, y2); ps = D(repeating: a.4).addingProduct(ps, y2)
        ps = D(repeating: a.3).addingProduct(ps, y2); ps = D(repeating: a.2).addingProduct(ps, y2)
        ps = D(repeating: a.1).addingProduct(ps, y2)
        let sn = (y * a.0).addingProduct(y * y2, ps)
        var pc = D(repeating: b.8)
        pc = D(repeating: b.7).addingProduct(pc, y2); pc = D(repeating: b.6).addingProduct(pc, y2)
        pc = D(repeating: b.5).addingProduct(pc, y2); pc = D(repeating: b.4).addingProduct(pc, y2)
        pc = D(repeating: b.3).addingProduct(pc, y2); pc = D(repeating: b.2).addingProduct(pc, y2)
        pc = D(repeating: b.1).addingProduct(pc, y2); pc = D(repeating: b.0).addingProduct(pc, y2)
        let cs = D(repeating: 1).addingProduct(y2, pc)
        let swap = U(repeating: 0) &- (q & 1)
        let cb = ((u(cs) & ~swap) | (u(sn) & swap)) ^ (((q &+ 1) & 2) &<< 62)
        let sb = ((u(sn) & ~swap) | (u(cs) & swap)) ^ ((q & 2) &<< 62)
        return (r * f(cb), r * f(sb))
    }
}
