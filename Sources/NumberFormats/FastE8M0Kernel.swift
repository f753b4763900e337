/// The vector kernel for e8m0 (unsigned powers of two, no zero) with nearest rounding, whose
/// ties go away from zero as ml_dtypes does. Same results as `ElementRounder.round`.
public struct FastE8M0Kernel: Sendable {
    @usableFromInline let overflowBits: UInt32  // 2^127 (saturate) or NaN (ieee)

    public init?(_ r: ElementRounder) {
        guard r.format.nanEncoding == .allOnesUnsigned, r.format.mantissaBits == 0,
            r.rounding == .nearestEven || r.rounding == .nearestAway, !r.flushSubnormals
        else { return nil }
        overflowBits = r.overflow == .saturate ? 0x7F00_0000 : 0x7FC0_0000
    }

    @inlinable
    public func run(_ input: UnsafeBufferPointer<Float>, into output: UnsafeMutableBufferPointer<Float>) {
        let n = min(input.count, output.count)
        guard n > 0, let src = input.baseAddress, let dst = output.baseAddress else { return }
        typealias U = SIMD8<UInt32>
        let nan = U(repeating: 0x7FC0_0000)
        let over = U(repeating: overflowBits)
        let expMask = U(repeating: 0x7F80_0000)
        let minNormal = U(repeating: 0x0080_0000)
        let half = U(repeating: 0x0040_0000)
        let threeHalves = U(repeating: 0x0060_0000)
        let positiveLimit = U(repeating: 0x7F80_0000)
        var i = 0
        while i + 8 <= n {
            let b = loadLaneBits(src + i)
            var t = (b &+ half) & expMask  // normal inputs: the exponent, half-up
            t = t.replacing(with: over, where: t .== expMask)
            let small = half.replacing(with: minNormal, where: b .>= threeHalves)
            t = t.replacing(with: small, where: b .< minNormal)
            // Zero, negative (sign bit set: b ≥ 2^31), NaN give NaN; +Inf overflows.
            t = t.replacing(with: nan, where: (b &- U(repeating: 1)) .>= U(repeating: 0x7F80_0000))
            t = t.replacing(with: over, where: b .== positiveLimit)
            storeLaneBits(dst + i, t)
            i += 8
        }
        while i < n {
            let b = src[i].bitPattern
            var t = (b &+ 0x0040_0000) & 0x7F80_0000
            if t == 0x7F80_0000 { t = overflowBits }
            if b < 0x0080_0000 { t = b >= 0x0060_0000 ? 0x0080_0000 : 0x0040_0000 }
            if b &- 1 >= 0x7F80_0000 { t = 0x7FC0_0000 }
            if b == 0x7F80_0000 { t = overflowBits }
            dst[i] = Float(bitPattern: t)
            i += 1
        }
    }
}
