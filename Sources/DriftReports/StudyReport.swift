import DriftStudy
import Foundation
import NumberFormats

/// Writes `report.md`, `plots/*.svg` and `results.csv` from results alone.
public enum StudyReport {
    public static let lengths = [1024, 8192, 65536]

    public static func sci(_ x: Double?) -> String {
        guard let x else { return "–" }
        if x.isNaN { return "NaN" }
        if x.isInfinite { return x > 0 ? "∞" : "−∞" }
        if x == 0 { return "0" }
        return String(format: "%.2e", x)
    }

    static func slug(_ s: String) -> String {
        String(s.lowercased().map { $0.isLetter || $0.isNumber ? $0 : "-" })
            .split(separator: "-", omittingEmptySubsequences: true).joined(separator: "-")
    }

    /// The label of a variant instance: name plus overrides and decay.
    static func instance(_ r: StudyRecord) -> String {
        var s = r.variant
        if r.preset != "default" {
            let short = r.preset.replacingOccurrences(of: "key_dim=", with: "K=").replacingOccurrences(of: "value_dim=", with: "V=")
                .replacingOccurrences(of: "head_dim=", with: "d=")
            s += " (\(short))"
        }
        if r.workload.gates != "default" { s += " a=\(r.workload.gates.replacingOccurrences(of: "constant(", with: "").replacingOccurrences(of: ")", with: ""))" }
        return s
    }

    /// The error a table reports for `r` at length L (nil when L > tokens).
    static func errorAt(_ r: StudyRecord, _ L: Int) -> Double? { L <= r.tokens ? r.summary.error(at: L) : nil }

    /// Writes everything into `dir`; returns the report path.
    @discardableResult
    public static func write(records: [StudyRecord], runInfo: [RunInfo], to dir: String, title: String = "attnprec study") throws -> String {
        try write(records: records, runInfo: runInfo, to: dir, title: title, notice: nil)
    }

    /// `write`, with `notice` (e.g. a partial merge) shown as a warning under the title.
    @discardableResult
    public static func write(records: [StudyRecord], runInfo: [RunInfo], to dir: String, title: String, notice: String?) throws -> String {
        let fm = FileManager.default
        try AtomicFile.createFolder("\(dir)/plots")
        var plots: [(String, String)] = []
        let records = records.sorted { $0.key < $1.key }
        let workloads = Array(Set(records.map(\.workload.name))).sorted()
        let recipeOrder = orderedRecipes(records)
        // Drift plots: one per (variant instance, workload).
        var instances: [String: [StudyRecord]] = [:]
        for r in records { instances["\(instance(r))|\(r.workload.name)|\(r.workload.seed)|\(r.tokens)", default: []].append(r) }
        for (k, rs) in instances.sorted(by: { $0.key < $1.key }) {
            let first = rs[0]
            var plot = SVGPlot(
                title: "\(instance(first)) — \(first.workload.name), seed \(first.workload.seed)", xLabel: "position t (tokens)",
                yLabel: "output relative error")
            for r in rs.sorted(by: { (recipeOrder[$0.recipeName] ?? 0) < (recipeOrder[$1.recipeName] ?? 0) }) {
                let c = recipeOrder[r.recipeName] ?? 0
                plot.series.append(SVGPlot.Series(label: r.recipeName, points: zip(r.positions, r.outputRelErr).map { (Double($0 + 1), $1) }, color: c))
                if r.theory.law != nil {
                    let pts = r.positions.compactMap { t in r.theory.predicted(at: t).map { (Double(t + 1), $0) } }
                    plot.series.append(SVGPlot.Series(label: "\(r.recipeName) theory (\(r.theory.law!))", points: pts, color: c, dashed: true))
                }
            }
            let name = "drift-\(slug(k)).svg"
            plots.append((name, plot.render()))
        }
        // Memory–error plots: one per workload at the longest length.
        var pareto: [String: Set<String>] = [:]
        for w in workloads {
            let rs = records.filter { $0.workload.name == w }
            guard let T = commonLength(rs) else { continue }
            let pts = rs.filter { $0.tokens == T }
            var plot = SVGPlot(title: "Memory vs error at \(T) tokens — \(w)", xLabel: "bytes of cache or state per head at \(T) tokens", yLabel: "output relative error at \(T)")
            let frontier = paretoFrontier(pts.map { ($0.key, $0.summary.memoryBytes, $0.summary.error(at: T) ?? .nan) })
            pareto[w] = Set(frontier)
            let byVariant = Dictionary(grouping: pts, by: { instance($0) }).sorted { $0.key < $1.key }
            for (i, (name, vs)) in byVariant.enumerated() {
                plot.series.append(SVGPlot.Series(
                    label: name, points: vs.map { ($0.summary.memoryBytes, $0.summary.error(at: T) ?? .nan) }, color: i, markers: true,
                    labels: vs.map { frontier.contains($0.key) ? $0.recipeName : "" }))
            }
            let fr = pts.filter { frontier.contains($0.key) }.sorted { $0.summary.memoryBytes < $1.summary.memoryBytes }
            plot.series.append(SVGPlot.Series(label: "Pareto frontier", points: fr.map { ($0.summary.memoryBytes, $0.summary.error(at: T) ?? .nan) }, color: 8, dashed: true))
            plots.append(("memory-error-\(slug(w)).svg", plot.render()))
        }
        // One set: the plots first, report.md last (atomically), then the plots of an earlier
        // report that this one does not draw; whenever the process stops, the report.md on
        // disk links only plots that exist.
        for (name, svg) in plots { try AtomicFile.write(Data(svg.utf8), to: "\(dir)/plots/\(name)", creatingFolders: true) }
        try AtomicFile.write(Data(csv(records).utf8), to: "\(dir)/results.csv", creatingFolders: true)
        let md = markdown(records: records, runInfo: runInfo, plots: plots.map(\.0), pareto: pareto, title: title, dir: dir, notice: notice)
        try AtomicFile.write(Data(md.utf8), to: "\(dir)/report.md", creatingFolders: true)
        let drawn = Set(plots.map(\.0))
        for old in (try? fm.contentsOfDirectory(atPath: "\(dir)/plots")) ?? []
        where (old.hasPrefix("drift-") || old.hasPrefix("memory-error-")) && old.hasSuffix(".svg") && !drawn.contains(old) {
            try? fm.removeItem(atPath: "\(dir)/plots/\(old)")
        }
        return "\(dir)/report.md"
    }

    /// The length most records of `rs` share (ties: the longer), where points compare.
    static func commonLength(_ rs: [StudyRecord]) -> Int? {
        let counts = Dictionary(grouping: rs, by: \.tokens).mapValues(\.count)
        return counts.max { a, b in a.value != b.value ? a.value < b.value : a.key < b.key }?.key
    }

    /// Each (variant instance, recipe, workload) at its longest length.
    static func longest(_ records: [StudyRecord]) -> [StudyRecord] {
        var best: [String: StudyRecord] = [:]
        for r in records {
            let k = "\(instance(r))|\(r.recipeName)|\(r.workload.name)|\(r.workload.seed)"
            if let b = best[k], b.tokens >= r.tokens { continue }
            best[k] = r
        }
        return best.values.sorted { $0.key < $1.key }
    }

    static func orderedRecipes(_ records: [StudyRecord]) -> [String: Int] {
        var order: [String: Int] = [:]
        // Order of first appearance in key order is arbitrary; order by memory instead (widest first).
        var memory: [String: Double] = [:]
        for r in records { memory[r.recipeName] = max(memory[r.recipeName] ?? 0, r.summary.memoryBytes) }
        let names: [String] = memory.keys.sorted { (a: String, b: String) -> Bool in
            let ma = memory[a]!, mb = memory[b]!
            return ma != mb ? ma > mb : a < b
        }
        for (i, n) in names.enumerated() { order[n] = i }
        return order
    }

    /// The length of the memory–error frontier table (DESIGN §8: "bytes of KV cache or state
    /// at context T versus output error"), when records reach it.
    public static let frontierLength = 32768

    /// Each (variant instance, recipe) that reaches `T` in `rs`, with its bytes at T (a cache:
    /// T × bytes per token; a state: its bytes) and its error at T (from its longest run).
    static func pointsAt(_ T: Int, _ rs: [StudyRecord]) -> [(record: StudyRecord, bytes: Double, error: Double)] {
        longest(rs.filter { $0.tokens >= T }).compactMap { r in
            // A cache holds min(T, what it held at its end): T entries, or a sliding window's W + n.
            let bytes = r.summary.bytesPerToken.map { b in b > 0 ? b * min(Double(T), (r.summary.memoryBytes / b).rounded()) : 0 }
                ?? r.summary.stateBytes ?? r.summary.memoryBytes
            return (r, bytes, r.summary.error(at: T) ?? .nan)
        }
    }

    /// "Memory versus error at 32,768 tokens": per workload that reaches it, every (variant,
    /// recipe) sorted by bytes, the Pareto frontier starred, and the instances that stop short.
    static func frontierSection(_ records: [StudyRecord]) -> String {
        let T = frontierLength
        guard records.contains(where: { $0.tokens >= T }) else { return "" }
        var md = "### Memory versus error at \(T) tokens\n\nEvery (variant, recipe) that reaches \(T) tokens: bytes of KV cache (\(T) × bytes per token; a sliding window holds only its window and sink tokens) or recurrent state for one head at \(T) tokens, against the output error at \(T) (the mean over the last 64 positions up to it; from the record's own run when it runs longer). ★: the Pareto frontier — no other point has both fewer bytes and a lower error. NaN errors are never on it.\n\n"
        for w in Array(Set(records.map(\.workload.name))).sorted() {
            let rs = records.filter { $0.workload.name == w }
            let pts = pointsAt(T, rs)
            guard !pts.isEmpty else {
                md += "\(w) inputs: no record reaches \(T) tokens (longest \(rs.map(\.tokens).max() ?? 0)), so no frontier at \(T).\n\n"
                continue
            }
            let frontier = Set(paretoFrontier(pts.map { ($0.record.key, $0.bytes, $0.error) }))
            md += "#### \(w) inputs\n\n| variant | recipe | bytes @\(T) | err @\(T) | frontier |\n|---|---|---:|---:|---|\n"
            for p in pts.sorted(by: { ($0.bytes, $0.error.isNaN ? .infinity : $0.error, $0.record.key) < ($1.bytes, $1.error.isNaN ? .infinity : $1.error, $1.record.key) }) {
                md += "| \(instance(p.record)) | \(p.record.recipeName) | \(Int(p.bytes.rounded())) | \(sci(p.error)) | \(frontier.contains(p.record.key) ? "★" : "") |\n"
            }
            let reached = Set(pts.map { "\(instance($0.record))|\($0.record.recipeName)" })
            let short = longest(rs).filter { !reached.contains("\(instance($0))|\($0.recipeName)") }
            if !short.isEmpty {
                let byInstance = Dictionary(grouping: short, by: { instance($0) }).sorted { $0.key < $1.key }
                md += "\nNot at \(T) tokens (their longest run is shorter): " + byInstance.map { k, v in "\(k) (\(v.map(\.recipeName).sorted().joined(separator: ", ")); \(v.map(\.tokens).max()!) tokens)" }.joined(separator: "; ") + ".\n"
            }
            md += "\n"
        }
        return md
    }

    /// Keys of the points not dominated in (memory, error); NaN errors never qualify.
    public static func paretoFrontier(_ points: [(String, Double, Double)]) -> [String] {
        let valid = points.filter { $0.2.isFinite }
        return valid.filter { p in !valid.contains { q in q.1 <= p.1 && q.2 <= p.2 && (q.1 < p.1 || q.2 < p.2) } }.map(\.0)
    }

    public static func csv(_ records: [StudyRecord]) -> String {
        var s = "key,variant,preset,recipe,workload,seed,tokens,err_1k,err_8k,err_64k,err_end,slope,slope_low,slope_high,saturation,first_1e-3,first_1e-2,first_1e-1,non_finite,memory_bytes,theory_law,theory_end,verdict,min_cosine,cache_rel_err,attention_kl,topk_overlap_mean,topk_overlap_min\n"
        func q(_ x: String) -> String { x.contains(",") || x.contains("\"") ? "\"\(x.replacingOccurrences(of: "\"", with: "\"\""))\"" : x }
        func n(_ x: Double?) -> String { x.map { $0.isNaN ? "NaN" : "\($0)" } ?? "" }
        for r in records {
            let cross = r.summary.firstCrossing.map { $0.position.map(String.init) ?? "" }
            s += [q(r.key), r.variant, q(r.preset), q(r.recipeName), q(r.workload.name), "\(r.workload.seed)", "\(r.tokens)",
                  n(errorAt(r, 1024)), n(errorAt(r, 8192)), n(errorAt(r, 65536)), n(r.summary.errorAt.last?.outputRelErr),
                  n(r.summary.slope?.slope), n(r.summary.slope?.slopeLow), n(r.summary.slope?.slopeHigh), n(r.summary.saturation)]
                .joined(separator: ",") + "," + (cross + ["", "", ""]).prefix(3).joined(separator: ",")
                + ",\(r.summary.nonFinite),\(r.summary.memoryBytes),\(r.theory.law ?? ""),\(n(r.theory.predictedAtEnd)),\(r.summary.verdict),"
                + [r.summary.minCosine, r.summary.cacheRelErr, r.summary.attentionKL, r.summary.topkOverlapMean, r.summary.topkOverlapMin].map(n).joined(separator: ",") + "\n"
        }
        return s
    }

    /// The one-paragraph answer, computed from the records (each at its longest length).
    static func answer(_ records: [StudyRecord]) -> String {
        let atT = longest(records)
        guard !atT.isEmpty else { return "No records." }
        func end(_ r: StudyRecord) -> Double { r.summary.errorAt.last?.outputRelErr ?? .nan }
        let lengths = Set(atT.map(\.tokens)).sorted().map(String.init).joined(separator: "/")
        let variants = Set(atT.map { instance($0) }).count
        let ok = atT.filter { $0.summary.verdict == "ok" }.count
        var s = "Over \(atT.count) measured combinations (\(variants) variant instances × \(Set(atT.map(\.recipeName)).count) storage recipes × \(Set(atT.map(\.workload.name)).count) input workloads, each at its longest length: \(lengths) tokens), \(ok) keep the output error below 1e-2 without growing. "
        let byRecipe = Dictionary(grouping: atT, by: \.recipeName).map { (name, rs) -> (String, Double) in
            let e = rs.map { end($0).isNaN ? Double.infinity : end($0) }.sorted()
            return (name, e.isEmpty ? .nan : e[e.count / 2])
        }.sorted { $0.1 < $1.1 }
        s += "Median output error at the end by storage recipe: " + byRecipe.map { "\($0.0) \(sci($0.1))" }.joined(separator: ", ") + ". "
        let growing = atT.filter { $0.summary.verdict == "grows" || (($0.summary.slope?.slopeLow ?? 0) > 0.1 && $0.summary.verdict != "nan") }
        if !growing.isEmpty {
            let names = growing.sorted { ($0.summary.slope?.slope ?? 0) > ($1.summary.slope?.slope ?? 0) }.prefix(6)
                .map { "\(instance($0))/\($0.recipeName)/\($0.workload.name) (slope \(String(format: "%.2f", $0.summary.slope?.slope ?? .nan)) to \($0.tokens))" }
            s += "\(growing.count) are still growing at the end (log–log slope > 0.1 at 95% confidence), steepest: \(names.joined(separator: ", ")). "
        } else {
            s += "None is still growing at the end (no log–log slope > 0.1 at 95% confidence). "
        }
        let failing = atT.filter { $0.summary.verdict == "fails" || $0.summary.verdict == "nan" }
        if !failing.isEmpty {
            let byVariant = Dictionary(grouping: failing, by: { instance($0) }).map { ($0.key, Set($0.value.map(\.recipeName)).sorted()) }.sorted { $0.0 < $1.0 }
            s += "\(failing.count) reach an error ≥ 0.1 or NaN/Inf: " + byVariant.map { "\($0.0) with \($0.1.joined(separator: "/"))" }.joined(separator: "; ") + ". "
        } else {
            s += "None reaches 0.1 or produces NaN/Inf. "
        }
        let withTheory = atT.filter { $0.theory.ratio != nil }
        let off = withTheory.filter { ($0.theory.ratio ?? 1) > 4 || ($0.theory.ratio ?? 1) < 0.25 }
        if !withTheory.isEmpty {
            s += "Of \(withTheory.count) with a closed-form prediction, \(withTheory.count - off.count) lie within 4× of it"
            s += off.isEmpty ? "." : "; \(off.count) depart from it (a finding: see the theory column)."
        }
        return s
    }

    /// Which lengths and recipes each variant instance was run with (what a trimmed study left out).
    static func coverage(_ records: [StudyRecord]) -> String {
        var byLengths: [String: Set<String>] = [:]
        var instanceRecipes: [String: Set<String>] = [:]
        let allRecipes = Set(records.map(\.recipeName))
        for (inst, rs) in Dictionary(grouping: records, by: { instance($0) }) {
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

    /// Softmax-family metrics beside the output error: the stored cache's own error, the KL
    /// divergence of the attention distribution, the top-k overlap of sparse selections.
    static func diagnostics(_ records: [StudyRecord], order: [String: Int]) -> String {
        let rs = longest(records).filter { $0.summary.cacheRelErr != nil }.sorted {
            instance($0) != instance($1) ? instance($0) < instance($1)
                : ($0.workload.name, order[$0.recipeName] ?? 0) < ($1.workload.name, order[$1.recipeName] ?? 0)
        }
        guard !rs.isEmpty else { return "" }
        var md = "## KV cache diagnostics\n\nFor cache variants at their longest length: the relative error of the stored cache entries themselves (‖Ĉ − C‖/‖C‖), the KL divergence KL(p ‖ p̂) of query head 0's attention distribution at the last position, the smallest output cosine similarity, and for sparse variants the overlap of the selected keys with the exact selection (mean and minimum over the positions where the selection left keys out; – where it never did).\n\n"
        md += "| variant | recipe | workload | tokens | cache err | attention KL @T | min cosine | top-k overlap mean | min | output err @T |\n|---|---|---|---:|---:|---:|---:|---:|---:|---:|\n"
        for r in rs {
            let cos = r.summary.minCosine.map { $0.isNaN ? "NaN" : String(format: "%.6f", $0) } ?? "–"
            let ov = { (x: Double?) in x.map { String(format: "%.4f", $0) } ?? "–" }
            md += "| \(instance(r)) | \(r.recipeName) | \(r.workload.name) | \(r.tokens) | \(sci(r.summary.cacheRelErr)) | \(sci(r.summary.attentionKL)) | \(cos) | \(ov(r.summary.topkOverlapMean)) | \(ov(r.summary.topkOverlapMin)) | \(sci(r.summary.errorAt.last?.outputRelErr)) |\n"
        }
        return md + "\n"
    }

    /// With several seeds: the spread of the error at the end per (instance, recipe, workload,
    /// length), and the worst seed (what budgets use).
    static func seedSpread(_ records: [StudyRecord]) -> String {
        let groups = Dictionary(grouping: records, by: { "\(instance($0))|\($0.recipeName)|\($0.workload.name)|\($0.tokens)" })
            .filter { Set($0.value.map(\.workload.seed)).count > 1 }.sorted { $0.key < $1.key }
        guard !groups.isEmpty else { return "" }
        var md = "## Seed spread\n\nThe output error at the end over the seeds of each combination; budgets judge the worst seed.\n\n"
        md += "| variant | recipe | workload | tokens | seeds | min | median | max | worst seed |\n|---|---|---|---:|---:|---:|---:|---:|---:|\n"
        for (_, rs) in groups {
            let e = rs.map { ($0.workload.seed, $0.summary.errorAt.last?.outputRelErr ?? .nan) }
            let sorted = e.map { $0.1.isNaN ? Double.infinity : $0.1 }.sorted()
            let worst = e.max { a, b in (a.1.isNaN ? .infinity : a.1) < (b.1.isNaN ? .infinity : b.1) }!
            let r = rs[0]
            md += "| \(instance(r)) | \(r.recipeName) | \(r.workload.name) | \(r.tokens) | \(e.count) | \(sci(sorted.first)) | \(sci(sorted[sorted.count / 2])) | \(sci(worst.1.isNaN ? .nan : sorted.last)) | \(worst.0) |\n"
        }
        return md + "\n"
    }

    static func markdown(records: [StudyRecord], runInfo: [RunInfo], plots: [String], pareto: [String: Set<String>], title: String?, dir: String, notice: String? = nil) -> String {
        var md = "# \(title ?? "attnprec study")\n\n"
        if let notice { md += "> [!WARNING]\n> \(notice)\n\n" }
        md += answer(records) + "\n\n"
        md += coverage(records) + "\n\n"
        md += "Error at length T is the mean of the output relative error ‖o − ô‖/‖o‖ over the last min(64, T/16) positions up to T; the slope is a least-squares fit of log error against log t over [T/64, T] with its 95% interval. Verdict: **ok** < 1e-2 and not growing, **grows** slope > 0.1 (95%), **high** ≥ 1e-2, **fails** ≥ 0.1, **nan** any NaN/Inf. Inputs (q, k, v) are rounded identically for the reference and the emulated run, so the numbers measure storage and compute, not input conversion. Every number comes from `results.jsonl` beside this file (`results.csv` has the same summaries).\n\n"
        // Certification caution first: it qualifies everything below.
        let certs = Dictionary(grouping: records, by: { "\(instance($0))|\($0.workload.name)|\($0.workload.seed)" }).map { ($0.key, $0.value[0]) }.sorted { $0.0 < $1.0 }
        let worstRef = certs.compactMap {
            let r = $0.1.reference
            return [r.fastVsMPFROutput, r.fastVsMPFRState, r.laterFastVsMPFROutput, r.laterFastVsMPFRState].compactMap { $0 }.max()
        }.max()
        let smallest = records.flatMap { r in lengths.compactMap { errorAt(r, $0) } + [r.summary.errorAt.last?.outputRelErr].compactMap { $0 } }.filter { $0 > 0 && $0.isFinite }.min()
        let uncertified = certs.filter { $0.1.reference.fastVsMPFROutput == nil }.count
        if let worstRef, let smallest, worstRef * 100 > smallest {
            md += "> [!CAUTION]\n> The reference is not 100× below every reported error: its largest distance from MPFR is \(sci(worstRef)) and the smallest reported error is \(sci(smallest)). Errors within 100× of \(sci(worstRef)) are reference-limited.\n\n"
        }
        if uncertified > 0 {
            md += "> [!CAUTION]\n> \(uncertified) of \(certs.count) reference runs were not certified against MPFR (certify_tokens: 0).\n\n"
        }
        let workloads = Array(Set(records.map(\.workload.name))).sorted()
        let order = orderedRecipes(records)
        md += "## Sensitivity\n\n"
        let multiSeed = Set(records.map(\.workload.seed)).count > 1
        for w in workloads {
            let rs = records.filter { $0.workload.name == w }.sorted {
                instance($0) != instance($1) ? instance($0) < instance($1) : (order[$0.recipeName] ?? 0, $0.tokens) < (order[$1.recipeName] ?? 0, $1.tokens)
            }
            md += "### \(w) inputs (\(rs.first?.workload.input ?? w))\n\n"
            // A 1M column when some record reaches 1M tokens (DESIGN §7's fixed lengths).
            let million = rs.contains { $0.tokens >= 1 << 20 }
            let k32 = rs.contains { $0.tokens >= frontierLength }
            md += "| variant | recipe | tokens | err @1k | err @8k |\(k32 ? " err @32k |" : "") err @64k |\(million ? " err @1M |" : "") slope [95%] | theory @T | verdict |\n|---|---|---:|---:|---:|\(k32 ? "---:|" : "")---:|\(million ? "---:|" : "")---|---:|---|\n"
            for r in rs {
                let slope = r.summary.slope.map { String(format: "%.2f [%.2f, %.2f]", $0.slope, $0.slopeLow, $0.slopeHigh) } ?? "–"
                let theory = r.theory.predictedAtEnd.map { "\(sci($0)) (\(r.theory.law!))" } ?? "–"
                let star = pareto[w]?.contains(r.key) == true ? " ★" : ""
                let seed = multiSeed ? " (seed \(r.workload.seed))" : ""
                md += "| \(instance(r))\(seed) | \(r.recipeName)\(star) | \(r.tokens) | \(sci(errorAt(r, 1024))) | \(sci(errorAt(r, 8192))) |\(k32 ? " \(sci(errorAt(r, frontierLength))) |" : "") \(sci(errorAt(r, 65536))) |\(million ? " \(sci(errorAt(r, 1 << 20))) |" : "") \(slope) | \(theory) | \(r.summary.verdict) |\n"
            }
            md += "\n★ on the memory–error Pareto frontier of this workload.\n\n"
        }
        md += diagnostics(records, order: order)
        md += seedSpread(records)
        md += "## Drift plots\n\nSolid: measured output error; dashed: the theory of DESIGN §7 (KV cache written once: flat ≈ u, the binary32 compute's 2^-24 when the cache format holds the rounded inputs exactly; undecayed state: κu√(t/2); decay a: saturation κu/√(1−a²)), drawn where a closed form applies.\n\n"
        for p in plots where p.hasPrefix("drift-") { md += "![\(p)](plots/\(p))\n\n" }
        md += "## Memory versus error\n\nOne point per (variant, recipe) at the longest length: bytes of KV cache (tokens × bytes per token; a sliding window holds only its window and sink tokens) or recurrent state for one head, against the output error; the dashed line joins the Pareto frontier.\n\n"
        for p in plots where p.hasPrefix("memory-") { md += "![\(p)](plots/\(p))\n\n" }
        md += frontierSection(records)
        md += "## Reference certification\n\nThe fast reference runs over the whole length; on a prefix it is compared with MPFR at P bits, and MPFR at P with MPFR at 2P (DESIGN §5). For recurrent runs at least four windows long, a later window (the last min(certify_tokens, 256) positions) is certified too: MPFR starts there from the fast reference's own state and both step over the window, so the fast reference's outputs at the end of the run are checked where its state is largest.\n\n"
        md += "| variant | workload | tier | certified tokens | fast vs MPFR (output) | fast vs MPFR (state) | later window: fast vs MPFR (output / state) | MPFR P vs 2P | pass |\n|---|---|---|---:|---:|---:|---|---:|---|\n"
        for (_, r) in certs {
            let ref = r.reference
            let later = ref.laterStart.map { "\(sci(ref.laterFastVsMPFROutput)) / \(sci(ref.laterFastVsMPFRState)) (\($0)…\($0 + (ref.laterTokens ?? 0) - 1))" } ?? "–"
            md += "| \(instance(r)) | \(r.workload.name) | \(ref.tier) | \(ref.certifiedTokens) | \(sci(ref.fastVsMPFROutput)) | \(sci(ref.fastVsMPFRState)) | \(later) | \(sci(ref.mpfrPVs2POutput)) (P = \(ref.bits)) | \(ref.pass.map { $0 ? "yes" : "**no**" } ?? "–") |\n"
        }
        md += "\n## Reproduction\n\n"
        if runInfo.isEmpty {
            md += "No run.json was found beside the results.\n"
        }
        for info in runInfo {
            md += "- command: `\(info.command)`\(info.shard.map { " (shard \($0))" } ?? "")\n"
            md += "- configs: \(info.configs.map { "`\($0)`" }.joined(separator: ", "))\n"
            md += "- git revision: `\(info.gitRevision)`\n"
            md += "- compiler flags: `\(info.compilerFlags)`\n"
            md += "- CPU: \(info.cpu), \(info.cores) cores, \(info.jobs) jobs\n"
            if let blas = info.blas { md += "- OpenBLAS core: \(blas)\n" }
            md += "- wall time: \(String(format: "%.1f", info.wallSeconds)) s for \(info.recordsComputed) records computed (\(info.records) in the folder), started \(info.started)\n"
        }
        md += "\nRegenerate this report from the results alone with `attnprec report \(dir)`; rerun the study with the command above (`make study` for the default one).\n"
        return md
    }
}
