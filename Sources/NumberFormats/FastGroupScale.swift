extension FormatSpec {
    /// One pass per group for the common rules (MX floor, absmax, NVFP4) when groups are equal,
    /// a multiple of 8 long, and tile every row; nil otherwise.
    func quantizeFused(
        _ kernel: FastElementKernel, _ src: UnsafePointer<Float>, _ dst: UnsafeMutablePointer<Float>,
        n: Int, segment: Int, rowLength: Int, random: CounterRandom
    ) -> QuantizationSideData? {
        guard segment % 8 == 0, rowLength % segment == 0, n % segment == 0 else { return nil }
        let rule = fastScaleRule
        if case .generic = rule { return nil }
        var side = QuantizationSideData()
        var tensorScale: Float = 1
        if case .nvfp4(true) = scaleRule {
            // The tensor maximum first (a read-only pass), as the tensor scale needs it.
            var m8 = SIMD8<UInt32>(repeating: 0)
            let absMask = SIMD8<UInt32>(repeating: 0x7FFF_FFFF)
            var mx: UInt32 = 0
            src.withMemoryRebound(to: UInt32.self, capacity: n) { bits in
                var i = 0
                while i + 8 <= n {
                    let v = loadLaneBits(bits + i) & absMask
                    m8 = m8.replacing(with: v, where: v .> m8)
                    i += 8
                }
                mx = largestLane(m8)
                while i < n {
                    mx = max(mx, bits[i] & 0x7FFF_FFFF)
                    i += 1
                }
            }
            tensorScale = Self.nvfp4TensorScale(amaxBits: mx)
            side.tensorScale = tensorScale
        }
        let groups = n / segment
        var scales = [Float](repeating: 0, count: groups)
        var codes = [UInt8](repeating: 0, count: groups)
        let scaler = FastGroupScaler(spec: self, rule: rule, tensorScale: tensorScale)
        scales.withUnsafeMutableBufferPointer { sp in
            codes.withUnsafeMutableBufferPointer { cp in
                kernel.runGroupsFused(src, dst, groups: groups, groupLength: segment, scaler: scaler,
                    scales: sp.baseAddress!, codes: cp.baseAddress!, random: random, offset: 0)
            }
        }
        side.scales = scales
        switch scaleRule {
        case .mx, .pow2, .nvfp4: side.scaleCodes = codes
        default: break
        }
        return side
    }
}

extension FormatSpec {
    /// The scale rules with a fast path: MX floor and absmax on float elements, NVFP4
    /// (its E4M3 block scales through the vector kernel); `.generic` for the rest.
    var fastScaleRule: FastScaleRule {
        switch (scaleRule, element) {
        case (.mx(.floor)?, .float(let f)): return .mxFloor(emax: f.maxExponent)
        case (.absmax?, .float(let f)): return .absmax(maxFinite: Float(f.maxFinite))
        case (.nvfp4?, _):
            return .nvfp4(FastElementKernel(ElementRounder(format: .float8_e4m3fn, rounding: .nearestEven, overflow: .saturate))!)
        default: return .generic
        }
    }

    /// NVFP4's tensor scale from the bits of the tensor's absolute maximum: amax / (448 · 6),
    /// 1 for an all-zero tensor, NaN when the maximum is ∞ or NaN.
    static func nvfp4TensorScale(amaxBits mx: UInt32) -> Float {
        mx >= 0x7F80_0000 ? .nan : (mx == 0 ? 1 : Float(bitPattern: mx) / Float(448.0 * 6.0))
    }
}

/// Decides a group's scale from the bit pattern of its absolute maximum.
public protocol GroupScaler {
    /// (stored scale, scale the elements are divided by and multiplied back with, code).
    func scale(amaxBits: UInt32) -> (Float, Float, UInt8)
}

/// The fast scale rules, falling back to `FormatSpec.computeScale` off their common path.
@usableFromInline
struct FastGroupScaler: GroupScaler {
    @usableFromInline let spec: FormatSpec
    @usableFromInline let rule: FastScaleRule
    @usableFromInline let tensorScale: Float

    @inlinable @inline(__always)
    func scale(amaxBits bitsK: UInt32) -> (Float, Float, UInt8) {
        let poisoned = bitsK >= 0x7F80_0000
        let amax = Float(bitPattern: bitsK)
        switch rule {
        case .mxFloor(let emax) where bitsK >= 0x0080_0000 && !poisoned:
            // Normal amax: floor(log2 amax) is its exponent field.
            let e = min(max(Int(bitsK >> 23) - 127 - emax, -127), 127)
            let s = e == -127 ? Float(bitPattern: 0x0040_0000) : Float(bitPattern: UInt32(e + 127) << 23)
            return (s, s, UInt8(e + 127))
        case .absmax(let maxFinite) where !poisoned:
            let sc = amax / maxFinite
            let s: Float = amax == 0 ? 1 : (sc > 0 ? sc : .leastNonzeroMagnitude)
            return (s, s, 0)
        case .nvfp4 where !poisoned && !tensorScale.isNaN:
            // E4M3 (saturating, nearest-even) of amax/6/t, inline, and its code from its bits.
            let raw = amax / 6 / tensorScale
            let a = raw.bitPattern
            let s: Float
            let code: UInt8
            if a >= 0x3C80_0000 {  // ≥ 2^-6: normal in E4M3; round the bits to 3 mantissa bits
                var t = (a &+ 0x7_FFFF &+ ((a >> 20) & 1)) & ~UInt32(0xF_FFFF)
                if t > 0x43E0_0000 { t = 0x43E0_0000 }  // saturate at 448
                s = Float(bitPattern: t)
                code = UInt8(truncatingIfNeeded: (((t >> 23) &- 120) << 3) | ((t >> 20) & 7))
            } else {  // subnormal range: multiples of 2^-9, nearest-even by the 2^23 trick
                let r = (raw * 512 + 8_388_608) - 8_388_608
                s = r / 512
                code = UInt8(r)
            }
            return (s, s * tensorScale, code)
        default:
            let (s, code) = spec.computeScale(amax: amax, poisoned: poisoned, tensorScale: tensorScale, lo: 0, hi: 0)
            if case .nvfp4 = rule { return (s, s * tensorScale, code) }
            return (s, s, code)
        }
    }
}

@usableFromInline
enum FastScaleRule {
    case mxFloor(emax: Int)
    case absmax(maxFinite: Float)
    case nvfp4(FastElementKernel)
    case generic
}
