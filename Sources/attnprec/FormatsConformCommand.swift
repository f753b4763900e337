import ArgumentParser
import Foundation
import NumberFormats
import Workloads

extension FormatsCommand {
    /// `attnprec formats conform`: a kernel's codes and scales against the spec, bit for bit.
    struct Conform: ParsableCommand {
        static let configuration = CommandConfiguration(
            abstract: "Check a kernel's codes and scales against a format spec: exit 0 conforms, 1 not, 2 bad input.",
            discussion: """
                Re-encodes INPUT with the spec (as `formats quantize --codes` does) and compares the \
                kernel's CODES (uint8 for formats of 8 bits or fewer, uint16 for 16-bit ones, one code \
                per element) and its scales element by element. Every difference is classified (tie, \
                overflow, subnormal, NaN, off by one, scale exponent, scale ulps) and the first few of \
                each class printed. --explain names the spec behaviour that reproduces each class.
                """)
        @Option(name: .long, help: "Format spec: NAME[/GRANULARITY][/SCALE-RULE][/ROUNDING][/OVERFLOW].")
        var format: String
        @Option(name: .long, help: "The kernel's scales (.npy): uint8 e8m0/e4m3 bytes for MX, pow2 and NVFP4, else float32.")
        var scales: String?
        @Option(name: .long, help: "The kernel's zero points (.npy, float32; asymmetric integers).")
        var zeros: String?
        @Option(name: .customLong("tensor-scale"), help: "The kernel's NVFP4 tensor scale (.npy, float32, one element).")
        var tensorScale: String?
        @Option(name: .long, help: "Write JUnit XML here (one test case each for codes, scales, zeros, tensor scale).")
        var junit: String?
        @Option(name: .long, help: "Examples printed per class.") var examples: Int = 5
        @Flag(name: .long, help: "Name the alternative spec or scale arithmetic that reproduces each class.") var explain = false
        @Argument(help: "Input .npy (float16, float32 or float64): what the kernel encoded.") var input: String
        @Argument(help: "The kernel's codes (.npy).") var codes: String

        func run() throws {
            let spec: FormatSpec
            do { spec = try FormatSpec.parse(format) } catch let e as InputError { throw InputError("--format: \(e.message)") }
            guard examples >= 0 else { throw InputError("--examples: expected ≥ 0, got \(examples)") }
            if let junit { try OutputLocation.check(junit, kind: .file, flag: "--junit") }
            let job = try ConformJob.load(spec: spec, input: input, codes: codes, scales: scales, zeros: zeros, tensorScale: tensorScale)
            let result = job.compare()
            let explanations = explain && !result.conforms ? job.explain(result) : nil
            if let junit { try AtomicFile.write([.init(path: junit, data: Data(result.junit(file: codes).utf8))], creatingFolders: true) }
            print(result.text(examples: examples, explanations: explanations), terminator: "")
            if !result.conforms { throw ExitCode(1) }
        }
    }
}
