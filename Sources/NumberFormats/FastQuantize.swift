extension FormatSpec {
    /// The fast path of `quantize` for binary32 input, float elements and contiguous scale
    /// groups (unscaled, per-tensor, per-head, per-token, block:N). Same results as
    /// `quantize` (a test compares them); nil where it does not apply. No codes.
    public func quantizeFast(
        _ input: UnsafeBufferPointer<Float>, shape: [Int], into output: UnsafeMutableBufferPointer<Float>,
        random: CounterRandom = CounterRandom(seed: 0)
    ) -> QuantizationSideData? {
        if case .integer = element, let src = input.baseAddress, let dst = output.baseAddress, output.count >= input.count {
            return quantizeFastInteger(src, count: input.count, shape: shape, into: dst)
        }
        guard let rounder = elementRounder, let src = input.baseAddress, let dst = output.baseAddress,
            output.count >= input.count
        else { return nil }
        if granularity == nil, let e8m0 = FastE8M0Kernel(rounder) {
            e8m0.run(input, into: output)
            return QuantizationSideData()
        }
        guard let kernel = FastElementKernel(rounder) else { return nil }
        let n = input.count
        guard let g = granularity else {
            kernel.run(input, into: output, random: random, offset: 0)
            return QuantizationSideData()
        }
        let layout = ScaleLayout(shape: shape, granularity: g)
        let segment: Int
        let rowLength: Int
        switch g {
        case .perTensor: segment = n; rowLength = n
        case .perHead: segment = layout.tokens * layout.channels; rowLength = segment
        case .perToken: segment = layout.channels; rowLength = segment
        case .block(let b): segment = b; rowLength = layout.channels
        default: return nil
        }
        if n == 0 { return QuantizationSideData() }
        if let fused = quantizeFused(kernel, src, dst, n: n, segment: segment, rowLength: rowLength, random: random) {
            return fused
        }
        return quantizeTwoPass(kernel, src, dst, n: n, segment: segment, rowLength: rowLength, random: random)
    }

    /// Groups of `segment` along rows of `rowLength` (the last group of a row may be shorter)
    /// in two passes: every group's absolute maximum, then its scale and its elements.
    func quantizeTwoPass(
        _ kernel: FastElementKernel, _ src: UnsafePointer<Float>, _ dst: UnsafeMutablePointer<Float>,
        n: Int, segment: Int, rowLength: Int, random: CounterRandom
    ) -> QuantizationSideData {
        var side = QuantizationSideData()
        let rows = n / max(rowLength, 1)
        let perRow = (rowLength + segment - 1) / segment
        let count = rows * perRow
        let amaxBits = Self.groupMaxima(src, n: n, rows: rows, perRow: perRow, rowLength: rowLength, segment: segment)
        var tensorScale: Float = 1
        if case .nvfp4(true) = scaleRule {
            tensorScale = Self.nvfp4TensorScale(amaxBits: amaxBits.max() ?? 0)
            side.tensorScale = tensorScale
        }
        var scales = TwoPassScales(spec: self, rule: fastScaleRule, amaxBits: amaxBits, tensorScale: tensorScale)
        if case .pow2? = scaleRule, case .float(let f) = element { scales.pow2MaxFinite = Float(f.maxFinite) }
        var codes: [UInt8]? = nil
        switch scaleRule {
        case .mx, .pow2, .nvfp4: codes = [UInt8](repeating: 0, count: count)
        default: break
        }
        // Equal groups of a multiple of 8 that tile every row: one pass over the tensor.
        if segment % 8 == 0 && rowLength % segment == 0 {
            let v = scales.vector(count: count, codes: codes != nil)
            v.effective.withUnsafeBufferPointer { sp in
                kernel.runGroups(src, dst, groups: count, groupLength: segment, scales: sp.baseAddress!, random: random, offset: 0)
            }
            for k in v.zeroGroups {  // a zero scale stores zeros (x/0 would be ±Inf)
                for i in k * segment..<(k + 1) * segment { dst[i] = 0 }
            }
            side.scales = v.scales
            side.scaleCodes = v.codes ?? codes
            return side
        }
        var stored = [Float](repeating: 1, count: count)
        let constants = FastElementKernel.VectorConstants(kernel)
        for r in 0..<rows {
            for s in 0..<perRow {
                let k = r * perRow + s
                let start = r * rowLength + s * segment
                let len = min(segment, rowLength - s * segment)
                let (scale, code) = scales.scalar(k)
                stored[k] = scale
                codes?[k] = code
                var effective = scale
                if case .nvfp4 = scaleRule { effective = scale * tensorScale }
                if effective.isNaN {
                    for i in start..<start + len { dst[i] = .nan }
                } else if effective == 0 {
                    for i in start..<start + len { dst[i] = 0 }
                } else {
                    kernel.runScaled(src + start, dst + start, count: len, scale: effective, random: random, offset: start,
                        scaled: true, constants)
                }
            }
        }
        side.scales = stored
        side.scaleCodes = codes
        return side
    }

    /// Pass 1: each group's absolute maximum as a bit pattern (integer order is float order
    /// for |x|), group r·perRow + s at row r, position s.
    static func groupMaxima(
        _ src: UnsafePointer<Float>, n: Int, rows: Int, perRow: Int, rowLength: Int, segment: Int
    ) -> [UInt32] {
        var amaxBits = [UInt32](repeating: 0, count: rows * perRow)
        src.withMemoryRebound(to: UInt32.self, capacity: n) { bits in
            let absMask = SIMD8<UInt32>(repeating: 0x7FFF_FFFF)
            for r in 0..<rows {
                for s in 0..<perRow {
                    let start = r * rowLength + s * segment
                    let end = start + min(segment, rowLength - s * segment)
                    var m8 = SIMD8<UInt32>(repeating: 0)
                    var i = start
                    while i + 8 <= end {
                        let v = loadLaneBits(bits + i) & absMask
                        m8 = m8.replacing(with: v, where: v .> m8)
                        i += 8
                    }
                    var mx = largestLane(m8)
                    while i < end {
                        let a = bits[i] & 0x7FFF_FFFF
                        mx = a > mx ? a : mx
                        i += 1
                    }
                    amaxBits[r * perRow + s] = mx
                }
            }
        }
        return amaxBits
    }
}

/// The scales of the two-pass path, from each group's absolute maximum: one group at a time
/// (`scalar`) or eight at a time (`vector`, which falls back to `scalar` off its common path).
struct TwoPassScales {
    let spec: FormatSpec
    let rule: FastScaleRule
    let amaxBits: [UInt32]
    let tensorScale: Float
    /// The element format's largest finite value, for a pow2 scale rule (nil otherwise).
    var pow2MaxFinite: Float? = nil

    /// The scale of group k and its code.
    func scalar(_ k: Int) -> (Float, UInt8) {
        let bitsK = amaxBits[k]
        let poisoned = bitsK >= 0x7F80_0000
        let amax = Float(bitPattern: bitsK)
        switch rule {
        case .mxFloor(let emax) where bitsK >= 0x0080_0000 && !poisoned:
            // Normal amax: floor(log2 amax) is its exponent field.
            let e = min(max(Int(bitsK >> 23) - 127 - emax, -127), 127)
            return (e == -127 ? Float(bitPattern: 0x0040_0000) : Float(bitPattern: UInt32(e + 127) << 23), UInt8(e + 127))
        case .absmax(let maxFinite) where !poisoned:
            let sc = amax / maxFinite
            return (amax == 0 ? 1 : (sc > 0 ? sc : .leastNonzeroMagnitude), 0)
        case .nvfp4(let e4m3) where !poisoned && !tensorScale.isNaN:
            // E4M3 (saturating, nearest-even) of amax/6/t, and its code from its bits.
            let scale = e4m3.element(amax / 6 / tensorScale, random: 0)
            let b = scale.bitPattern
            let e = Int(b >> 23)
            return (scale, e >= 121 ? UInt8(((e - 120) << 3) | Int((b >> 20) & 7)) : UInt8(scale * 512))
        default:
            // ue8m0 without computeScale's dispatch and its maxFinite computed per group.
            if let maxFinite = pow2MaxFinite, !poisoned { return FormatSpec.pow2Scale(amax: amax, maxFinite: maxFinite) }
            return spec.computeScale(amax: amax, poisoned: poisoned, tensorScale: tensorScale, lo: 0, hi: 0)
        }
    }

    /// Every group's scale, the scale its elements are divided by (NVFP4: times the tensor
    /// scale), its code when `codes`, and the groups whose scale is zero.
    func vector(count: Int, codes: Bool) -> (scales: [Float], effective: [Float], codes: [UInt8]?, zeroGroups: [Int]) {
        let isNV: Bool = { if case .nvfp4 = spec.scaleRule { return true } else { return false } }()
        // Results go to plain buffers (no uniqueness check per store), copied out below.
        let scalesPointer = UnsafeMutablePointer<Float>.allocate(capacity: count)
        let effectivePointer = UnsafeMutablePointer<Float>.allocate(capacity: count)
        let codesPointer: UnsafeMutablePointer<UInt8>? = codes ? .allocate(capacity: count + 8) : nil
        let amaxPointer = UnsafeMutablePointer<UInt32>.allocate(capacity: count)
        amaxPointer.initialize(from: amaxBits, count: count)
        defer {
            scalesPointer.deallocate()
            effectivePointer.deallocate()
            codesPointer?.deallocate()
            amaxPointer.deallocate()
        }
        var zeroGroups: [Int] = []
        func scalarLane(_ k: Int) {
            let (scale, code) = scalar(k)
            scalesPointer[k] = scale
            codesPointer?[k] = code
            let effective = isNV ? scale * tensorScale : scale
            effectivePointer[k] = effective
            if effective == 0 { zeroGroups.append(k) }
        }
        var nvConstants: FastElementKernel.VectorConstants? = nil
        if case .nvfp4(let e4m3) = rule { nvConstants = FastElementKernel.VectorConstants(e4m3) }
        var k = 0
        while k + 8 <= count {
            let b = loadLaneBits(amaxPointer + k)
            let (sv, cv, slow) = lanes(b, nvConstants)
            // Common path: vector stores; rare lanes: the scalar rule.
            let ev = isNV ? sv * SIMD8(repeating: tensorScale) : sv
            storeLanes(scalesPointer + k, sv)
            storeLanes(effectivePointer + k, ev)
            if let cp = codesPointer {
                let narrow = SIMD8<UInt8>(truncatingIfNeeded: cv)
                UnsafeMutableRawPointer(cp + k).storeBytes(of: narrow, as: SIMD8<UInt8>.self)
            }
            if anyLane(slow) {
                for j in 0..<8 where slow[j] { scalarLane(k + j) }
            }
            k += 8
        }
        while k < count {
            scalarLane(k)
            k += 1
        }
        return (Array(UnsafeBufferPointer(start: scalesPointer, count: count)),
                Array(UnsafeBufferPointer(start: effectivePointer, count: count)),
                codesPointer.map { Array(UnsafeBufferPointer(start: $0, count: count)) }, zeroGroups)
    }

    /// Eight groups' scales and codes from their maxima's bits; `slow` marks the lanes off the
    /// common path (poisoned, subnormal or zero amax), which take `scalar`.
    @inline(__always)
    func lanes(_ b: SIMD8<UInt32>, _ nvConstants: FastElementKernel.VectorConstants?)
        -> (SIMD8<Float>, SIMD8<UInt32>, SIMDMask<SIMD8<Int32>>)
    {
        var sv = SIMD8<Float>(repeating: 1)
        var cv = SIMD8<UInt32>(repeating: 0)
        var slow = b .>= SIMD8(repeating: 0x7F80_0000)
        switch rule {
        case .mxFloor(let emax):
            slow = slow .| (b .< SIMD8(repeating: 0x0080_0000))
            let e = unsafeBitCast(b &>> SIMD8(repeating: 23), to: SIMD8<Int32>.self) &- SIMD8(repeating: Int32(127 + emax))
            let low = e .<= SIMD8(repeating: -127)
            slow = slow .| low .| (e .> SIMD8(repeating: 127))
            let codes = unsafeBitCast(e &+ SIMD8(repeating: 127), to: SIMD8<UInt32>.self)
            sv = unsafeBitCast(codes &<< SIMD8(repeating: 23), to: SIMD8<Float>.self)
            cv = codes
        case .absmax(let maxFinite):
            slow = slow .| (b .< SIMD8(repeating: 0x0080_0000))
            sv = unsafeBitCast(b, to: SIMD8<Float>.self) / SIMD8(repeating: maxFinite)
            slow = slow .| (sv .== SIMD8(repeating: 0))
        case .nvfp4(let e4m3) where !tensorScale.isNaN:
            let raw = unsafeBitCast(b, to: SIMD8<Float>.self) / SIMD8(repeating: 6) / SIMD8(repeating: tensorScale)
            let q = e4m3.vectorFixed(unsafeBitCast(raw, to: SIMD8<UInt32>.self), random: SIMD8(), mode: 0, nvConstants!)
            sv = unsafeBitCast(q, to: SIMD8<Float>.self)
            let ex = q &>> SIMD8(repeating: 23)
            slow = slow .| (ex .< SIMD8(repeating: 121))  // zero or subnormal scale
            cv = ((ex &- SIMD8(repeating: 120)) &<< SIMD8(repeating: 3)) | ((q &>> SIMD8(repeating: 20)) & SIMD8(repeating: 7))
        default:
            slow = SIMDMask(repeating: true)
        }
        return (sv, cv, slow)
    }
}
