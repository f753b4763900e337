import DriftStudy
import Foundation

extension StudyPages {
    /// Softmax-family metrics beside the output error: the stored cache's own error, the KL
    /// divergence of the attention distribution, the top-k overlap of sparse selections.
    static func diagnostics(_ records: [StudyRecord], legend: ParameterLegend, order: [String: Int]) -> String {
        let rs = StudyReport.longest(records).filter { $0.summary.cacheRelErr != nil }.sorted {
            let a = StudyReport.instance($0), b = StudyReport.instance($1)
            return a != b ? a < b : (order[$0.recipeName] ?? 0, $0.workload.seed) < (order[$1.recipeName] ?? 0, $1.workload.seed)
        }
        guard !rs.isEmpty else { return "" }
        var md = "# KV cache diagnostics\n\nFor cache variants at their longest length T: **cache**, the relative error of the stored cache entries themselves (‖Ĉ − C‖/‖C‖); **KL**, the divergence KL(p ‖ p̂) of query head 0's attention distribution at the last position; **cos**, the smallest output cosine similarity; for sparse variants **top-k** and **min**, the mean and smallest overlap of the selected keys with the exact selection over the positions where the selection left keys out (– where it never did); **err**, the output error at T.\n\n"
        for w in Array(Set(rs.map(\.workload.name))).sorted() {
            let mine = rs.filter { $0.workload.name == w }
            var table = MarkdownTable(["variant", "recipe", "T", "cache", "KL", "cos", "top-k", "min", "err"], align: [.left, .left] + Array(repeating: .right, count: 7))
            for r in mine {
                let cos = r.summary.minCosine.map { $0.isNaN ? "NaN" : String(format: "%.6f", $0) } ?? "–"
                let ov = { (x: Double?) in x.map { String(format: "%.4f", $0) } ?? "–" }
                table.rows.append([legend.label(r), r.recipeName, Compact.tokens(r.tokens), Compact.sci(r.summary.cacheRelErr), Compact.sci(r.summary.attentionKL), cos,
                                   ov(r.summary.topkOverlapMean), ov(r.summary.topkOverlapMin), Compact.sci(r.summary.errorAt.last?.outputRelErr)])
            }
            table.dropEmptyColumns()
            md += "## \(w) inputs\n\n" + table.render() + "\n" + legend.footnote(mine)
        }
        return md
    }

    /// With several seeds: the spread of the error at the end per (instance, recipe, workload,
    /// length), and the worst seed (what budgets use).
    static func seedSpread(_ records: [StudyRecord], legend: ParameterLegend) -> String {
        let groups = Dictionary(grouping: records, by: { "\(StudyReport.instance($0))|\($0.recipeName)|\($0.workload.name)|\($0.tokens)" })
            .filter { Set($0.value.map(\.workload.seed)).count > 1 }.sorted { $0.key < $1.key }
        guard !groups.isEmpty else { return "" }
        let md = "# Seed spread\n\nThe output error at the end over the seeds of each combination; budgets judge the worst seed.\n\n"
        var table = MarkdownTable(["variant", "recipe", "inputs", "T", "seeds", "min", "median", "max", "worst"], align: [.left, .left, .left] + Array(repeating: .right, count: 6))
        for (_, rs) in groups {
            let e = rs.map { ($0.workload.seed, $0.summary.errorAt.last?.outputRelErr ?? .nan) }
            let sorted = e.map { $0.1.isNaN ? Double.infinity : $0.1 }.sorted()
            let worst = e.max { a, b in (a.1.isNaN ? .infinity : a.1) < (b.1.isNaN ? .infinity : b.1) }!
            let r = rs[0]
            table.rows.append([legend.label(r), r.recipeName, r.workload.name, Compact.tokens(r.tokens), "\(e.count)", Compact.sci(sorted.first), Compact.sci(sorted[sorted.count / 2]),
                               Compact.sci(worst.1.isNaN ? .nan : sorted.last), "\(worst.0)"])
        }
        return md + table.render() + "\n" + legend.footnote(groups.map { $0.value[0] })
    }

    /// The reference of each (instance, workload, seed) against MPFR.
    static func certification(_ records: [StudyRecord], legend: ParameterLegend) -> String {
        let certs = Dictionary(grouping: records, by: { "\(StudyReport.instance($0))|\($0.workload.name)|\($0.workload.seed)" }).map { ($0.key, $0.value[0]) }.sorted { $0.0 < $1.0 }
        guard !certs.isEmpty else { return "" }
        var md = "# Reference certification\n\nThe fast Float64 reference runs over the whole length; on a prefix of **n** tokens it is compared with MPFR at P bits (**out**, **state**: its largest relative distance), and MPFR at P with MPFR at 2P (**P↔2P**; DESIGN §5). For recurrent runs at least four windows long a later window is certified too (**later**: output / state): MPFR starts there from the fast reference's own state and both step over the window — the last min(certify_tokens, 256) positions, from the position in **from** — so the fast reference is checked where its state is largest.\n\n"
        md += cautions(records)
        var table = MarkdownTable(["variant", "inputs", "tier", "n", "out", "state", "later", "from", "P↔2P", "pass"], align: [.left, .left, .left] + Array(repeating: .right, count: 6) + [.left])
        for (_, r) in certs {
            let ref = r.reference
            let later = ref.laterStart == nil ? "–" : "\(Compact.sci(ref.laterFastVsMPFROutput, digits: 1)) / \(Compact.sci(ref.laterFastVsMPFRState, digits: 1))"
            table.rows.append([legend.label(r), r.workload.name + (Set(certs.map { $0.1.workload.seed }).count > 1 ? " s\(r.workload.seed)" : ""), ref.tier, "\(ref.certifiedTokens)",
                               Compact.sci(ref.fastVsMPFROutput, digits: 1), Compact.sci(ref.fastVsMPFRState, digits: 1), later, ref.laterStart.map(Compact.tokens) ?? "–",
                               Compact.sci(ref.mpfrPVs2POutput, digits: 1), ref.pass.map { $0 ? "yes" : "**no**" } ?? "–"])
        }
        table.dropEmptyColumns()
        let bits = Set(certs.map { $0.1.reference.bits }).sorted().map(String.init).joined(separator: ", ")
        return md + table.render() + "\nP = \(bits) bits.\n\n" + legend.footnote(certs.map(\.1))
    }

    /// What was run (coverage) and how: the provenance of every run.json.
    static func reproduction(_ records: [StudyRecord], runInfo: [RunInfo], dir: String) -> String {
        var md = "# Reproduction\n\n## What was run\n\n" + coverage(records) + "\n\n## How\n\n"
        if runInfo.isEmpty { md += "No run.json was found beside the results.\n" }
        for info in runInfo {
            md += info.reproductionBullets
            md += "- wall time: \(String(format: "%.1f", info.wallSeconds)) s for \(info.recordsComputed) records computed (\(info.records) in the folder), started \(info.started)\n"
        }
        md += "\nRegenerate this report from the results alone with `attnprec report \(dir)`; rerun the study with the command above (`make study` for the default one).\n"
        return md
    }

    /// Which lengths and recipes each variant instance was run with (what a trimmed study left out).
    static func coverage(_ records: [StudyRecord]) -> String {
        var byLengths: [String: Set<String>] = [:]
        var instanceRecipes: [String: Set<String>] = [:]
        let allRecipes = Set(records.map(\.recipeName))
        for (inst, rs) in Dictionary(grouping: records, by: { StudyReport.instance($0) }) {
            let lengths = Dictionary(grouping: rs, by: \.tokens).map { (t, rt) in "\(t) (\(Set(rt.map(\.workload.name)).sorted().joined(separator: ", ")))" }.sorted()
            byLengths[lengths.joined(separator: " and "), default: []].insert(inst)
            instanceRecipes[inst] = Set(rs.map(\.recipeName))
        }
        var s = "Coverage: " + byLengths.sorted { $0.key < $1.key }.map { "\($0.value.sorted().joined(separator: ", ")) at \($0.key) tokens" }.joined(separator: "; ") + "."
        // Recipes run for fewer than half the instances are scoped to those (a layout of one model family).
        let scoped = allRecipes.filter { r in 2 * instanceRecipes.values.filter { $0.contains(r) }.count < instanceRecipes.count }
        if !scoped.isEmpty {
            s += " Recipes run for some variants only: " + scoped.sorted().map { r in
                "\(r) (\(instanceRecipes.filter { $0.value.contains(r) }.keys.sorted().joined(separator: ", ")))"
            }.joined(separator: "; ") + "."
        }
        let missing = instanceRecipes.compactMap { inst, rs -> String? in
            let m = allRecipes.subtracting(rs).subtracting(scoped)
            return m.isEmpty ? nil : "\(inst) without \(m.sorted().joined(separator: "/"))"
        }.sorted()
        if !missing.isEmpty { s += " Not run: " + missing.joined(separator: "; ") + "." }
        return s
    }
}

extension RunInfo {
    /// The reproduction bullets every report shows for one run: command (and shard), configs,
    /// git revision, compiler flags, CPU and jobs, the OpenBLAS core.
    var reproductionBullets: String {
        var md = "- command: `\(command)`\(shard.map { " (shard \($0))" } ?? "")\n"
        md += "- configs: \(configs.map { "`\($0)`" }.joined(separator: ", "))\n"
        md += "- git revision: `\(gitRevision)`\n"
        md += "- compiler flags: `\(compilerFlags)`\n"
        md += "- CPU: \(cpu), \(cores) cores, \(jobs) jobs\n"
        if let blas { md += "- OpenBLAS core: \(blas)\n" }
        return md
    }
}
