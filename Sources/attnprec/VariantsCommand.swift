import AttentionVariants
import ArgumentParser
import NumberFormats

struct VariantsCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "variants",
        abstract: "The attention variants this build implements.",
        subcommands: [List.self])

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
            for e in VariantCatalog.entries {
                var bytes = "—"
                if let bad = r.roles.first(where: { !e.roles.contains($0) }) {
                    bytes = "no \(bad.rawValue)"
                } else if let b = SoftmaxFamily.cacheBytesPerToken(e.name, recipe: r) {
                    bytes = b == b.rounded() ? String(Int(b)) : String(b)
                }
                rows.append([e.name, e.family, e.forms.joined(separator: ", "), e.roles.map(\.rawValue).joined(separator: ", "), bytes])
            }
            print(FormatTables.markdownTable(rows))
        }
    }
}
