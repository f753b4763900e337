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

    struct Show: ParsableCommand {
        static let configuration = CommandConfiguration(
            abstract: "One variant: its math, family, forms, roles, presets, and the tensors replay expects.")
        @Argument(help: "Variant name (e.g. gated_deltanet).") var name: String

        /// One line of math per variant (DESIGN.md §4).
        static let math: [String: String] = [
            "mha": "o = softmax(q·Kᵀ/√d) V per head, growing KV cache (one KV head per query head)",
            "gqa": "o = softmax(q·Kᵀ/√d) V, each KV head shared by HQ/HKV query heads",
            "mqa": "o = softmax(q·Kᵀ/√d) V, one KV head shared by every query head",
            "swa": "o = softmax over the last W keys (plus sink tokens and an optional sink logit)",
            "mla": "latent cache c_t (+ RoPE key); k, v = up-projections of c; o = softmax(q·kᵀ/√d) v",
            "dsa": "MLA attending only to the top-k keys chosen by a lightning indexer",
            "moba": "softmax over the blocks whose mean key scores highest (plus the current block)",
            "nsa": "compressed + selected-block + sliding-window softmax branches, gated",
            "linear": "S_t = α S_{t−1} + k_t v_tᵀ, o_t = S_tᵀ (q_t/√K)",
            "retnet": "S_t = γ_h S_{t−1} + k_t v_tᵀ, γ_h = 1 − 2^(−5−h)",
            "lightning": "S_t = λ_h S_{t−1} + k_t v_tᵀ, λ_h = exp(−slope_h·(1 − l/(L−1)))",
            "gla": "S_t = Diag(α_t) S_{t−1} + k_t v_tᵀ, α_t = exp(logsigmoid(x_t)/16) per channel",
            "mamba2": "h_t = exp(Δ_t A) h_{t−1} + Δ_t B_t x_tᵀ, y_t = h_tᵀ C_t + D x_t, Δ = softplus(dt + dt_bias)",
            "deltanet": "S_t = (I − β_t k_t k_tᵀ) S_{t−1} + β_t k_t v_tᵀ, o_t = S_tᵀ q_t",
            "gated_deltanet": "S_t = α_t (I − β_t k_t k_tᵀ) S_{t−1} + β_t k_t v_tᵀ, α_t = exp(g_t)",
            "kda": "S_t = (I − β_t k_t k_tᵀ) Diag(α_t) S_{t−1} + β_t k_t v_tᵀ, α_t = exp(g_t) ∈ (0,1]^K",
            "rwkv7": "S_t = S_{t−1}(Diag(w_t) − κ̂_tᵀ(a_t ⊙ κ̂_t)) + v_tᵀ k_t, o_t = S_t r_t",
        ]

        func run() throws {
            let e: VariantCatalog.Entry
            do { e = try VariantCatalog.entry(name) } catch { throw InputError("\(error)") }
            var out = "\(e.name) (\(e.family) family)\n"
            out += "math:   \(Self.math[e.name] ?? "—")\n"
            out += "forms:  \(e.forms.joined(separator: ", "))\n"
            out += "roles:  \(e.roles.map(\.rawValue).joined(separator: ", "))\n"
            var presets: [String] = []
            for p in SoftmaxCatalog.presets where p.variant == e.name { presets.append("\(p.name) — \(p.summary)") }
            for p in SoftmaxFamily.mlaPresets where p.variant == e.name { presets.append("\(p.name) — \(p.summary)") }
            for p in DeltaPreset.all where p.kind.rawValue == e.name {
                presets.append("\(p.name) — \(p.keyHeads) key heads, \(p.valueHeads) value heads, K=\(p.keyDim), V=\(p.valueDim), gates \(p.gates)")
            }
            out += "presets:" + (presets.isEmpty ? " none" : "\n" + presets.map { "  " + $0 }.joined(separator: "\n")) + "\n"
            if let tensors = Replay.tensors(e.name) {
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
