import ArgumentParser
import Foundation
import NumberFormats
import Workloads

struct FormatsCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "formats", abstract: "Storage formats: list, show, quantize, conform.",
        subcommands: [List.self, Show.self, Quantize.self, Conform.self])

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
        @Option(name: .long, parsing: .unconditional, help: "Seed of the stochastic-rounding stream.", transform: FlagValue.seed) var seed: UInt64 = 0
        @Flag(name: .long, help: "Write codes instead of dequantized values.") var codes = false
        @Argument(help: "Input .npy (float16, float32 or float64).") var input: String
        @Argument(help: "Output .npy.") var output: String

        func run() throws {
            let spec: FormatSpec
            do { spec = try FormatSpec.parse(format) } catch let e as InputError { throw InputError("--format: \(e.message)") }
            let resolved = try spec.overriding(rounding: rounding, overflow: overflow)
            try OutputLocation.check(output, kind: .file, flag: "OUT")
            let array = try NPY.read(path: input)
            let job = try QuantizeJob(spec: resolved, array: array, seed: seed, wantCodes: codes, input: input)
            let files = try job.outputFiles(output: output)
            try AtomicFile.write(files, creatingFolders: true)
            if let warning = job.nanWarning(input: input) { FileHandle.standardError.write(Data("attnprec: warning: \(warning)\n".utf8)) }
            let bpe = resolved.bitsPerElement(shape: array.shape)
            print("wrote \(files.map(\.path).joined(separator: ", ")): shape \(array.shape), format \(resolved), \(String(format: "%.4g", bpe)) bits/element")
        }
    }
}
