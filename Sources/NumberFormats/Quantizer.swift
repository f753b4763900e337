/// Which scale each element of a tensor uses.
///
/// Axes: the last axis is the channel axis (C), the one before it the token axis (T), and the
/// product of any leading axes is the head/batch count (H). A 1-D tensor is one token.
public struct ScaleLayout: Hashable, Sendable {
    public let heads: Int
    public let tokens: Int
    public let channels: Int
    public let granularity: Granularity

    public init(shape: [Int], granularity: Granularity) {
        let c = shape.last ?? 1
        let t = shape.count >= 2 ? shape[shape.count - 2] : 1
        let h = shape.count >= 3 ? shape.dropLast(2).reduce(1, *) : 1
        heads = h
        tokens = t
        channels = c
        self.granularity = granularity
    }

    /// Number of scales (for `group:N`, full groups only).
    public var scaleCount: Int {
        switch granularity {
        case .perTensor: return 1
        case .perHead: return heads
        case .perToken: return heads * tokens
        case .perChannel: return heads * channels
        case .block(let n): return heads * tokens * ((channels + n - 1) / n)
        case .group(let n): return heads * (tokens / n) * channels
        }
    }

    /// The shape of the scales array as written beside the codes.
    public func scaleShape(tensorShape: [Int]) -> [Int] {
        let lead = Array(tensorShape.dropLast(min(2, tensorShape.count)))
        switch granularity {
        case .perTensor: return [1]
        case .perHead: return lead.isEmpty ? [1] : lead + [1, 1]
        case .perToken: return tensorShape.count >= 2 ? lead + [tokens, 1] : [1]
        case .perChannel: return tensorShape.count >= 2 ? lead + [1, channels] : [channels]
        case .block(let n):
            let nb = (channels + n - 1) / n
            return tensorShape.count >= 2 ? lead + [tokens, nb] : [nb]
        case .group(let n): return lead + [tokens / n, channels]
        }
    }

    /// Scale index of flat element `i`, or nil when the element stays unquantized (the
    /// newest partial token group of `group:N`).
    @inlinable public func scaleIndex(_ i: Int) -> Int? {
        switch granularity {
        case .perTensor: return 0
        case .perHead: return i / (tokens * channels)
        case .perToken: return i / channels
        case .perChannel: return (i / (tokens * channels)) * channels + i % channels
        case .block(let n):
            let nb = (channels + n - 1) / n
            return (i / channels) * nb + (i % channels) / n
        case .group(let n):
            let h = i / (tokens * channels)
            let t = (i / channels) % tokens
            let full = tokens / n
            if t >= full * n { return nil }
            return (h * full + t / n) * channels + i % channels
        }
    }
}

/// What one quantization produced beyond the values.
public struct QuantizationSideData: Sendable {
    /// One per scale: the fp32 scale (MX: 2^E; NVFP4: the decoded E4M3 block scale).
    public var scales: [Float] = []
    /// e8m0 codes (MX, pow2) or e4m3 codes (NVFP4) of the scales, when the rule stores them so.
    public var scaleCodes: [UInt8]? = nil
    /// Asymmetric integers: the per-scale minimum added back on dequantization.
    public var zeroPoints: [Float]? = nil
    /// NVFP4's fp32 tensor scale.
    public var tensorScale: Float? = nil
    /// Elements left at input precision (the partial group of `group:N`).
    public var unquantized = 0
    /// NaN inputs (their values stay NaN; formats without NaN get the −0 code).
    public var nanInputs = 0

    public init() {}
}

extension FormatSpec {
    /// Quantize → dequantize `input` (shape `shape`) into `output`; optionally write each
    /// element's code. Deterministic for a given `random` stream whatever the caller's split.
    ///
    /// Scaled formats compute the scale of a group from the absolute maximum of its values; a
    /// group containing NaN or ±Inf gets a NaN scale and all its elements dequantize to NaN.
    /// Elements are divided by their scale in the input's precision (as a kernel does in
    /// fp32), rounded into the element format, and multiplied back. Pre-specialised for Float
    /// and Double rows: the kernels call it per row from other modules, and the generic body
    /// would round through protocol witnesses (the same bits, slower); the entry point checks
    /// the type and takes the specialised body.
    @_specialize(where F == Float)
    @_specialize(where F == Double)
    public func quantize<F: BinaryInterchangeFloat>(
        _ input: UnsafeBufferPointer<F>, shape: [Int],
        into output: UnsafeMutableBufferPointer<F>,
        codes: UnsafeMutableBufferPointer<UInt32>? = nil,
        random: CounterRandom = CounterRandom(seed: 0)
    ) -> QuantizationSideData {
        precondition(output.count >= input.count)
        var side = QuantizationSideData()
        guard let g = granularity else {
            let r = elementRounder!
            side.nanInputs = r.quantizeElements(input, into: output, codes: codes, random: random, offset: 0)
            return side
        }
        let layout = ScaleLayout(shape: shape, granularity: g)
        let n = input.count
        let sc = layout.scaleCount
        // Absolute maxima (and minima for asymmetric integers) per scale.
        var amax = [F](repeating: 0, count: sc)
        var lo = [F](repeating: .infinity, count: sc)
        var hi = [F](repeating: -.infinity, count: sc)
        var poisoned = [Bool](repeating: false, count: sc)
        let asym: Bool = { if case .integer(_, .asymmetric) = element { return true } else { return false } }()
        for i in 0..<n {
            guard let s = layout.scaleIndex(i) else { continue }
            let x = input[i]
            if !x.isFinite {
                poisoned[s] = true
                continue
            }
            let a = x.magnitude
            if a > amax[s] { amax[s] = a }
            if asym {
                if x < lo[s] { lo[s] = x }
                if x > hi[s] { hi[s] = x }
            }
        }
        var tensorScale: F = 1
        if case .nvfp4(true) = scaleRule {
            var tmax: F = 0
            var bad = false
            for s in 0..<sc {
                if poisoned[s] { bad = true } else if amax[s] > tmax { tmax = amax[s] }
            }
            tensorScale = bad ? .nan : (tmax == 0 ? 1 : tmax / F(448.0 * 6.0))
            side.tensorScale = Float(tensorScale)
        }
        var scales = [F](repeating: 1, count: sc)
        var scaleCodes: [UInt8]? = nil
        var zeros: [F]? = asym ? [F](repeating: 0, count: sc) : nil
        switch scaleRule {
        case .mx, .pow2, .nvfp4: scaleCodes = [UInt8](repeating: 0, count: sc)
        default: break
        }
        for s in 0..<sc {
            let (scale, code) = computeScale(amax: amax[s], poisoned: poisoned[s], tensorScale: tensorScale,
                lo: lo[s], hi: hi[s])
            scales[s] = scale
            scaleCodes?[s] = code
            if asym { zeros![s] = poisoned[s] ? .nan : (lo[s] == .infinity ? 0 : lo[s]) }
        }
        // Elements.
        for i in 0..<n {
            let x = input[i]
            if x.isNaN { side.nanInputs += 1 }
            guard let s = layout.scaleIndex(i) else {
                output[i] = x
                side.unquantized += 1
                continue
            }
            let (v, code) = quantizeScaled(x, scale: scales[s], zero: zeros?[s] ?? 0,
                tensorScale: tensorScale, random: random.bits(i))
            output[i] = v
            codes?[i] = code
        }
        side.scales = scales.map { Float($0) }
        side.scaleCodes = scaleCodes
        side.zeroPoints = zeros?.map { Float($0) }
        return side
    }

    /// DeepSeek's ue8m0 scale of a group: the power of two at or above amax / maxFinite (1 for
    /// amax = 0), exponent clamped to [−127, 127], and its e8m0 code.
    static func pow2Scale<F: BinaryFloatingPoint>(amax: F, maxFinite: F) -> (F, UInt8) {
        if amax == 0 { return (1, 127) }
        let t = amax / maxFinite
        var e = Int(t.exponent)
        if !isPowerOfTwo(t) { e += 1 }
        e = min(max(e, -127), 127)
        return (F(sign: .plus, exponent: F.Exponent(e), significand: 1), UInt8(e + 127))
    }

    /// The scale of one group and, for rules that store it as a byte, its code.
    @usableFromInline
    func computeScale<F: BinaryInterchangeFloat>(amax: F, poisoned: Bool, tensorScale: F, lo: F, hi: F)
        -> (F, UInt8)
    {
        switch element {
        case .integer(let bits, let kind):
            if poisoned { return (.nan, 0) }
            if case .fixed(let v) = scaleRule { return (F(v), 0) }
            if case .mx(let rule) = scaleRule {  // MXINT8: emax_elem = 0
                return mxScale(amax: amax, poisoned: poisoned, emax: 0, mantissaBits: bits - 2, rule: rule)
            }
            if kind == .asymmetric {
                let range = lo == .infinity ? 0 : hi - lo
                let s = range / F((1 << bits) - 1)
                return (s > 0 ? s : 1, 0)
            }
            let s = amax / F((1 << (bits - 1)) - 1)
            return (s > 0 ? s : 1, 0)
        case .float(let f):
            if poisoned { return (.nan, 0xFF) }
            switch scaleRule {
            case .fixed(let v): return (F(v), 0)
            case .absmax, .none:
                let s = amax / F(f.maxFinite)
                if amax == 0 { return (1, 0) }
                return (s > 0 ? s : F.leastNonzeroMagnitude, 0)
            case .pow2:
                return Self.pow2Scale(amax: amax, maxFinite: F(f.maxFinite))
            case .mx(let rule):
                return mxScale(amax: amax, poisoned: false, emax: f.maxExponent, mantissaBits: f.mantissaBits, rule: rule, elementMax: F(f.maxFinite))
            case .nvfp4:
                if tensorScale.isNaN { return (.nan, 0x7F) }
                let e4m3 = ElementRounder(format: .float8_e4m3fn, rounding: .nearestEven, overflow: .saturate)
                let raw = amax / F(6) / tensorScale
                let code = UInt8(e4m3.encode(raw))
                return (F(e4m3.decodeDouble(UInt32(code))), code)
            }
        }
    }

    @usableFromInline
    func mxScale<F: BinaryInterchangeFloat>(
        amax: F, poisoned: Bool, emax: Int, mantissaBits m: Int, rule: MXScaleRule, elementMax: F = 0
    ) -> (F, UInt8) {
        if poisoned { return (.nan, 0xFF) }
        var e: Int
        if amax == 0 {
            e = -127
        } else {
            switch rule {
            case .floor:
                e = Int(amax.exponent) - emax
            case .ceil:
                e = Int(amax.exponent) + (isPowerOfTwo(amax) ? 0 : 1) - emax
            case .even:
                // Round amax half-up at the element's mantissa width, then take the floor.
                let ulp = F(sign: .plus, exponent: amax.exponent - F.Exponent(m + 1), significand: 1)
                e = Int((amax + ulp).exponent) - emax
            case .rceil:
                let t = amax / elementMax
                e = Int(t.exponent) + (isPowerOfTwo(t) ? 0 : 1)
            }
        }
        e = min(max(e, -127), 127)
        return (F(sign: .plus, exponent: F.Exponent(e), significand: 1), UInt8(e + 127))
    }

    /// One element through its scale: (dequantized value, code).
    @inlinable
    func quantizeScaled<F: BinaryInterchangeFloat>(_ x: F, scale: F, zero: F, tensorScale: F, random: UInt32)
        -> (F, UInt32)
    {
        switch element {
        case .integer(let bits, let kind):
            if x.isNaN || scale.isNaN { return (.nan, 0) }
            if case .mx = scaleRule {
                let q = roundToInteger(x / scale * 64, random: random)
                let c = min(max(q, -127), 127)
                return (F(c) / 64 * scale, UInt32(UInt8(bitPattern: Int8(c))))
            }
            if kind == .asymmetric {
                let qmax = F((1 << bits) - 1)
                let q = min(max(roundToInteger((x - zero) / scale, random: random), 0), qmax)
                return (q * scale + zero, UInt32(q))
            }
            let qmax = F((1 << (bits - 1)) - 1)
            let q = min(max(roundToInteger(x / scale, random: random), -qmax), qmax)
            let code = UInt32(truncatingIfNeeded: Int(q)) & UInt32((1 << bits) - 1)
            return (q * scale, code)
        case .float:
            let r = elementRounder!
            if scale.isNaN { return (.nan, r.nanCode(negative: x.sign == .minus)) }
            let effective: F
            if case .nvfp4 = scaleRule { effective = scale * tensorScale } else { effective = scale }
            if effective == 0 {
                return (x.isNaN ? .nan : 0, x.isNaN ? r.nanCode(negative: false) : 0)
            }
            let y = x / effective
            let code = r.encode(y, random: random)
            let v = F(r.decodeDouble(code))
            return (x.isNaN ? .nan : v * effective, code)
        }
    }

    @inlinable
    func roundToInteger<F: BinaryInterchangeFloat>(_ x: F, random: UInt32) -> F {
        switch rounding {
        case .nearestEven: return x.rounded(.toNearestOrEven)
        case .nearestAway: return x.rounded(.toNearestOrAwayFromZero)
        case .towardZero: return x.rounded(.towardZero)
        case .up: return x.rounded(.up)
        case .down: return x.rounded(.down)
        case .toOdd:
            let t = x.rounded(.towardZero)
            if t == x { return t }
            let odd = t.truncatingRemainder(dividingBy: 2) != 0
            return odd ? t : t + (x < 0 ? -1 : 1)
        case .stochastic(let b):
            let u = F(random & UInt32((UInt64(1) << b) - 1)) / F(UInt64(1) << b)
            return (x + u).rounded(.down)
        }
    }
}

@usableFromInline
func isPowerOfTwo<F: BinaryFloatingPoint>(_ x: F) -> Bool {
    x > 0 && x.isFinite && x.significandWidth == 0
}

extension ElementRounder {
    /// Rounds a buffer element by element; returns the number of NaN inputs.
    /// Element `i` draws its stochastic bits from `random.bits(offset + i)`.
    @inlinable
    public func quantizeElements<F: BinaryInterchangeFloat>(
        _ input: UnsafeBufferPointer<F>, into output: UnsafeMutableBufferPointer<F>,
        codes: UnsafeMutableBufferPointer<UInt32>?, random: CounterRandom, offset: Int
    ) -> Int {
        var nans = 0
        for i in 0..<input.count {
            let x = input[i]
            let bits = random.bits(offset + i)
            let c = encode(x, random: bits)
            codes?[i] = c
            if x.isNaN {
                nans += 1
                output[i] = x
            } else {
                output[i] = F(decodeDouble(c))
            }
        }
        return nans
    }
}
