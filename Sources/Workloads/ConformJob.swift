import Foundation
import NumberFormats

/// A kernel's encoding of a tensor, read from its `.npy` files and checked against the spec
/// before anything is compared (`attnprec formats conform`, and the budgets file's
/// `conformance:` section). Every problem is one `InputError` line naming the file.
public struct ConformJob {
    public let spec: FormatSpec
    public let input: NPYArray
    public let theirs: Encoding
    public let seed: UInt64

    /// The files: INPUT (float16/32/64), CODES (uint8 for formats of 8 bits or fewer, uint16
    /// for 16-bit ones, one code per element in the low bits), and optionally the scales
    /// (uint8 e8m0/e4m3 bytes where the rule stores them so, else float32), the asymmetric
    /// zero points (float32) and NVFP4's tensor scale (float32, one element).
    public static func load(
        spec: FormatSpec, input: String, codes: String, scales: String? = nil, zeros: String? = nil, tensorScale: String? = nil,
        seed: UInt64 = 0
    ) throws -> ConformJob {
        guard spec.codeBits <= 16 else {
            throw InputError("--format \(spec): \(spec.codeBits)-bit codes; formats conform compares formats of 16 bits or fewer")
        }
        if spec.rounding.isStochastic {
            throw InputError("--format \(spec): stochastic rounding draws random bits a kernel does not share; expected a deterministic rounding mode")
        }
        let x = try NPY.read(path: input)
        switch x.data {
        case .float16, .float32, .float64: break
        default: throw InputError("\(input): dtype \(x.descr) is not a float; expected <f2, <f4 or <f8")
        }
        if case .group(let n)? = spec.granularity {
            let tokens = x.shape.count >= 2 ? x.shape[x.shape.count - 2] : 1
            if tokens % n != 0 {
                throw InputError("\(input): group:\(n) needs a token count (axis -2) that is a multiple of \(n), got \(tokens): the newest partial group has no codes")
            }
        }
        var enc = Encoding(codes: try readCodes(codes, spec: spec, shape: x.shape))
        let layout = spec.granularity.map { ScaleLayout(shape: x.shape, granularity: $0) }
        if let scales {
            guard let layout else { throw InputError("\(scales): --scales given, but \(spec) is unscaled: it has no scales") }
            if spec.storesScaleCodes {
                let b = try readBytes(scales, count: layout.scaleCount, layout: layout, shape: x.shape, what: "scale codes (e8m0/e4m3 bytes, |u1)")
                enc.scaleCodes = b
                enc.scales = b.map { spec.scaleValue(code: $0) }
            } else {
                enc.scales = try readFloats(scales, count: layout.scaleCount, layout: layout, shape: x.shape, what: "float32 scales")
            }
        }
        if let zeros {
            guard case .integer(_, .asymmetric) = spec.element, let layout else {
                throw InputError("\(zeros): --zeros given, but \(spec) has no zero points (only asymmetric integers, e.g. int4/asym)")
            }
            enc.zeros = try readFloats(zeros, count: layout.scaleCount, layout: layout, shape: x.shape, what: "float32 zero points")
        }
        if let tensorScale {
            guard case .nvfp4(true)? = spec.scaleRule else {
                throw InputError("\(tensorScale): --tensor-scale given, but \(spec) has no tensor scale (only nvfp4 with its tensor scale)")
            }
            enc.tensorScale = try readFloats(tensorScale, count: 1, layout: nil, shape: [1], what: "a float32 tensor scale")[0]
        }
        return ConformJob(spec: spec, input: x, theirs: enc, seed: seed)
    }

    static func readCodes(_ path: String, spec: FormatSpec, shape: [Int]) throws -> [UInt32] {
        let a = try NPY.read(path: path)
        let bits = spec.codeBits
        let codes: [UInt32]
        switch a.data {
        case .uint8(let c) where bits <= 8: codes = c.map(UInt32.init)
        case .uint16(let c) where bits > 8: codes = c.map(UInt32.init)
        default:
            throw InputError("\(path): dtype \(a.descr); expected \(bits <= 8 ? "|u1 (uint8)" : "<u2 (uint16)") codes for \(spec) (\(bits)-bit, one code per element in the low bits)")
        }
        guard a.shape == shape else { throw InputError("\(path): shape \(a.shape); expected the input's shape \(shape)") }
        let limit = UInt32(1) << UInt32(bits)
        if let i = codes.firstIndex(where: { $0 >= limit }) {
            throw InputError("\(path): code 0x\(String(codes[i], radix: 16)) at index \(ConformanceResult.position(i, shape: shape)) is outside \(spec) (\(bits)-bit codes: 0x0…0x\(String(limit - 1, radix: 16)))")
        }
        return codes
    }

    static func expectedShape(_ layout: ScaleLayout?, _ shape: [Int]) -> String {
        guard let layout else { return "[1]" }
        return "\(layout.scaleShape(tensorShape: shape)) for \(layout.granularity)"
    }

    static func readBytes(_ path: String, count: Int, layout: ScaleLayout?, shape: [Int], what: String) throws -> [UInt8] {
        let a = try NPY.read(path: path)
        guard case .uint8(let b) = a.data else { throw InputError("\(path): dtype \(a.descr); expected \(what)") }
        guard b.count == count else { throw InputError("\(path): \(b.count) scales (shape \(a.shape)); expected \(count), shape \(expectedShape(layout, shape))") }
        return b
    }

    static func readFloats(_ path: String, count: Int, layout: ScaleLayout?, shape: [Int], what: String) throws -> [Float] {
        let a = try NPY.read(path: path)
        guard case .float32(let f) = a.data, a.descr.hasSuffix("f4") else { throw InputError("\(path): dtype \(a.descr); expected \(what) (<f4)") }
        guard f.count == count else { throw InputError("\(path): \(f.count) values (shape \(a.shape)); expected \(count), shape \(expectedShape(layout, shape))") }
        return f
    }

    /// Re-encodes the input and compares.
    public func compare() -> ConformanceResult {
        switch input.data {
        case .float16(let x), .float32(let x): return Conformance.compare(spec: spec, input: x, shape: input.shape, theirs: theirs, seed: seed)
        case .float64(let x): return Conformance.compare(spec: spec, input: x, shape: input.shape, theirs: theirs, seed: seed)
        default: preconditionFailure("checked in load")
        }
    }

    /// Which alternative rules reproduce each class of `result`.
    public func explain(_ result: ConformanceResult) -> [Explanation] {
        switch input.data {
        case .float16(let x), .float32(let x): return Conformance.explain(result, input: x, theirs: theirs, seed: seed)
        case .float64(let x): return Conformance.explain(result, input: x, theirs: theirs, seed: seed)
        default: preconditionFailure("checked in load")
        }
    }
}
