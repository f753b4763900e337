extension FormatSpec {
    /// The fast path of `quantize` with codes, for binary32 input, float elements with a
    /// mantissa and the contiguous granularities `quantizeFast` takes: the values and scales
    /// come from `quantizeFast`, then each element is rounded again by the same lane kernel and
    /// its code read off the rounded value's bits. Same codes as `quantize` (a test compares
    /// them over every format and mode); nil where it does not apply.
    ///
    /// Edge Cases: lanes whose rounded value is ±Inf or NaN (NaN inputs, IEEE overflow) take
    /// the scalar `encode`, as do groups whose scale is NaN or zero (the exact path's rules).
    public func quantizeFastCodes(
        _ input: UnsafeBufferPointer<Float>, shape: [Int], into output: UnsafeMutableBufferPointer<Float>,
        codes: UnsafeMutableBufferPointer<UInt32>, random: CounterRandom = CounterRandom(seed: 0)
    ) -> QuantizationSideData? {
        guard case .float(let f) = element, let rounder = elementRounder, let kernel = FastElementKernel(rounder),
            codes.count >= input.count, let src = input.baseAddress, let dst = codes.baseAddress
        else { return nil }
        if case .group = granularity { return nil }
        if case .perChannel = granularity { return nil }
        guard let side = quantizeFast(input, shape: shape, into: output, random: random) else { return nil }
        let n = input.count
        guard n > 0 else { return side }
        let writer = CodeWriter(kernel: kernel, rounder: rounder, format: f)
        guard let g = granularity else {
            writer.run(src, dst, start: 0, count: n, scale: 1, scaled: false, random: random)
            return side
        }
        let layout = ScaleLayout(shape: shape, granularity: g)
        let (segment, rowLength): (Int, Int)
        switch g {
        case .perTensor: (segment, rowLength) = (n, n)
        case .perHead: (segment, rowLength) = (layout.tokens * layout.channels, layout.tokens * layout.channels)
        case .perToken: (segment, rowLength) = (layout.channels, layout.channels)
        case .block(let b): (segment, rowLength) = (b, layout.channels)
        default: return nil
        }
        let rows = n / max(rowLength, 1)
        let perRow = (rowLength + segment - 1) / segment
        let isNV: Bool = { if case .nvfp4 = scaleRule { return true } else { return false } }()
        let tensorScale = side.tensorScale ?? 1
        for r in 0..<rows {
            for s in 0..<perRow {
                let k = r * perRow + s
                let start = r * rowLength + s * segment
                let len = min(segment, rowLength - s * segment)
                let effective = isNV ? side.scales[k] * tensorScale : side.scales[k]
                writer.run(src, dst, start: start, count: len, scale: effective, scaled: true, random: random)
            }
        }
        return side
    }
}

/// Codes of rounded binary32 values, eight lanes at a time.
struct CodeWriter {
    let kernel: FastElementKernel
    let rounder: ElementRounder
    let constants: FastElementKernel.VectorConstants
    /// binary32-biased exponent of the format's smallest normal binade.
    let minBiased: UInt32
    let mantissaBits: UInt32
    let signBit: UInt32
    /// Right shift that takes a subnormal's significand (binary32 exponent field 1) to its code.
    let subnormalBase: UInt32

    init(kernel: FastElementKernel, rounder: ElementRounder, format f: ElementFormat) {
        self.kernel = kernel
        self.rounder = rounder
        constants = FastElementKernel.VectorConstants(kernel)
        minBiased = UInt32(f.minNormalExponent + 127)
        mantissaBits = UInt32(f.mantissaBits)
        signBit = f.isSigned ? UInt32(1) << UInt32(f.bitWidth - 1) : 0
        subnormalBase = UInt32(f.minNormalExponent - f.mantissaBits + 150)
    }

    /// The code of a finite value of the format, from its binary32 bits.
    @inline(__always)
    func code(_ b: SIMD8<UInt32>) -> SIMD8<UInt32> {
        typealias U = SIMD8<UInt32>
        let a = b & U(repeating: 0x7FFF_FFFF)
        let e = a &>> U(repeating: 23)
        let frac = a & U(repeating: 0x007F_FFFF)
        let normal = ((e &- U(repeating: minBiased &- 1)) &<< U(repeating: mantissaBits))
            | (frac &>> U(repeating: 23 - mantissaBits))
        let eEff = e.replacing(with: U(repeating: 1), where: e .== U(repeating: 0))
        let sig = frac | U(repeating: 0x0080_0000).replacing(with: U(repeating: 0), where: e .== U(repeating: 0))
        let sub = sig &>> (U(repeating: subnormalBase) &- eEff)
        let mag = normal.replacing(with: sub, where: e .< U(repeating: minBiased))
        let sign = U(repeating: signBit).replacing(with: U(repeating: 0), where: b .< U(repeating: 0x8000_0000))
        return mag | sign
    }

    /// Codes of `src[start..<start+count]` (divided by `scale` when `scaled`) into `dst`.
    func run(
        _ src: UnsafePointer<Float>, _ dst: UnsafeMutablePointer<UInt32>, start: Int, count: Int, scale: Float, scaled: Bool,
        random: CounterRandom
    ) {
        if scaled && (scale.isNaN || scale == 0) {
            for i in start..<start + count {
                let x = src[i]
                dst[i] = scale.isNaN ? rounder.nanCode(negative: x.sign == .minus) : (x.isNaN ? rounder.nanCode(negative: false) : 0)
            }
            return
        }
        switch kernel.mode {
        case 0: loop(src, dst, start, count, scale, scaled, random, mode: 0)
        case 1: loop(src, dst, start, count, scale, scaled, random, mode: 1)
        case 2: loop(src, dst, start, count, scale, scaled, random, mode: 2)
        case 3: loop(src, dst, start, count, scale, scaled, random, mode: 3)
        case 4: loop(src, dst, start, count, scale, scaled, random, mode: 4)
        case 5: loop(src, dst, start, count, scale, scaled, random, mode: 5)
        default: loop(src, dst, start, count, scale, scaled, random, mode: 6)
        }
    }

    @inline(__always)
    func loop(
        _ src: UnsafePointer<Float>, _ dst: UnsafeMutablePointer<UInt32>, _ start: Int, _ count: Int, _ s: Float,
        _ scaled: Bool, _ random: CounterRandom, mode: Int32
    ) {
        let sv = SIMD8<Float>(repeating: s)
        let inf = SIMD8<UInt32>(repeating: 0x7F80_0000)
        var i = start
        let end = start + count
        while i + 8 <= end {
            var x = loadLanes(src + i)
            if scaled { x = x / sv }
            var rnd = SIMD8<UInt32>()
            if mode == 6 { rnd = random.bits8(i) }
            let y = kernel.vectorFixed(unsafeBitCast(x, to: SIMD8<UInt32>.self), random: rnd, mode: mode, constants)
            storeLaneBits(dst + i, code(y))
            let special = (y & SIMD8(repeating: 0x7FFF_FFFF)) .>= inf
            if anyLane(special) {
                for j in 0..<8 where special[j] { dst[i + j] = rounder.encode(scaled ? src[i + j] / s : src[i + j], random: random.bits(i + j)) }
            }
            i += 8
        }
        while i < end {
            let x = scaled ? src[i] / s : src[i]
            dst[i] = rounder.encode(x, random: random.bits(i))
            i += 1
        }
    }
}
