extension FormatSpec {
    /// The fast path for symmetric integer elements (absmax, fixed and MX scales) with a
    /// deterministic rounding mode and contiguous groups that are multiples of 8 elements. Same
    /// arithmetic, in the same order, as `quantize`; nil where it does not apply.
    func quantizeFastInteger(
        _ src: UnsafePointer<Float>, count n: Int, shape: [Int], into dst: UnsafeMutablePointer<Float>
    ) -> QuantizationSideData? {
        guard case .integer(let bits, .symmetric) = element, let g = granularity, !rounding.isStochastic else { return nil }
        let layout = ScaleLayout(shape: shape, granularity: g)
        guard let segment = Self.fastIntegerSegment(g, layout: layout, count: n) else { return nil }
        let isMX: Bool = { if case .mx = scaleRule { return true } else { return false } }()
        let mxFloor = scaleRule == .mx(.floor)
        let qmax = Float(isMX ? 127 : (1 << (bits - 1)) - 1)
        let groups = n / segment
        var side = QuantizationSideData()
        var scales = [Float](repeating: 1, count: groups)
        var codes: [UInt8]? = isMX ? [UInt8](repeating: 0, count: groups) : nil
        typealias F = SIMD8<Float>
        typealias U = SIMD8<UInt32>
        let magic = F(repeating: 12_582_912)  // 1.5·2^23: y + magic − magic rounds to nearest-even
        let one = F(repeating: 1)
        let half = F(repeating: 0.5)
        let hi = F(repeating: qmax)
        let lo = F(repeating: -qmax)
        let absMask = U(repeating: 0x7FFF_FFFF)
        for k in 0..<groups {
            let base = k * segment
            var m8 = U(repeating: 0)
            var i = base
            while i < base + segment {
                let v = UnsafeRawPointer(src + i).loadUnaligned(as: U.self) & absMask
                m8 = m8.replacing(with: v, where: v .> m8)
                i += 8
            }
            let amaxBits = m8.max()
            let (scale, code) = integerScale(amaxBits: amaxBits, mxFloor: mxFloor)
            scales[k] = scale
            codes?[k] = code
            let sv = F(repeating: scale)
            i = base
            while i < base + segment {
                let x = UnsafeRawPointer(src + i).loadUnaligned(as: F.self)
                var y = isMX ? x / sv * F(repeating: 64) : x / sv
                // Clamping first changes nothing (rounding is monotone) and keeps |y| < 2^22.
                y = y.replacing(with: hi + one, where: y .> hi + one).replacing(with: lo - one, where: y .< lo - one)
                let ne = (y + magic) - magic
                let fl = ne.replacing(with: ne - one, where: ne .> y)
                let ce = ne.replacing(with: ne + one, where: ne .< y)
                var q: F
                switch rounding {
                case .nearestEven: q = ne
                case .nearestAway:
                    // Ties away from zero: for a tie, pick the one of floor/ceil with larger |·|.
                    let tie = (y - fl) .== half
                    q = ne.replacing(with: ce.replacing(with: fl, where: y .< F(repeating: 0)), where: tie)
                case .towardZero: q = fl.replacing(with: ce, where: y .< F(repeating: 0))
                case .up: q = ce
                case .down: q = fl
                default:  // round-to-odd: truncate, then move away from zero when inexact and even
                    let tz = fl.replacing(with: ce, where: y .< F(repeating: 0))
                    let parity = (unsafeBitCast(tz + magic, to: U.self) & U(repeating: 1)) .== U(repeating: 0)
                    let away = tz + one.replacing(with: -one, where: y .< F(repeating: 0))
                    q = tz.replacing(with: away, where: (tz .!= y) .& parity)
                }
                // A zero result keeps the sign of y (as Float.rounded does); nonzero ones have it.
                q = unsafeBitCast(unsafeBitCast(q, to: U.self) | (unsafeBitCast(y, to: U.self) & ~absMask), to: F.self)
                q = q.replacing(with: hi, where: q .> hi).replacing(with: lo, where: q .< lo)
                var v = isMX ? q / F(repeating: 64) * sv : q * sv
                v = v.replacing(with: F(repeating: .nan), where: x .!= x)
                UnsafeMutableRawPointer(dst + i).storeBytes(of: v, as: F.self)
                i += 8
            }
        }
        side.scales = scales
        side.scaleCodes = codes
        return side
    }

    /// The contiguous group length the fast integer path quantizes for `g` (a multiple of 8
    /// that divides `count`), or nil where the path does not apply.
    static func fastIntegerSegment(_ g: Granularity, layout: ScaleLayout, count n: Int) -> Int? {
        let segment: Int
        switch g {
        case .perTensor: segment = n
        case .perHead: segment = layout.tokens * layout.channels
        case .perToken: segment = layout.channels
        case .block(let b) where layout.channels % b == 0: segment = b
        default: return nil
        }
        return n > 0 && segment % 8 == 0 && n % segment == 0 ? segment : nil
    }

    /// A group's scale and its code from the bit pattern of its largest |x|.
    @inline(__always)
    func integerScale(amaxBits: UInt32, mxFloor: Bool) -> (Float, UInt8) {
        if mxFloor && amaxBits >= 0x0080_0000 && amaxBits < 0x7F80_0000 {
            // MXINT8 (emax 0): X = 2^floor(log2 amax), the exponent field of a normal amax.
            let e = Int(amaxBits >> 23) - 127
            let scale = e == -127 ? Float(bitPattern: 0x0040_0000) : Float(bitPattern: UInt32(e + 127) << 23)
            return (scale, UInt8(e + 127))
        }
        return computeScale(amax: Float(bitPattern: amaxBits), poisoned: amaxBits >= 0x7F80_0000, tensorScale: 1, lo: 0, hi: 0)
    }
}
