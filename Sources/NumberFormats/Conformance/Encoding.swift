/// One encoding of a tensor under a format spec: each element's code and the side data a
/// kernel writes beside them. Ours comes from the quantizer (`FormatSpec.reference`); theirs
/// from a kernel's files (`formats conform`).
public struct Encoding: Sendable, Equatable {
    /// One code per element (the low bits of each stored byte or half-word).
    public var codes: [UInt32]
    /// One fp32 scale per scale group (MX, pow2: 2^E; NVFP4: the decoded E4M3 block scale);
    /// empty for unscaled formats or when a kernel's file did not give them.
    public var scales: [Float]
    /// The byte each scale is stored as (e8m0 for MX and pow2, e4m3 for NVFP4), where it is.
    public var scaleCodes: [UInt8]?
    /// Asymmetric integers: the fp32 minimum of each group.
    public var zeros: [Float]?
    /// NVFP4's fp32 tensor scale.
    public var tensorScale: Float?

    public init(codes: [UInt32], scales: [Float] = [], scaleCodes: [UInt8]? = nil, zeros: [Float]? = nil, tensorScale: Float? = nil) {
        self.codes = codes
        self.scales = scales
        self.scaleCodes = scaleCodes
        self.zeros = zeros
        self.tensorScale = tensorScale
    }
}

extension FormatSpec {
    /// The stream of random bits `formats quantize` and `formats conform` round with.
    public static func quantizeRandom(seed: UInt64) -> CounterRandom { CounterRandom(seed: seed, role: "quantize") }

    /// Our encoding of `input` (shape `shape`): the quantizer's codes and side data, through
    /// the fast path where it applies (binary32, float elements), else the exact one.
    public func reference<F: BinaryInterchangeFloat>(_ input: [F], shape: [Int], seed: UInt64 = 0) -> Encoding {
        // Binary32 through the concrete function: this one is generic, and called from other
        // modules it runs unspecialised (element by element through witness tables, ~20× slower).
        if F.self == Float.self { return referenceFloat(unsafeBitCast(input, to: [Float].self), shape: shape, seed: seed) }
        return referenceGeneric(input, shape: shape, seed: seed)
    }

    func referenceFloat(_ input: [Float], shape: [Int], seed: UInt64) -> Encoding { referenceGeneric(input, shape: shape, seed: seed) }

    func referenceGeneric<F: BinaryInterchangeFloat>(_ input: [F], shape: [Int], seed: UInt64) -> Encoding {
        let random = Self.quantizeRandom(seed: seed)
        var codes = [UInt32](repeating: 0, count: input.count)
        var values = [F](repeating: 0, count: input.count)
        let side: QuantizationSideData = input.withUnsafeBufferPointer { xp in
            values.withUnsafeMutableBufferPointer { vp in
                codes.withUnsafeMutableBufferPointer { cp in
                    if F.self == Float.self {
                        let fx = UnsafeRawBufferPointer(xp).bindMemory(to: Float.self)
                        let fv = UnsafeMutableRawBufferPointer(vp).bindMemory(to: Float.self)
                        if let s = quantizeFastCodes(fx, shape: shape, into: fv, codes: cp, random: random) { return s }
                    }
                    return quantize(xp, shape: shape, into: vp, codes: cp, random: random)
                }
            }
        }
        return Encoding(codes: codes, scales: side.scales, scaleCodes: side.scaleCodes, zeros: side.zeroPoints, tensorScale: side.tensorScale)
    }

    /// Bits of one element code.
    public var codeBits: Int {
        switch element {
        case .float(let f): return f.bitWidth
        case .integer(let b, _): return b
        }
    }

    /// Whether each scale is stored as a byte (e8m0 or e4m3) rather than as an fp32.
    public var storesScaleCodes: Bool {
        switch scaleRule {
        case .mx, .pow2, .nvfp4: return true
        default: return false
        }
    }

    /// The fp32 scale a stored scale byte stands for (e8m0: 2^(c−127), 0xFF NaN; NVFP4: E4M3).
    public func scaleValue(code: UInt8) -> Float {
        if case .nvfp4 = scaleRule { return ElementRounder(format: .float8_e4m3fn).decode(UInt32(code)) }
        if code == 0xFF { return .nan }
        return code == 0 ? Float(bitPattern: 0x0040_0000) : Float(bitPattern: UInt32(code) << 23)
    }

    /// The element value a code stands for, before its scale (integers: the integer; MXINT8:
    /// the integer / 64).
    public func elementValue(code: UInt32) -> Double {
        switch element {
        case .float(let f): return ElementFormat.decode(code, format: f)
        case .integer(let bits, let kind):
            let c = code & UInt32((1 << bits) - 1)
            if kind == .asymmetric { return Double(c) }
            let signed = c >= UInt32(1 << (bits - 1)) ? Int(c) - (1 << bits) : Int(c)
            if case .mx = scaleRule { return Double(signed) / 64 }
            return Double(signed)
        }
    }
}
