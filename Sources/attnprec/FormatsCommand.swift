import ArgumentParser
import Foundation
import NumberFormats
import Workloads

struct FormatsCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "formats", abstract: "Storage formats: list, show, quantize.",
        subcommands: [List.self, Show.self, Quantize.self])

    struct List: ParsableCommand {
        static let configuration = CommandConfiguration(abstract: "The named element formats and the scaled families.")
        func run() throws {
            print(FormatTables.elementTable())
            print("")
            print(FormatTables.familyTable())
        }
    }

    struct Show: ParsableCommand {
        static let configuration = CommandConfiguration(
            abstract: "Every derived number of a format or spec (e.g. e4m3, bf16, mxfp4, int4/group:32/asym).")
        @Argument(help: "A format name, alias, eXmY, or a spec string.") var name: String
        func run() throws {
            print(FormatTables.show(try FormatSpec.parse(name)))
        }
    }

    struct Quantize: ParsableCommand {
        static let configuration = CommandConfiguration(
            abstract: "Quantize → dequantize a .npy tensor (float16/32/64), or write its codes.",
            discussion: """
                OUT holds float32 values after quantize→dequantize, same shape. With --codes it holds \
                the raw encodings: uint8 for formats of 8 bits or fewer (one code per byte, low bits), \
                uint16 for 16-bit formats. Scales, when the quantizer has them, go to OUT.scales.npy \
                (float32, or uint8 for e8m0 / e4m3 scales); asymmetric integers' minima to \
                OUT.zeros.npy; NVFP4's tensor scale to OUT.tensor_scale.npy.
                """)
        @Option(name: .long, help: "Format spec: NAME[/GRANULARITY][/SCALE-RULE][/ROUNDING][/OVERFLOW].")
        var format: String
        @Option(name: .long, help: "Rounding mode (overrides the spec's): \(RoundingMode.vocabulary.joined(separator: ", ")).")
        var rounding: String?
        @Option(name: .long, help: "Overflow policy (overrides the spec's): saturate | ieee.")
        var overflow: String?
        @Option(name: .long, help: "Seed of the stochastic-rounding stream.") var seed: UInt64 = 0
        @Flag(name: .long, help: "Write codes instead of dequantized values.") var codes = false
        @Argument(help: "Input .npy (float16, float32 or float64).") var input: String
        @Argument(help: "Output .npy.") var output: String

        func run() throws {
            let spec = try resolvedSpec()
            let array = try NPY.read(path: input)
            let job = try QuantizeJob(spec: spec, array: array, seed: seed, wantCodes: codes, input: input)
            let files = try job.outputFiles(output: output)
            try AtomicFile.write(files)
            if job.side.nanInputs > 0 {
                let note: String
                if case .float(let f) = spec.element, !f.hasNaN {
                    note = codes ? "; \(f.name) has no NaN: their codes are the −0 code (ml_dtypes' rule), their values stay NaN" : "; their values stay NaN"
                } else { note = "; they stay NaN" }
                FileHandle.standardError.write(Data("attnprec: warning: \(input): \(job.side.nanInputs) NaN input(s)\(note)\n".utf8))
            }
            let bpe = spec.bitsPerElement(shape: array.shape)
            print("wrote \(files.map(\.path).joined(separator: ", ")): shape \(array.shape), format \(spec), \(String(format: "%.4g", bpe)) bits/element")
        }

        func resolvedSpec() throws -> FormatSpec {
            var spec: FormatSpec
            do { spec = try FormatSpec.parse(format) } catch let e as InputError { throw InputError("--format: \(e.message)") }
            var mode = spec.rounding
            var policy = spec.overflow
            if let r = rounding {
                guard let m = RoundingMode(parsing: r) else {
                    throw InputError("--rounding: unknown mode '\(r)'; valid: \(RoundingMode.vocabulary.joined(separator: ", "))")
                }
                mode = m
            }
            if let o = overflow {
                guard let p = OverflowPolicy(rawValue: o.lowercased()) else {
                    throw InputError("--overflow: unknown policy '\(o)'; valid: saturate, ieee")
                }
                policy = p
            }
            spec = FormatSpec(
                name: spec.name, element: spec.element, granularity: spec.granularity, scaleRule: spec.scaleRule,
                rounding: mode, overflow: policy, flushSubnormals: spec.flushSubnormals)
            return spec
        }
    }
}

/// One quantization of a whole .npy tensor, held in memory until written.
struct QuantizeJob {
    let spec: FormatSpec
    let shape: [Int]
    var values: [Float] = []
    var codes: [UInt32] = []
    var side = QuantizationSideData()
    let wantCodes: Bool

    init(spec: FormatSpec, array: NPYArray, seed: UInt64, wantCodes: Bool, input: String) throws {
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
            // Values only: the vectorised path (same bits as the exact one, which tests check).
            let fast: QuantizationSideData? = wantCodes ? nil : x.withUnsafeBufferPointer { xp in
                out.withUnsafeMutableBufferPointer { spec.quantizeFast(xp, shape: shape, into: $0, random: random) }
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

    func outputFiles(output: String) throws -> [AtomicFile.File] {
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
