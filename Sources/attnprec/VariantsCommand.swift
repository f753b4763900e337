import AttentionVariants
import ArgumentParser
import DriftStudy
import NumberFormats

struct VariantsCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "variants",
        abstract: "The attention variants this build implements.",
        subcommands: [List.self, Show.self])

    struct List: ParsableCommand {
        static let configuration = CommandConfiguration(
            abstract: "Name, family, forms, recipe roles, and KV-cache bytes per token under a recipe.",
            discussion: """
                Cache bytes are per token of the variant's default workload (softmax family; \
                4-byte compute precision for roles the recipe leaves out); recurrent variants \
                keep a state instead (—). A recipe role a variant lacks shows as 'no <role>'.
                """)
        @Option(name: .long, help: "Precision recipe role=SPEC[,role=SPEC…], e.g. k_cache=float8_e4m3fn/per-token.") var recipe: String = ""

        func run() throws {
            let r: Recipe
            do { r = try Recipe.parse(recipe) } catch { throw InputError("--recipe: \(error)") }
            var rows = [["variant", "family", "forms", "roles", "cache bytes/token"]]
            for e in VariantRegistry.all {
                var bytes = "—"
                if let bad = r.roles.first(where: { !e.roles.contains($0) }) {
                    bytes = "no \(bad.rawValue)"
                } else if let b = (try? e.instance(VariantParameters()))?.cacheBytesPerToken(recipe: r) {
                    bytes = b == b.rounded() ? String(Int(b)) : String(b)
                }
                rows.append([e.name, e.family.rawValue, e.forms.joined(separator: ", "), e.roles.map(\.rawValue).joined(separator: ", "), bytes])
            }
            print(FormatTables.markdownTable(rows))
        }
    }

    struct Show: ParsableCommand {
        static let configuration = CommandConfiguration(
            abstract: "One variant: its math, family, forms, roles, presets, and the tensors replay expects.")
        @Argument(help: "Variant name (e.g. gated_deltanet).") var name: String

        func run() throws {
            let e: any VariantDefinition
            do { e = try VariantRegistry.named(name) } catch { throw InputError("\(error)") }
            var out = "\(e.name) (\(e.family) family)\n"
            out += "math:   \(e.math)\n"
            out += "forms:  \(e.forms.joined(separator: ", "))\n"
            out += "roles:  \(e.roles.map(\.rawValue).joined(separator: ", "))\n"
            let presets = e.presets.map { "\($0.name) — \($0.summary)" }
            out += "presets:" + (presets.isEmpty ? " none" : "\n" + presets.map { "  " + $0 }.joined(separator: "\n")) + "\n"
            if let tensors = e.replayTensors {
                out += "replay tensors (recurrent form; a .safetensors file or a folder of NAME.npy; optional leading batch 1):\n"
                var rows = [["tensor", "shape", "meaning"]]
                for t in tensors { rows.append([t.name, t.shape, t.meaning]) }
                out += FormatTables.markdownTable(rows)
            } else {
                out += "replay: not supported yet for \(e.name) (supported: \(Replay.supported.joined(separator: ", ")))\n"
            }
            print(out, terminator: out.hasSuffix("\n") ? "" : "\n")
        }
    }
}
