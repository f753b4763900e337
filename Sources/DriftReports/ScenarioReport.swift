import AttentionVariants
import DriftStudy
import ServingScenarios
import Foundation
import NumberFormats

/// The report of a scenario or task run (`report.md` + `plots/*.svg`), from its records alone.
public enum ScenarioReport {
    /// Writes `report.md` and the plots into `dir`; returns the report path.
    @discardableResult
    public static func write(records: [ScenarioRecord], runInfo: RunInfo?, to dir: String, title: String) throws -> String {
        try AtomicFile.createFolder("\(dir)/plots")
        var md = ""
        var plots: [(String, SVGPlot)] = []
        let records = records.sorted { $0.key < $1.key }
        for scenario in Array(Set(records.map(\.scenario))).sorted() {
            let rs = records.filter { $0.scenario == scenario }
            switch scenario {
            case "mqar": md += mqar(rs, plots: &plots)
            case "counter": md += counter(rs, plots: &plots)
            case "needle": md += needle(rs)
            case "prefix_cache": md += prefixCache(rs, plots: &plots)
            case "handoff": md += handoff(rs, plots: &plots)
            case "gates": md += gates(rs, plots: &plots)
            case "speculative": md += speculative(rs, plots: &plots)
            case "delethink": md += delethink(rs, plots: &plots)
            case "reproduce": md += reproduce(rs)
            case "p_cast": md += pCast(rs)
            default: md += "## \(scenario)\n\n\(rs.count) records (no section for this scenario).\n\n"
            }
        }
        for (name, plot) in plots {
            try AtomicFile.write(Data(plot.render().utf8), to: "\(dir)/plots/\(name)", creatingFolders: true)
        }
        md += reproduction(runInfo, dir: dir)
        md = MarkdownTable.fitting(ScenarioGlance.page(title: title, sections: md, records: records))
        let path = "\(dir)/report.md"
        try AtomicFile.write(Data(md.utf8), to: path, creatingFolders: true)
        return path
    }

    /// Recipes from the most to the least precise state format (the exact run first; a
    /// stochastic variant after its round-to-nearest twin), ties by name.
    static func recipeOrder(_ rs: [ScenarioRecord]) -> [String] {
        let names = Array(Set(rs.map(\.recipeName)))
        let order = ["float32", "float16", "bfloat16", "int8", "float8_e4m3", "float8_e5m2", "int4"]
        func rank(_ n: String) -> (Int, Int, String) {
            if rs.first(where: { $0.recipeName == n })?.recipe.isEmpty ?? true { return (0, 0, n) }
            let spec = rs.first { $0.recipeName == n }?.recipe["state"] ?? ""
            let i = order.firstIndex { spec.hasPrefix($0) } ?? order.count
            return (1 + i, spec.contains("stochastic") ? 1 : 0, spec + n)
        }
        return names.sorted { rank($0) < rank($1) }
    }

    static func percent(_ x: Double?) -> String {
        guard let x else { return "–" }
        if x.isNaN { return "NaN" }
        let p = 100 * x
        return p == 100 ? "100" : (p >= 99.95 ? "99.9" : String(format: "%.1f", p))
    }

    static func mqar(_ rs: [ScenarioRecord], plots: inout [(String, SVGPlot)]) -> String {
        let order = recipeOrder(rs)
        let lengths = Array(Set(rs.flatMap { r in r.summary.keys.compactMap { $0.hasPrefix("accuracy_at_") ? Int($0.dropFirst(12)) : nil } })).sorted()
        let pairs = Array(Set(rs.compactMap { $0.parameters["pairs"] })).sorted()
        let first = rs[0]
        var md = "## MQAR: multi-query associative recall through a stored state\n\n"
        md += "Keys are orthonormal (rows of a \(first.parameters["key_dim"] ?? 0)-point Hadamard matrix), values are words of a \(first.parameters["codebook"] ?? 0)-word Gaussian codebook (dimension \(first.parameters["value_dim"] ?? 0)). The pairs are written first; every later token is a distractor written under an unused key, so in exact arithmetic every pair stays stored exactly and any recall loss is storage error. At length L the stored state is queried with each pair's key and the decision is the argmax over the codebook of ⟨Sᵀk, c⟩; **accuracy** is the fraction of correct decisions (%). Query distance = L − position of the pair. The state is stored in the recipe's format after every token (Float32 compute, as real kernels); `exact-float64` is the same memory in Float64 without rounding.\n\n"
        var losing: [String: [String]] = [:]
        for memory in Array(Set(rs.map(\.memory))).sorted() {
            md += "### \(memory == TaskMemory.Kind.deltanet.rawValue ? "Delta-rule memory (DeltaNet, β = 1)" : "Linear-attention memory (undecayed)")\n\n"
            md += "| recipe | state format |" + pairs.flatMap { p in lengths.map { " \(p) pairs @\($0) |" } }.joined() + "\n"
            md += "|---|---|" + String(repeating: "---:|", count: pairs.count * lengths.count) + "\n"
            for name in order {
                let row = rs.filter { $0.memory == memory && $0.recipeName == name }
                guard let any = row.first else { continue }
                var cells: [String] = []
                for p in pairs {
                    let r = row.filter { $0.parameters["pairs"] == p }
                    for L in lengths {
                        let accs = r.compactMap { $0.summary["accuracy_at_\(L)"] }
                        let worst = accs.isEmpty ? nil : accs.reduce(1.0) { Swift.min($0, $1.isNaN ? -1 : $1) }
                        if let worst, !(worst >= 1) { losing[memory, default: []].append(name) }
                        let text = percent(worst.map { $0 < 0 ? .nan : $0 })
                        cells.append(worst.map { $0 < 1 ? "**\(text)**" : text } ?? text)
                    }
                }
                md += "| \(name) | \(any.recipe["state"] ?? "float64 (exact)") | " + cells.joined(separator: " | ") + " |\n"
            }
            let names = Array(Set(losing[memory] ?? [])).sorted { order.firstIndex(of: $0)! < order.firstIndex(of: $1)! }
            md += "\nBelow 100% somewhere: \(names.isEmpty ? "none" : names.map { "`\($0)`" }.joined(separator: ", ")) (bold cells). With several seeds a cell shows the worst.\n\n"
            // The decision is scale-invariant (equal-norm codewords), so a readout that is right
            // in direction but wrong in size still recalls: the readout error shows the size.
            let longest = lengths.last ?? 0
            md += "RMS readout error ‖Sᵀk − v‖/‖v‖ over the pairs at \(longest) tokens (the decision only needs the direction of Sᵀk, so a recipe can recall every pair while its readout is far off in size):\n\n"
            md += "| recipe |" + pairs.map { " \($0) pairs |" }.joined() + "\n|---|" + String(repeating: "---:|", count: pairs.count) + "\n"
            for name in order {
                let row = rs.filter { $0.memory == memory && $0.recipeName == name }
                guard !row.isEmpty else { continue }
                md += "| \(name) |" + pairs.map { p in " \(StudyReport.sci(row.first { $0.parameters["pairs"] == p }?.value("readout_rel_err", at: longest))) |" }.joined() + "\n"
            }
            md += "\n"
            // Plot: readout error of the largest pair count against length.
            let p = pairs.last!
            var plot = SVGPlot(title: "MQAR \(memory), \(p) pairs: readout error", xLabel: "length L (tokens)", yLabel: "RMS ‖Sᵀk − v‖/‖v‖")
            for (c, name) in order.enumerated() {
                guard let r = rs.first(where: { $0.memory == memory && $0.recipeName == name && $0.parameters["pairs"] == p }),
                      let e = r.series["readout_rel_err"] else { continue }
                plot.series.append(SVGPlot.Series(label: name, points: zip(r.positions, e).map { (Double($0), $1) }, color: c))
            }
            let file = "mqar-\(memory)-readout.svg"
            plots.append((file, plot))
            md += "![\(file)](plots/\(file))\n\n"
        }
        return md
    }

    static func needle(_ rs: [ScenarioRecord]) -> String {
        let order = recipeOrder(rs)
        let lengths = Array(Set(rs.flatMap(\.positions))).sorted()
        let depths = Array(Set(rs.compactMap { $0.parameters["depth"] })).sorted()
        let first = rs[0]
        var md = "## Needle (passkey) at a depth\n\n"
        md += "One needle (its own Hadamard key, a word of a \(first.parameters["codebook"] ?? 0)-word codebook) is written at depth d% of a context of L tokens; every other token is a distractor under one of the other \((first.parameters["key_dim"] ?? 1) - 1) keys; at L the needle's key is queried (argmax over the codebook). Cells: % of \(first.parameters["trials"] ?? 0) needles recalled (each with its own keys, word and distractors), state stored in the recipe's format after every token.\n\n"
        for memory in Array(Set(rs.map(\.memory))).sorted() {
            md += "### \(memory == TaskMemory.Kind.deltanet.rawValue ? "Delta-rule memory (DeltaNet, β = 1)" : "Linear-attention memory (undecayed)")\n\n"
            md += "| recipe |" + depths.flatMap { d in lengths.map { " \(d)% @\($0) |" } }.joined() + "\n|---|" + String(repeating: "---:|", count: depths.count * lengths.count) + "\n"
            for name in order {
                let row = rs.filter { $0.memory == memory && $0.recipeName == name }
                guard !row.isEmpty else { continue }
                var cells: [String] = []
                for d in depths {
                    let r = row.first { $0.parameters["depth"] == d }
                    for L in lengths {
                        let a = r?.value("accuracy", at: L)
                        let text = percent(a)
                        cells.append(a.map { $0 < 1 ? "**\(text)**" : text } ?? text)
                    }
                }
                md += "| \(name) | " + cells.joined(separator: " | ") + " |\n"
            }
            md += "\n"
        }
        return md
    }

    static func counter(_ rs: [ScenarioRecord], plots: inout [(String, SVGPlot)]) -> String {
        let order = recipeOrder(rs)
        let lengths = Array(Set(rs.flatMap { r in r.summary.keys.compactMap { $0.hasPrefix("accuracy_at_") ? Int($0.dropFirst(12)) : nil } })).sorted()
        var md = "## Counter: how far a stored state counts exactly\n\n"
        md += "A 1×1 linear-attention memory with k = v = q = 1 adds one per token (Float32 compute, state stored in the recipe's format after every token). A count is exact when the stored state equals the number of tokens so far. **exact to** is the largest n for which every count 1…n was exact; accuracy is the fraction of exact counts up to L.\n\n"
        md += "| recipe | state format | exact to |" + lengths.map { " accuracy @\($0) |" }.joined() + " stored count @\(rs[0].tokens) |\n"
        md += "|---|---|---:|" + String(repeating: "---:|", count: lengths.count) + "---:|\n"
        var plot = SVGPlot(title: "Counter: |stored count − t|", xLabel: "t (tokens)", yLabel: "absolute count error")
        for (c, name) in order.enumerated() {
            for r in rs where r.recipeName == name {
                md += "| \(name) | \(r.recipe["state"] ?? "float64 (exact)") | \(r.summary["exact_to"].map { String(Int($0)) } ?? "–") |"
                md += lengths.map { " \(percent(r.summary["accuracy_at_\($0)"])) |" }.joined()
                md += " \(r.summary["final_count"].map { StudyJSON.number($0) } ?? "–") |\n"
                if let e = r.series["count_abs_err"] {
                    plot.series.append(SVGPlot.Series(label: name, points: zip(r.positions, e).map { (Double($0), $1) }, color: c))
                }
            }
        }
        plots.append(("counter.svg", plot))
        md += "\nZero count errors are not drawn on the log scale.\n\n![counter.svg](plots/counter.svg)\n\n"
        return md
    }

    static func prefixCache(_ rs: [ScenarioRecord], plots: inout [(String, SVGPlot)]) -> String {
        let order = recipeOrder(rs)
        let first = rs[0]
        let P = first.parameters["prefix"] ?? 0, L = first.parameters["continuation"] ?? 0, N = first.parameters["requests"] ?? 0
        var md = "## Prefix caching: resuming from a checkpoint stored in the pool format\n\n"
        md += "A shared prefix of \(P) tokens is processed once (state stored in the recipe's `state` format after every token, Float32 compute). \(N) continuations branch off at counter-random points p ∈ [⌈P/2⌉, \(P)], resume from the latest checkpoint c ≤ p (the state at c stored in the `checkpoint` format, then c…p recomputed) and decode \(L) tokens. For softmax variants the KV cache takes the state's part: the checkpoint holds the cache entries 0…c−1 as the live cache held them, stored in the `checkpoint` format (one block per KV head and stream: per-token scales per entry, per-head scales over the block); the continuation reads those entries and appends c…p and its own in the live cache format (`k_cache`, `v_cache`; column *state/cache*). Mode `all` keeps a checkpoint every I tokens; `last` only the last aligned block ⌊P/I⌋·I of the prefix, so earlier branches recompute from the start. Columns: mean over continuations of the mean output error ‖o − ô‖/‖o‖ over their \(L) tokens against the exact (Float64) run — resumed, and for the same positions the low-precision run that never went through a checkpoint — their ratio, and the checkpoint's own effect (distance between the resumed and the uncheckpointed run).\n\n"
        let exact = rs.filter { $0.recipe.isEmpty }
        if !exact.isEmpty {
            let worst = exact.flatMap { ($0.series["resumed_err"] ?? []) + ($0.series["checkpoint_delta"] ?? []) }.reduce(0.0) { Swift.max($0, $1.isNaN ? .infinity : $1) }
            md += "Neutrality: the Float64 run resumed through full-precision checkpoints (`\(exact[0].recipeName)`, \(exact.count) records) differs from the uninterrupted exact run by at most \(StudyReport.sci(worst)).\n\n"
        }
        for memory in Array(Set(rs.map(\.memory))).sorted() {
            md += "### \(memory)\n\n| recipe | state/cache | checkpoint | interval | mode | resumed | err resumed | err uncheckpointed | ratio | checkpoint Δ |\n|---|---|---|---:|---|---:|---:|---:|---:|---:|\n"
            var plot = SVGPlot(title: "Prefix caching, \(memory): continuation error vs checkpoint interval", xLabel: "checkpoint interval I (tokens)", yLabel: "mean output error of continuations")
            for (ci, name) in order.enumerated() {
                let row = rs.filter { $0.memory == memory && $0.recipeName == name && !$0.recipe.isEmpty }
                    .sorted { ($0.parameters["interval"] ?? 0, $0.labels["mode"] ?? "") < ($1.parameters["interval"] ?? 0, $1.labels["mode"] ?? "") }
                for r in row {
                    let e = r.summary["mean_resumed_err"], u = r.summary["mean_uncheckpointed_err"]
                    let ratio = (e != nil && u != nil && u! > 0) ? String(format: "%.2f", e! / u!) : "–"
                    md += "| \(name) | \(storeColumn(r.recipe)) | \(r.recipe["checkpoint"] ?? "compute") | \(r.parameters["interval"] ?? 0) | \(r.labels["mode"] ?? "") | \(Int(r.summary["hits"] ?? 0))/\(r.parameters["requests"] ?? 0) | \(StudyReport.sci(e)) | \(StudyReport.sci(u)) | \(ratio) | \(StudyReport.sci(r.summary["mean_checkpoint_delta"])) |\n"
                }
                for (mi, mode) in ["all", "last"].enumerated() {
                    let pts = row.filter { $0.labels["mode"] == mode }.compactMap { r in r.summary["mean_resumed_err"].map { (Double(r.parameters["interval"] ?? 0), $0) } }
                    if !pts.isEmpty { plot.series.append(SVGPlot.Series(label: "\(name) (\(mode))", points: pts, color: ci, dashed: mi == 1)) }
                }
            }
            let quarters = rs.filter { $0.memory == memory && !$0.recipe.isEmpty && $0.summary["checkpoint_delta_first_quarter"] != nil && $0.labels["mode"] == "all" }
            if !quarters.isEmpty {
                md += "\nCheckpoint Δ over the first and the last quarter of the continuations (mode `all`): whether the checkpoint's effect grows as the continuation appends entries of its own.\n\n| recipe | interval | Δ first quarter | Δ last quarter |\n|---|---:|---:|---:|\n"
                for name in order {
                    for r in quarters.filter({ $0.recipeName == name }).sorted(by: { ($0.parameters["interval"] ?? 0) < ($1.parameters["interval"] ?? 0) }) {
                        md += "| \(name) | \(r.parameters["interval"] ?? 0) | \(StudyReport.sci(r.summary["checkpoint_delta_first_quarter"])) | \(StudyReport.sci(r.summary["checkpoint_delta_last_quarter"])) |\n"
                    }
                }
            }
            let file = "prefix-cache-\(StudyReport.slug(memory)).svg"
            plots.append((file, plot))
            md += "\n![\(file)](plots/\(file))\n\n"
        }
        return md
    }

    /// Where a record's recipe stores the run's memory: the state, or the KV cache (`k/v`
    /// when the two caches differ).
    static func storeColumn(_ recipe: [String: String]) -> String {
        if let s = recipe["state"] { return s }
        let k = recipe["k_cache"], v = recipe["v_cache"]
        if k == nil && v == nil { return "compute" }
        if k == v { return "cache \(k!)" }
        return "cache \(k ?? "compute")/\(v ?? "compute")"
    }

    static func handoff(_ rs: [ScenarioRecord], plots: inout [(String, SVGPlot)]) -> String {
        let order = recipeOrder(rs)
        let first = rs[0]
        let P = first.parameters["prefill"] ?? 0, D = first.parameters["decode"] ?? 0
        var md = "## Chunked prefill → decode handoff\n\n"
        md += "The first \(P) tokens run through the chunked form (chunk \(first.parameters["chunk"] ?? 0); per-chunk state copies in `chunk_state` format, the carried state stored in `state` format at chunk ends), then the state is handed to the recurrent form, stored in `state` format, and \(D) tokens are decoded with the state stored every step. Output error ‖o − ô‖/‖o‖ against the exact recurrent run (Float64): **before**/**after** are the handoff run's mean over the \(16) tokens before / from the handoff, **jump** their ratio; **end** is the mean over the last 64 tokens of the handoff, decode-only and prefill-only runs. Float32 compute.\n\n"
        if rs.contains(where: { KVReportNames.softmax.contains($0.memory.split(separator: " ").first.map(String.init) ?? "") }) {
            md += "For softmax variants the chunked form is FlashAttention-2's blocked forward pass (blocks of 64 queries × 64 keys, each chunk appended to the KV cache at once) and the decode form an online softmax over the cache, one key at a time; at the handoff the decode form takes over the prefill's caches as they are (nothing copied or re-rounded). *Handed-over state err* is then the cache error ‖Ĉ − C‖/‖C‖ over the entries held (k and v).\n\n"
        }
        let exact = rs.filter { $0.recipe.isEmpty }
        if !exact.isEmpty {
            let worst = exact.flatMap { ($0.series["handoff_err"] ?? []) + ($0.series["prefill_only_err"] ?? []) }.reduce(0.0) { Swift.max($0, $1.isNaN ? .infinity : $1) }
            md += "Neutrality: in Float64 without rounding (`\(exact[0].recipeName)`) the handoff and prefill-only runs differ from the exact recurrent run by at most \(StudyReport.sci(worst)) at any recorded position.\n\n"
        }
        for memory in Array(Set(rs.map(\.memory))).sorted() {
            md += "### \(memory)\n\n| recipe | state/cache | chunk_state | handed-over state err | before | after | jump | end: handoff | end: decode-only | end: prefill-only |\n|---|---|---|---:|---:|---:|---:|---:|---:|---:|\n"
            var plot = SVGPlot(title: "Handoff at \(P), \(memory)", xLabel: "position t (tokens)", yLabel: "output relative error")
            for (ci, name) in order.enumerated() {
                guard let r = rs.first(where: { $0.memory == memory && $0.recipeName == name }), !r.recipe.isEmpty else { continue }
                let sm = r.summary
                md += "| \(name) | \(storeColumn(r.recipe)) | \(r.recipe["chunk_state"] ?? "compute") | \(StudyReport.sci(sm["handoff_state_err"])) | \(StudyReport.sci(sm["before"])) | \(StudyReport.sci(sm["after"])) | \(sm["jump"].map { String(format: "%.2f", $0) } ?? "–") | \(StudyReport.sci(sm["end_handoff"])) | \(StudyReport.sci(sm["end_decode_only"])) | \(StudyReport.sci(sm["end_prefill_only"])) |\n"
                let pts = { (k: String) in zip(r.positions, r.series[k] ?? []).map { (Double($0 + 1), $1) } }
                plot.series.append(SVGPlot.Series(label: "\(name) handoff", points: pts("handoff_err"), color: ci))
                plot.series.append(SVGPlot.Series(label: "\(name) decode-only", points: pts("decode_only_err"), color: ci, dashed: true))
            }
            let file = "handoff-\(StudyReport.slug(memory)).svg"
            plots.append((file, plot))
            md += "\nSolid: handoff run; dashed: decode-only.\n\n![\(file)](plots/\(file))\n\n"
        }
        return md
    }

    static func gates(_ rs: [ScenarioRecord], plots: inout [(String, SVGPlot)]) -> String {
        let order = recipeOrder(rs)
        let T = rs[0].tokens
        let forms = Array(Set(rs.compactMap { $0.labels["decay_form"] })).sorted()
        var md = "## Gate and β precision: how much of the drift comes from the gates\n\n"
        md += "Each variant runs with its decay stored as α (`alpha`: α > 1 − 2⁻⁹ = 0.998 rounds to exactly 1 in bf16) or as log α (`log`, what GDN/KDA/Mamba2 kernels pass), under recipes that round only some roles. Cells: output error ‖o − ô‖/‖o‖ at \(T) tokens (mean over the last 64 positions) against the exact Float64 run; **share** = that recipe's error over the error of the recipe that rounds every role the others round (the one whose roles contain all others', when the config has one for the variant). Float32 compute.\n\n"
        for memory in Array(Set(rs.map(\.memory))).sorted() {
            md += "### \(memory)\n\n| recipe | roles |" + forms.map { " err (\($0)) | share (\($0)) |" }.joined() + "\n|---|---|" + String(repeating: "---:|---:|", count: forms.count) + "\n"
            let mine = rs.filter { $0.memory == memory }
            let union = Set(mine.flatMap { $0.recipe.keys })
            let baseline = mine.first { Set($0.recipe.keys) == union }?.recipeName
            var plot = SVGPlot(title: "Gate precision, \(memory)", xLabel: "position t (tokens)", yLabel: "output relative error")
            for (ci, name) in order.enumerated() {
                let row = mine.filter { $0.recipeName == name }
                guard let any = row.first else { continue }
                let roles = any.recipe.keys.sorted().map { "\($0)=\(any.recipe[$0]!)" }.joined(separator: ", ")
                var cells: [String] = []
                for f in forms {
                    let r = row.first { $0.labels["decay_form"] == f }
                    let e = r?.summary["err_at_T"]
                    let all = mine.first { $0.recipeName == baseline && $0.labels["decay_form"] == f }?.summary["err_at_T"]
                    let share = (e != nil && all != nil && all! > 0) ? String(format: "%.2f", e! / all!) : "–"
                    cells.append("\(StudyReport.sci(e)) | \(share)")
                    if let r { plot.series.append(SVGPlot.Series(label: "\(name) (\(f))", points: zip(r.positions, r.series["output_rel_err"] ?? []).map { (Double($0 + 1), $1) }, color: ci, dashed: f == "log")) }
                }
                md += "| \(name) | \(roles.isEmpty ? "none" : roles) | " + cells.joined(separator: " | ") + " |\n"
            }
            let file = "gates-\(StudyReport.slug(memory)).svg"
            plots.append((file, plot))
            md += "\nSolid: α stored; dashed: log α stored.\n\n![\(file)](plots/\(file))\n\n"
        }
        return md
    }

    static func speculative(_ rs: [ScenarioRecord], plots: inout [(String, SVGPlot)]) -> String {
        let order = recipeOrder(rs)
        let first = rs[0]
        var md = "## Speculative decoding: snapshots, accept, roll back\n\n"
        md += "Each cycle snapshots the state (the copy stored in the `snapshot` format), drafts n tokens from the live state, accepts a prefix, restores the snapshot and decodes the accepted tokens plus the correction token again, \(first.tokens) accepted tokens in all. A drafted token is accepted when cos(o_t, w_t) ≥ \(first.labels["threshold"] ?? "?") for a counter-random direction w_t (a stand-in for the target sampling the drafted token); the exact run's decisions set the schedule, and **disagree** counts cycles (and drafted positions) where the quantized run's own decisions would have accepted a different length. State error ‖S − Ŝ‖/‖S‖ at the end against the exact run, for the speculative run and for the same kernel decoding the accepted stream once without snapshots (baseline). Float32 compute.\n\n"
        if rs.contains(where: { $0.summary["rollback_output_delta"] != nil }) {
            md += "For softmax variants nothing is snapshotted: the rollback truncates the KV cache to the accepted length (the drafted entries dropped, the kept ones keep their codes) and the accepted tokens are appended again. Their *state err* is the cache error ‖Ĉ − C‖/‖C‖ over the entries held (k and v); **rollback Δ** is the largest ‖ô_spec − ô_baseline‖/‖ô_baseline‖ at the last accepted token of any cycle, and **output err** the speculative run's output error at the end against the exact run.\n\n"
        }
        let exact = rs.filter { $0.recipe.isEmpty }
        if !exact.isEmpty {
            let worst = exact.flatMap { ($0.series["state_err"] ?? []) + ($0.series["output_err"] ?? []) }.reduce(0.0) { Swift.max($0, $1.isNaN ? .infinity : $1) }
            md += "Neutrality: with Float64 snapshots and no rounding (`\(exact[0].recipeName)`) the speculative run differs from the exact run by at most \(StudyReport.sci(worst)) after any cycle.\n\n"
        }
        for memory in Array(Set(rs.map(\.memory))).sorted() {
            md += "### \(memory)\n\n| recipe | state | snapshot | draft n | cycles | mean accepted | disagree (cycles) | disagree (positions) | state err | baseline state err | ratio |\n|---|---|---|---:|---:|---:|---:|---:|---:|---:|---:|\n"
            for name in order {
                for r in rs.filter({ $0.memory == memory && $0.recipeName == name && !$0.recipe.isEmpty }).sorted(by: { ($0.parameters["draft"] ?? 0) < ($1.parameters["draft"] ?? 0) }) {
                    let sm = r.summary
                    md += "| \(name) | \(storeColumn(r.recipe)) | \(r.recipe["snapshot"] ?? (r.summary["rollback_output_delta"] != nil ? "– (truncate)" : "compute")) | \(r.parameters["draft"] ?? 0) | \(Int(sm["cycles"] ?? 0)) | \(sm["mean_accepted"].map { String(format: "%.2f", $0) } ?? "–") | \(percent(sm["disagree_cycles"]))% | \(percent(sm["disagree_positions"]))% | \(StudyReport.sci(sm["final_state_err"])) | \(StudyReport.sci(sm["final_baseline_state_err"])) | \(sm["ratio"].map { String(format: "%.2f", $0) } ?? "–") |\n"
                }
            }
            let kv = rs.filter { $0.memory == memory && !$0.recipe.isEmpty && $0.summary["rollback_output_delta"] != nil }
            if !kv.isEmpty {
                md += "\n| recipe | draft n | rollback Δ | cache bytes Δ | output err |\n|---|---:|---:|---:|---:|\n"
                for name in order {
                    for r in kv.filter({ $0.recipeName == name }).sorted(by: { ($0.parameters["draft"] ?? 0) < ($1.parameters["draft"] ?? 0) }) {
                        md += "| \(name) | \(r.parameters["draft"] ?? 0) | \(StudyReport.sci(r.summary["rollback_output_delta"])) | \(Int(r.summary["rollback_bytes_delta"] ?? 0)) | \(StudyReport.sci(r.summary["final_output_err"])) |\n"
                    }
                }
            }
            md += "\n"
        }
        return md
    }

    /// Bytes as B, KB, MB (powers of 1000: the numbers are sizes, not pages).
    static func bytes(_ x: Double?) -> String {
        guard let x else { return "–" }
        if x >= 1e6 { return String(format: "%.2f MB", x / 1e6) }
        if x >= 1e3 { return String(format: "%.1f KB", x / 1e3) }
        return String(format: "%.0f B", x)
    }

    static func delethink(_ rs: [ScenarioRecord], plots: inout [(String, SVGPlot)]) -> String {
        let order = recipeOrder(rs)
        let first = rs[0]
        let lengths = Array(Set(first.summary.keys.compactMap { k -> Int? in
            k.hasPrefix("cache_bytes_at_") ? Int(k.dropFirst("cache_bytes_at_".count)) : nil
        })).sorted()
        let equal = (first.labels["equal_memory"] ?? "").split(separator: ",").map(String.init)
        var md = "## Delethink: reasoning in chunks with a carried tail\n\n"
        md += "Generation proceeds in chunks of L tokens; at every chunk boundary the KV cache is cut to its last m entries (plus the first s = \(first.parameters["sinks"] ?? 0) tokens, the part Delethink's kept prompt plays) and the next chunk attends only to what was kept and its own tokens. The cache holds at most s + m + L entries (**peak**); plain full attention holds T. Output error ‖o − ô‖/‖o‖ at T = the mean over the last min(64, T/16) positions: **storage** — the Delethink run with the recipe's cache against the exact Delethink run; **truncation** — the Delethink run against plain full attention at the same precision (**exact**: both in Float64, what cutting the cache costs by itself); **full storage** — full attention with the recipe's cache against exact full attention; **dropped mass** — the attention mass exact full attention puts on keys the Delethink run no longer holds (query head 0). **Equal memory**: \(equal.isEmpty ? "none" : equal.joined(separator: ", ")) with a square state K = V = N stored in the recipe's format, N the largest whose state bytes do not exceed the Delethink run's peak cache bytes, against its own exact run (Float64). Float32 compute; the `store` format is the KV cache's (k and v) and the equal-memory state's; float32 keeps the cache unrounded at 4 bytes per element.\n\n"
        let exact = rs.filter { $0.recipe.isEmpty }
        if !exact.isEmpty {
            md += "The inputs are position-independent Gaussians: full attention spreads its mass over the whole context, so dropping keys costs O(1) here — the worst case for truncation. Models trained for Delethink concentrate attention on the carried tail; the dropped-mass column says how much a workload puts outside it.\n\n"
        }
        for memory in Array(Set(rs.map(\.memory))).sorted() {
            let mine = rs.filter { $0.memory == memory }
            let pairs = Array(Set(mine.map { [$0.parameters["chunk"] ?? 0, $0.parameters["tail"] ?? 0] })).sorted { ($0[0], $0[1]) < ($1[0], $1[1]) }
            for T in lengths {
                md += "### \(memory), T = \(T)\n\n| recipe | cache | L | m | peak cache | cache @T | full cache @T | storage | truncation | truncation (exact) | dropped mass | full storage |"
                md += equal.map { " \($0): N | state | err |" }.joined() + "\n|---|---|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|" + String(repeating: "---:|---:|---:|", count: equal.count) + "\n"
                for name in order {
                    for pair in pairs {
                        guard let r = mine.first(where: { $0.recipeName == name && $0.parameters["chunk"] == pair[0] && $0.parameters["tail"] == pair[1] }) else { continue }
                        let sm = r.summary
                        let cache = r.recipe["k_cache"] ?? (r.recipe.isEmpty ? "float64 (exact)" : "float32")
                        md += "| \(name) | \(cache) | \(pair[0]) | \(pair[1]) | \(bytes(sm["cache_bytes_peak_at_\(T)"])) | \(bytes(sm["cache_bytes_at_\(T)"])) | \(bytes(sm["full_cache_bytes_at_\(T)"])) | \(StudyReport.sci(sm["storage_err_at_\(T)"])) | \(StudyReport.sci(sm["truncation_err_at_\(T)"])) | \(StudyReport.sci(sm["truncation_exact_err_at_\(T)"])) | \(sm["dropped_mass_at_\(T)"].map { String(format: "%.3f", $0) } ?? "–") | \(StudyReport.sci(sm["full_storage_err_at_\(T)"])) |"
                        for e in equal {
                            md += " \(sm["equal_\(e)_dim"].map { String(Int($0)) } ?? "–") | \(bytes(sm["equal_\(e)_bytes"])) | \(StudyReport.sci(sm["equal_\(e)_err_at_\(T)"])) |"
                        }
                        md += "\n"
                    }
                }
                md += "\n"
            }
            md += "The equal-memory state is sized to the peak cache over the whole run (\(first.tokens) tokens); its error is at T.\n\n"
            for pair in pairs {
                var plot = SVGPlot(title: "Delethink L=\(pair[0]), m=\(pair[1]), \(memory)", xLabel: "position t (tokens)", yLabel: "output relative error")
                for (ci, name) in order.enumerated() {
                    guard let r = mine.first(where: { $0.recipeName == name && $0.parameters["chunk"] == pair[0] && $0.parameters["tail"] == pair[1] }), !r.recipe.isEmpty else { continue }
                    let pts = { (k: String) in zip(r.positions, r.series[k] ?? []).map { (Double($0 + 1), $1) }.filter { $0.1 > 0 } }
                    plot.series.append(SVGPlot.Series(label: "\(name) Delethink storage", points: pts("storage_err"), color: ci))
                    if let e = equal.first { plot.series.append(SVGPlot.Series(label: "\(name) \(e) (equal memory)", points: pts("equal_\(e)_err"), color: ci, dashed: true)) }
                }
                let file = "delethink-\(StudyReport.slug(memory))-L\(pair[0])-m\(pair[1]).svg"
                plots.append((file, plot))
                md += "![\(file)](plots/\(file))\n\n"
            }
            md += "Solid: the Delethink run's storage error; dashed: the equal-memory recurrent state's error.\n\n"
        }
        return md
    }

    static func reproduction(_ info: RunInfo?, dir: String) -> String {
        var md = "## Reproduction\n\nEvery number above comes from `results.jsonl` beside this file.\n\n"
        guard let info else { return md + "No run.json was found beside the results.\n" }
        md += info.reproductionBullets
        md += "- wall time: \(String(format: "%.1f", info.wallSeconds)) s for \(info.records) records, started \(info.started)\n"
        return md
    }
}

/// Softmax variant names as records label their memory.
enum KVReportNames {
    static var softmax: Set<String> { Set(VariantRegistry.names(with: .kvCache)) }
}

extension ScenarioReport: Reporter {}
