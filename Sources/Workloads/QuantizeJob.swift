import Foundation
import NumberFormats

/// One quantization of a whole .npy tensor (`attnprec formats quantize`), held in memory until
/// written: values after quantize → dequantize, or the codes, and the side data.
public struct QuantizeJob {
    public let spec: FormatSpec
    public let shape: [Int]
    public var values: [Float] = []
    public var codes: [UInt32] = []
    public var side = QuantizationSideData()
    public let wantCodes: Bool
    /// ±Inf inputs, and the finite inputs that came out NaN (a scale that an Inf made infinite
    /// turns its whole row or block into NaN).
    public var infInputs = 0, poisonedByInf = 0

    public init(spec: FormatSpec, array: NPYArray, seed: UInt64, wantCodes: Bool, input: String) throws {
        self.spec = spec
        self.shape = array.shape
        self.wantCodes = wantCodes
        let random = CounterRandom(seed: seed, role: "quantize")
        if wantCodes, case .group(let n)? = spec.granularity {
            let tokens = shape.count >= 2 ? shape[shape.count - 2] : 1
            if tokens % n != 0 {
                throw InputError("\(input): --codes with group:\(n) needs a token count (axis -2) that is a multiple of \(n), got \(tokens): the newest partial group stays unquantized and has no codes")
            }
        }
        let n = array.data.count
        var out = [Float](repeating: 0, count: n)
        var codeBuf = [UInt32](repeating: 0, count: wantCodes ? n : 0)
        switch array.data {
        case .float16(let x), .float32(let x):
            // The vectorised path (same bits as the exact one, which tests check).
            // With codes: the lane kernel's codes (same codes as the exact path, tested).
            let fast: QuantizationSideData? = x.withUnsafeBufferPointer { xp in
                out.withUnsafeMutableBufferPointer { op in
                    if !wantCodes { return spec.quantizeFast(xp, shape: shape, into: op, random: random) }
                    return codeBuf.withUnsafeMutableBufferPointer { spec.quantizeFastCodes(xp, shape: shape, into: op, codes: $0, random: random) }
                }
            }
            if var f = fast {
                f.nanInputs = x.reduce(0) { $0 + ($1.isNaN ? 1 : 0) }
                side = f
            } else {
                side = Self.run(spec, x, &out, &codeBuf, wantCodes, shape, random) { $0 }
            }
        case .float64(let x):
            var out64 = [Double](repeating: 0, count: n)
            side = Self.run(spec, x, &out64, &codeBuf, wantCodes, shape, random) { $0 }
            // Unscaled values are binary32 values (exact); scaled ones are the binary64
            // product q·s, rounded once to the float32 the output file holds.
            out = out64.map { Float($0) }
        case .uint8, .uint16:
            throw InputError("\(input): dtype \(array.descr) is not a float; expected <f2, <f4 or <f8")
        }
        values = out
        codes = codeBuf
        switch array.data {
        case .float16(let x), .float32(let x): (infInputs, poisonedByInf) = Self.infSpread(x, out)
        case .float64(let x): (infInputs, poisonedByInf) = Self.infSpread(x, out)
        default: break
        }
    }

    static func infSpread<F: BinaryFloatingPoint>(_ x: [F], _ out: [Float]) -> (Int, Int) {
        var inf = 0, poisoned = 0
        for i in x.indices {
            if x[i].isInfinite { inf += 1 } else if !x[i].isNaN && out[i].isNaN { poisoned += 1 }
        }
        return (inf, poisoned)
    }

    static func run<F: BinaryInterchangeFloat>(
        _ spec: FormatSpec, _ x: [F], _ out: inout [F], _ codes: inout [UInt32], _ wantCodes: Bool,
        _ shape: [Int], _ random: CounterRandom, _ id: (F) -> F
    ) -> QuantizationSideData {
        x.withUnsafeBufferPointer { xp in
            out.withUnsafeMutableBufferPointer { op in
                if wantCodes {
                    return codes.withUnsafeMutableBufferPointer { cp in
                        spec.quantize(xp, shape: shape, into: op, codes: cp, random: random)
                    }
                }
                return spec.quantize(xp, shape: shape, into: op, codes: nil, random: random)
            }
        }
    }

    /// The warning for NaN inputs, and for Inf inputs that turned finite values NaN through
    /// their scale (nil when there are none): what their codes and values become.
    public func nanWarning(input: String) -> String? {
        var parts: [String] = []
        if side.nanInputs > 0 {
            let note: String
            if case .float(let f) = spec.element, !f.hasNaN {
                note = wantCodes ? "; \(f.name) has no NaN: their codes are the −0 code (ml_dtypes' rule), their values stay NaN" : "; their values stay NaN"
            } else { note = "; they stay NaN" }
            parts.append("\(input): \(side.nanInputs) NaN input(s)\(note)")
        }
        if poisonedByInf > 0 {
            let unit = spec.granularity.map { "\($0)" } ?? "scaling"
            parts.append("\(input): \(infInputs) Inf input(s) made their \(unit) scale infinite; \(poisonedByInf) finite value(s) sharing it became NaN")
        }
        return parts.isEmpty ? nil : parts.joined(separator: "; ")
    }

    /// The files `attnprec formats quantize` writes: values or codes at `output`, and the scales,
    /// zero points and tensor scale beside it.
    public func outputFiles(output: String) throws -> [AtomicFile.File] {
        var files: [AtomicFile.File] = []
        if wantCodes {
            let width: Int
            switch spec.element {
            case .float(let f): width = f.bitWidth
            case .integer(let b, _): width = b
            }
            if width <= 8 {
                files.append(.init(path: output, data: NPY.encode(shape: shape, descr: "|u1", payload: NPY.data(of: codes.map { UInt8(truncatingIfNeeded: $0) }))))
            } else if width <= 16 {
                files.append(.init(path: output, data: NPY.encode(shape: shape, descr: "<u2", payload: NPY.data(of: codes.map { UInt16(truncatingIfNeeded: $0) }))))
            } else {
                files.append(.init(path: output, data: NPY.encode(shape: shape, descr: "<u4", payload: NPY.data(of: codes))))
            }
        } else {
            files.append(.init(path: output, data: NPY.encode(shape: shape, descr: "<f4", payload: NPY.data(of: values))))
        }
        if let g = spec.granularity {
            let base = output.hasSuffix(".npy") ? String(output.dropLast(4)) : output
            let scaleShape = ScaleLayout(shape: shape, granularity: g).scaleShape(tensorShape: shape)
            if let sc = side.scaleCodes {
                files.append(.init(path: base + ".scales.npy", data: NPY.encode(shape: scaleShape, descr: "|u1", payload: NPY.data(of: sc as [UInt8]))))
            } else {
                files.append(.init(path: base + ".scales.npy", data: NPY.encode(shape: scaleShape, descr: "<f4", payload: NPY.data(of: side.scales as [Float]))))
            }
            if let z = side.zeroPoints {
                files.append(.init(path: base + ".zeros.npy", data: NPY.encode(shape: scaleShape, descr: "<f4", payload: NPY.data(of: z as [Float]))))
            }
            if let t = side.tensorScale {
                files.append(.init(path: base + ".tensor_scale.npy", data: NPY.encode(shape: [1], descr: "<f4", payload: NPY.data(of: [t] as [Float]))))
            }
        }
        return files
    }
}
