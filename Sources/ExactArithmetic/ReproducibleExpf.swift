import CMPFR

/// Binary32 e^x with the same bits on every machine: the algorithm of glibc's `expf` (2.27 and
/// later; Szabolcs Nagy's, from Arm's optimized-routines) written out with every fused
/// multiply-add explicit, so the value no longer depends on which variant the C library picks
/// for the CPU (glibc dispatches to an FMA-contracted build where the CPU has FMA, to a plain
/// one elsewhere, and the two round differently on some inputs).
///
/// It reproduces glibc 2.36's FMA variant (the one every x86-64-v3 CPU runs): equal on all 2^32
/// binary32 inputs (checked exhaustively on this project's machine; `ReproducibleExpfTests`
/// keeps a sample and the exhaustive check behind `ATTNPREC_EXHAUSTIVE_EXPF=1`), so results
/// computed with glibc's `expf` before are unchanged. It is not correctly rounded (at most
/// 0.502 ulp; e.g. e^0x1.04845ep+5 rounds up): it reproduces, it does not improve.
///
/// x·32/ln 2 = k + r (k an integer rounded to nearest through the 1.5·2^52 shift, r from one
/// fma, |r| ≤ 1/2); e^x = 2^(k/32)·2^(r/32), 2^(k/32) from a 32-entry table of 2^(i/32)
/// (nearest doubles, computed with MPFR) with k/32's integer part added to the exponent bits,
/// 2^(r/32) ≈ 1 + C2·r + C1·r² + C0·r³ (Horner by three fmas); one rounding to binary32.
public enum ReproducibleExpf {
    @usableFromInline static let n = 32.0
    @usableFromInline static let c0 = 0x1.c6af84b912394p-5 / (n * n * n), c1 = 0x1.ebfce50fac4f3p-3 / (n * n), c2 = 0x1.62e42ff0c52d6p-1 / n
    @usableFromInline static let invLn2N = 0x1.71547652b82fep+0 * n, shift = 0x1.8p+52

    /// tab[i] = bits(2^(i/32)) − i·2^47: adding k·2^47 (k ≡ i mod 32) gives 2^(k/32). Kept
    /// behind a pointer allocated once (never freed), so the per-key call inlined into a kernel's
    /// loop reads it without reference counting.
    @usableFromInline nonisolated(unsafe) static let table: UnsafePointer<UInt64> = {
        let t = UnsafeMutablePointer<UInt64>.allocate(capacity: 32)
        for i in 0..<32 {
            var m = MPFRNumber(precision: 200, Double(i) / 32)
            _ = mpfr_exp2(m.pointer, m.pointer, MPFR_RNDN)
            t[i] = m.doubleValue.bitPattern &- (UInt64(i) << 47)
        }
        return UnsafePointer(t)
    }()

    @inlinable
    public static func exp(_ x: Float) -> Float {
        let top = (x.bitPattern >> 20) & 0x7ff
        if top >= 0x42b {  // |x| ≥ 88, or NaN/Inf
            if x.bitPattern == Float.infinity.bitPattern | 0x8000_0000 { return 0 }
            if top >= 0x7f8 { return x + x }
            if x > 0x1.62e42ep6 { return .infinity }
            if x < -0x1.9fe368p6 { return 0 }
        }
        return core(Double(x))
    }

    @inlinable @inline(__always)
    static func core(_ xd: Double) -> Float {
        let z = invLn2N * xd
        var kd = z + shift
        let ki = kd.bitPattern
        kd -= shift
        let r = (-kd).addingProduct(invLn2N, xd)
        let s = Double(bitPattern: table[Int(ki % 32)] &+ (ki << 47))
        let p = c1.addingProduct(c0, r), r2 = r * r
        var y = 1.0.addingProduct(c2, r)
        y = y.addingProduct(p, r2)
        return Float(y * s)
    }

    /// x[i] ← e^(x[i] − m) for i < count: `exp(x[i] - m)` lane by lane, eight lanes at a time
    /// where no lane needs the special cases (|x − m| ≥ 88, NaN, ±∞), with the scalar core's
    /// operations in its order (the same bits; `ReproducibleExpfTests` compares every lane).
    /// Softmax kernels call it once per tile of scores after the running max is known.
    @inlinable
    public static func expShifted(_ x: UnsafeMutablePointer<Float>, count: Int, minus m: Float) {
        var i = 0
        while i + 8 <= count {
            let v = UnsafeRawPointer(x + i).loadUnaligned(as: SIMD8<Float>.self) - SIMD8(repeating: m)
            let top = (unsafeBitCast(v, to: SIMD8<UInt32>.self) &>> 20) & 0x7ff
            if any(top .>= 0x42b) {
                for j in 0..<8 { x[i + j] = exp(v[j]) }
            } else {
                UnsafeMutableRawPointer(x + i).storeBytes(of: core8(SIMD8<Double>(v)), as: SIMD8<Float>.self)
            }
            i += 8
        }
        while i < count {
            x[i] = exp(x[i] - m)
            i += 1
        }
    }

    /// `core` on eight lanes.
    @inlinable @inline(__always)
    static func core8(_ xd: SIMD8<Double>) -> SIMD8<Float> {
        let z = invLn2N * xd
        var kd = z + SIMD8(repeating: shift)
        let ki = unsafeBitCast(kd, to: SIMD8<UInt64>.self)
        kd -= SIMD8(repeating: shift)
        let r = (-kd).addingProduct(SIMD8(repeating: invLn2N), xd)
        var sBits = SIMD8<UInt64>()
        for j in 0..<8 { sBits[j] = table[Int(ki[j] % 32)] }
        let s = unsafeBitCast(sBits &+ (ki &<< 47), to: SIMD8<Double>.self)
        let p = SIMD8(repeating: c1).addingProduct(SIMD8(repeating: c0), r), r2 = r * r
        var y = SIMD8(repeating: 1.0).addingProduct(SIMD8(repeating: c2), r)
        y = y.addingProduct(p, r2)
        return SIMD8<Float>(y * s)
    }
}
