import DriftStudy
import Foundation

/// The plots of a study and the pages that show them: one drift plot per (variant instance,
/// workload, seed, length), one memory–error plot per workload.
enum StudyPlots {
    static func driftKey(_ r: StudyRecord) -> String { "\(StudyReport.instance(r))|\(r.workload.name)|\(r.workload.seed)|\(r.tokens)" }
    static func driftName(_ r: StudyRecord) -> String { "drift-\(StudyReport.slug(driftKey(r))).svg" }
    static func memoryName(_ workload: String) -> String { "memory-error-\(StudyReport.slug(workload)).svg" }

    /// Solid: each recipe's measured error; dashed, same colour: its theory. Curves within 1%
    /// of each other everywhere are drawn once under a combined label (SVGPlot merges them).
    static func drift(_ records: [StudyRecord]) -> [(name: String, svg: String)] {
        let order = StudyReport.orderedRecipes(records)
        return Dictionary(grouping: records, by: driftKey).sorted { $0.key < $1.key }.map { _, rs in
            let first = rs[0]
            var plot = SVGPlot(title: "\(StudyReport.instance(first)) — \(first.workload.name), seed \(first.workload.seed)", xLabel: "position t (tokens)", yLabel: "output relative error")
            for r in rs.sorted(by: { (order[$0.recipeName] ?? 0) < (order[$1.recipeName] ?? 0) }) {
                let c = order[r.recipeName] ?? 0
                plot.series.append(SVGPlot.Series(label: r.recipeName, points: zip(r.positions, r.outputRelErr).map { (Double($0 + 1), $1) }, color: c))
                if let law = r.theory.law {
                    let pts = r.positions.compactMap { t in r.theory.predicted(at: t).map { (Double(t + 1), $0) } }
                    var theory = SVGPlot.Series(label: r.recipeName, points: pts, color: c, dashed: true)
                    theory.suffix = " theory (\(law))"
                    plot.series.append(theory)
                }
            }
            return (driftName(first), plot.render())
        }
    }

    /// The length of a workload's memory–error plot and table: the longest fixed length every
    /// variant instance reaches (the longer runs measured there from their own runs), as the
    /// index's matrix.
    static func memoryLength(_ rs: [StudyRecord]) -> Int? { StudyIndex.reachLength(rs) }

    /// Every (variant, recipe) reaching T: one marker series per variant, the Pareto frontier
    /// dashed and labelled, its points named.
    static func memoryError(_ records: [StudyRecord]) -> [(name: String, svg: String)] {
        var out: [(String, String)] = []
        for w in Array(Set(records.map(\.workload.name))).sorted() {
            let rs = records.filter { $0.workload.name == w }
            guard let T = memoryLength(rs) else { continue }
            let pts = StudyReport.pointsAt(T, rs)
            var plot = SVGPlot(title: "Memory vs error at \(Compact.tokens(T)) tokens — \(w)", xLabel: "bytes of KV cache or state per head at \(T) tokens", yLabel: "output relative error at \(T)")
            let frontier = Set(StudyReport.paretoFrontier(pts.map { ($0.record.key, $0.bytes, $0.error) }))
            let byVariant = Dictionary(grouping: pts, by: { StudyReport.instance($0.record) }).sorted { $0.key < $1.key }
            for (i, (name, vs)) in byVariant.enumerated() {
                plot.series.append(SVGPlot.Series(label: name, points: vs.map { ($0.bytes, $0.error) }, color: i, markers: true,
                                                  labels: vs.map { frontier.contains($0.record.key) ? "\($0.record.variant) \($0.record.recipeName)" : "" }))
            }
            let fr = pts.filter { frontier.contains($0.record.key) }.sorted { $0.bytes < $1.bytes }
            var line = SVGPlot.Series(label: "Pareto frontier", points: fr.map { ($0.bytes, $0.error) }, color: -1, dashed: true)
            line.endLabel = "Pareto frontier"
            plot.series.append(line)
            out.append((memoryName(w), plot.render()))
        }
        return out
    }

    static func driftPage(_ records: [StudyRecord], plots: [String]) -> String {
        let drawn = Set(plots)
        guard records.contains(where: { drawn.contains(driftName($0)) }) else { return "" }
        var md = "# Drift plots\n\nOne plot per variant instance, workload, seed and length. Solid: the measured output error ‖o − ô‖/‖o‖ at each position; dashed, in the same colour: the theory of DESIGN §7 where a closed form applies (a KV cache written once: flat ≈ u, the binary32 compute's 2⁻²⁴ when the cache format holds the rounded inputs exactly; an undecayed state: κu√(t/2); decay a: the saturation κu/√(1−a²)). Curves less than 1% apart everywhere are drawn once under a combined label (\"fp32 = bf16\").\n\n"
        for (family, heading) in StudyPages.families {
            let names = Array(Set(records.filter { StudyReport.family($0) == family }.map(driftName))).filter(drawn.contains).sorted()
            guard !names.isEmpty else { continue }
            md += "## \(heading)\n\n[Tables](\(StudyPages.familyPage(family))).\n\n" + names.map { "![\($0)](plots/\($0))\n\n" }.joined()
        }
        return md
    }

    /// The memory–error plots and, at 32k, the table of every point with the frontier starred.
    static func memoryPage(_ records: [StudyRecord], plots: [String], legend: ParameterLegend) -> String {
        var md = "# Memory versus error\n\nOne point per (variant, recipe): the bytes of KV cache (T × bytes per token; a sliding window holds only its window and sink tokens) or recurrent state of one head at T tokens, against the output error at T (the mean over the last 64 positions up to it), from the record's own run when it runs longer. ★ and the dashed line: the Pareto frontier — no other point has both fewer bytes and a lower error; NaN errors are never on it.\n\n"
        for w in Array(Set(records.map(\.workload.name))).sorted() {
            let rs = records.filter { $0.workload.name == w }
            guard let T = memoryLength(rs) else { continue }
            md += "## \(w) inputs, \(Compact.tokens(T)) tokens\n\n"
            if plots.contains(memoryName(w)) { md += "![\(memoryName(w))](plots/\(memoryName(w)))\n\n" }
            let pts = StudyReport.pointsAt(T, rs)
            guard !pts.isEmpty else {
                md += "No record reaches \(T) tokens (longest \(rs.map(\.tokens).max() ?? 0)), so no table at \(T).\n\n"
                continue
            }
            let frontier = Set(StudyReport.paretoFrontier(pts.map { ($0.record.key, $0.bytes, $0.error) }))
            var table = MarkdownTable(["variant", "recipe", "bytes @\(Compact.tokens(T))", "err @\(Compact.tokens(T))", "frontier"], align: [.left, .left, .right, .right, .left])
            let sorted = pts.sorted { ($0.bytes, $0.error.isNaN ? .infinity : $0.error, $0.record.key) < ($1.bytes, $1.error.isNaN ? .infinity : $1.error, $1.record.key) }
            for p in sorted {
                table.rows.append([legend.label(p.record), p.record.recipeName, "\(Int(p.bytes.rounded()))", StudyReport.sci(p.error), frontier.contains(p.record.key) ? "★" : ""])
            }
            md += table.render() + "\n" + legend.footnote(pts.map(\.record))
            let reached = Set(pts.map { "\(StudyReport.instance($0.record))|\($0.record.recipeName)" })
            let short = StudyReport.longest(rs).filter { !reached.contains("\(StudyReport.instance($0))|\($0.recipeName)") }
            if !short.isEmpty {
                let byInstance = Dictionary(grouping: short, by: { StudyReport.instance($0) }).sorted { $0.key < $1.key }
                md += "Not at \(T) tokens (their longest run is shorter): " + byInstance.map { k, v in "\(k) (\(v.map(\.recipeName).sorted().joined(separator: ", ")); \(v.map(\.tokens).max()!) tokens)" }.joined(separator: "; ") + ".\n\n"
            }
        }
        return md
    }
}
