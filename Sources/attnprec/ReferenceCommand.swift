import AttentionVariants
import ArgumentParser
import ExactArithmetic
import Foundation
import HybridStacks
import NumberFormats

struct ReferenceCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "reference",
        abstract: "The exact reference: certify a fast tier against MPFR.",
        subcommands: [Certify.self])

    struct Certify: ParsableCommand {
        static let configuration = CommandConfiguration(
            abstract: "Fast tier vs MPFR at P bits, and MPFR at P vs 2P bits, on the default workload.",
            discussion: """
                One head, K=V=64 (the variant's own shapes where fixed), Gaussian inputs, the \
                variant's default gates, seed 0. Exit 1 when fast_vs_mpfr > 1e-10 or \
                mpfr_p_vs_2p > 2^-(P-20); exit 2 on bad input.
                """)
        @Option(name: .long, help: "Variant name (e.g. linear).") var variant: String
        @Option(name: .long, help: "recurrent or chunked.") var form: String = "recurrent"
        @Option(name: .long, parsing: .unconditional, help: "Prefix length compared with MPFR at P bits (default 2048; hybrid: 32).") var tokens: Int?
        @Option(name: .long, help: "hybrid: the stack preset (\(StackModel.presets.map(\.name).joined(separator: ", "))).") var preset: String?
        @Option(name: .long, help: "hybrid: the width (default 1/64).") var width: String?
        @Option(name: .long, parsing: .unconditional, help: "hybrid: certify the first N layers only (default all).") var layers: Int?
        @Option(name: .long, parsing: .unconditional, help: "MPFR precision P in bits.") var bits: Int = 128
        @Option(name: .long, help: "Fast tier: float64 or double-double.") var tier: String = "float64"
        @Option(name: .long, help: "Also write the result as JSON to FILE.") var json: String?

        func run() throws {
            guard ["recurrent", "chunked"].contains(form) else {
                throw InputError("--form: expected recurrent or chunked, got '\(form)'")
            }
            if variant == "hybrid" { return try certifyStack() }
            guard preset == nil, width == nil, layers == nil else { throw InputError("--preset/--width/--layers: apply to --variant hybrid only") }
            let tokens = self.tokens ?? 2048
            guard (1...(1 << 22)).contains(tokens) else { throw InputError("--tokens: expected 1...4194304, got \(tokens)") }
            guard (24...8192).contains(bits) else { throw InputError("--bits: expected 24...8192, got \(bits)") }
            let fastTier: BackendTier
            switch tier {
            case "float64": fastTier = .float64
            case "double-double": fastTier = .doubleDouble
            default: throw InputError("--tier: expected float64 or double-double, got '\(tier)'")
            }
            _ = try VariantCatalog.makeRun(variant: variant, form: form, tier: fastTier)
            if let json { try OutputLocation.check(json, kind: .file, flag: "--json") }
            let result = try ReferenceCertification.certify(
                variant: variant, form: form, tokens: tokens, bits: bits, fastTier: fastTier
            ) { t in try VariantCatalog.makeRun(variant: variant, form: form, tier: t) }
            let enc = JSONEncoder()
            enc.outputFormatting = [.prettyPrinted, .sortedKeys]
            let data = try enc.encode(result)
            print(String(decoding: data, as: UTF8.self))
            if let path = json {
                try AtomicFile.write(data, to: path, creatingFolders: true)
            }
            if !result.pass { throw ExitCode(1) }
        }

        /// `--variant hybrid --preset P`: the whole stack (or its first --layers) at --width, Float64 vs MPFR.
        func certifyStack() throws {
            guard let preset else { throw InputError("--preset: --variant hybrid needs a stack preset (\(StackModel.presets.map(\.name).joined(separator: ", ")))") }
            let tokens = self.tokens ?? 32
            guard (16...4096).contains(tokens) else { throw InputError("--tokens: expected 16...4096 for --variant hybrid, got \(tokens)") }
            guard (64...8192).contains(bits) else { throw InputError("--bits: expected 64...8192 for --variant hybrid, got \(bits)") }
            guard tier == "float64" else { throw InputError("--tier: --variant hybrid certifies the float64 stack, got '\(tier)'") }
            let shape: StackShape
            do { shape = try StackShape(model: try StackModel.preset(preset), width: try parseWidth(width ?? "1/64"), prefix: layers) } catch let e as InputError {
                throw InputError("--" + e.message)
            }
            if let json { try OutputLocation.check(json, kind: .file, flag: "--json") }
            let c = try HybridCertificate.certify(shape, name: preset, tokens: tokens, bits: bits, form: form, jobs: ProcessInfo.processInfo.activeProcessorCount)
            let enc = JSONEncoder()
            enc.outputFormatting = [.prettyPrinted, .sortedKeys]
            enc.nonConformingFloatEncodingStrategy = .convertToString(positiveInfinity: "Infinity", negativeInfinity: "-Infinity", nan: "NaN")
            let data = try enc.encode(c)
            print(String(decoding: data, as: UTF8.self))
            if let path = json { try AtomicFile.write(data, to: path, creatingFolders: true) }
            if !c.pass { throw ExitCode(1) }
        }
    }
}
