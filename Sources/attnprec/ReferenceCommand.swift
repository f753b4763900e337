import AttentionVariants
import ArgumentParser
import ExactArithmetic
import Foundation
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
        @Option(name: .long, parsing: .unconditional, help: "Prefix length compared with MPFR at P bits.") var tokens: Int = 2048
        @Option(name: .long, parsing: .unconditional, help: "MPFR precision P in bits.") var bits: Int = 128
        @Option(name: .long, help: "Fast tier: float64 or double-double.") var tier: String = "float64"
        @Option(name: .long, help: "Also write the result as JSON to FILE.") var json: String?

        func run() throws {
            guard ["recurrent", "chunked"].contains(form) else {
                throw InputError("--form: expected recurrent or chunked, got '\(form)'")
            }
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
    }
}
