import DriftStudy
import Foundation

/// The detail pages beside a study's `report.md`, each readable on its own: one per variant
/// family (the sensitivity tables), KV cache diagnostics, drift plots, memory versus error,
/// reference certification, seed spread and reproduction.
enum StudyPages {
    static let families: [(key: String, title: String)] = [
        ("softmax", "Softmax attention (KV cache)"), ("sparse", "Sparse attention (KV cache)"), ("linear", "Linear and gated linear attention (state)"),
        ("ssm", "State-space models (state)"), ("delta", "Delta rule (state)"), ("other", "Other variants"),
    ]
    static func familyPage(_ family: String) -> String { "family-\(family).md" }
    static let diagnosticsPage = "kv-cache-diagnostics.md", driftPage = "drift-plots.md", memoryPage = "memory-error.md"
    static let certificationPage = "certification.md", seedsPage = "seed-spread.md", reproductionPage = "reproduction.md"

    /// Whether a file in a report folder is a page this renderer writes (stale ones are removed).
    static func isDetailPage(_ file: String) -> Bool {
        file.hasSuffix(".md") && (file.hasPrefix("family-") || [diagnosticsPage, driftPage, memoryPage, certificationPage, seedsPage, reproductionPage].contains(file))
    }

    /// Every page: the detail pages, then `report.md`.
    static func all(records: [StudyRecord], runInfo: [RunInfo], plots: [String], title: String?, dir: String, notice: String?) -> [(file: String, markdown: String)] {
        let legend = ParameterLegend(records)
        let order = StudyReport.orderedRecipes(records)
        let name = title ?? "attnprec study"
        var pages: [(file: String, title: String, markdown: String)] = []
        for (family, heading) in families {
            let rs = records.filter { StudyReport.family($0) == family }
            guard !rs.isEmpty else { continue }
            pages.append((familyPage(family), "\(heading): error by length", familyMarkdown(rs, heading: heading, legend: legend, order: order, report: name)))
        }
        let sections: [(String, String, String)] = [
            (diagnosticsPage, "KV cache diagnostics", diagnostics(records, legend: legend, order: order)),
            (driftPage, "Drift plots", StudyPlots.driftPage(records, plots: plots)),
            (memoryPage, "Memory versus error", StudyPlots.memoryPage(records, plots: plots, legend: legend)),
            (certificationPage, "Reference certification", certification(records, legend: legend)),
            (seedsPage, "Seed spread", seedSpread(records, legend: legend)),
            (reproductionPage, "Reproduction", reproduction(records, runInfo: runInfo, dir: dir)),
        ]
        for (file, heading, body) in sections where !body.isEmpty { pages.append((file, heading, body)) }
        let back = "[← \(name)](report.md)\n\n"
        var out = pages.map { (file: $0.file, markdown: back + $0.markdown) }
        out.append(("report.md", StudyIndex.page(records: records, runInfo: runInfo, title: title, notice: notice, pages: pages.map { ($0.file, $0.title) })))
        return out
    }

    /// The reference's largest distance from MPFR over every certified run.
    static func worstReference(_ records: [StudyRecord]) -> Double? {
        records.compactMap { r in
            let ref = r.reference
            return [ref.fastVsMPFROutput, ref.fastVsMPFRState, ref.laterFastVsMPFROutput, ref.laterFastVsMPFRState].compactMap { $0 }.max()
        }.max()
    }

    /// The smallest positive error any table reports.
    static func smallestError(_ records: [StudyRecord]) -> Double? {
        records.flatMap { r in StudyIndex.matrixLengths.compactMap { StudyReport.errorAt(r, $0) } + [r.summary.errorAt.last?.outputRelErr].compactMap { $0 } }
            .filter { $0 > 0 && $0.isFinite }.min()
    }

    /// The cautions that qualify every number: a reference not 100× below the errors, runs not certified.
    static func cautions(_ records: [StudyRecord]) -> String {
        var md = ""
        if let worst = worstReference(records), let smallest = smallestError(records), worst * 100 > smallest {
            md += "> [!CAUTION]\n> The reference is not 100× below every reported error: its largest distance from MPFR is \(StudyReport.sci(worst)) and the smallest reported error is \(StudyReport.sci(smallest)). Errors within 100× of \(StudyReport.sci(worst)) are reference-limited.\n\n"
        }
        let certs = Dictionary(grouping: records, by: { "\(StudyReport.instance($0))|\($0.workload.name)|\($0.workload.seed)" })
        let uncertified = certs.values.filter { $0[0].reference.fastVsMPFROutput == nil }.count
        if uncertified > 0 {
            md += "> [!CAUTION]\n> \(uncertified) of \(certs.count) reference runs were not certified against MPFR (certify_tokens: 0).\n\n"
        }
        return md
    }

    /// One family's sensitivity tables, one per workload: the error at each fixed length the
    /// runs reach, the slope ± its 95% half-width, the theory at the run's end, the verdict.
    static func familyMarkdown(_ records: [StudyRecord], heading: String, legend: ParameterLegend, order: [String: Int], report: String) -> String {
        var md = "# \(heading)\n\n"
        md += "Output error ‖o − ô‖/‖o‖ at each length (the mean over the last min(64, T/16) positions up to it), from each run of \(report). **T**: the run's length; **slope**: the log–log slope over [T/64, T] ± its 95% half-width; **theory**: DESIGN §7's prediction at T (law: flat, √ for √t, sat for the decayed saturation); **verdict** as in the [index](report.md): ok < 1e-2 and flat, grows (slope > 0.1 at 95%), high ≥ 1e-2, fails ≥ 0.1, nan.\n\n"
        let multiSeed = Set(records.map(\.workload.seed)).count > 1
        for w in Array(Set(records.map(\.workload.name))).sorted() {
            let rs = records.filter { $0.workload.name == w }.sorted {
                let a = StudyReport.instance($0), b = StudyReport.instance($1)
                return a != b ? a < b : (order[$0.recipeName] ?? 0, $0.tokens, $0.workload.seed) < (order[$1.recipeName] ?? 0, $1.tokens, $1.workload.seed)
            }
            md += "## \(w) inputs\n\n\(rs[0].workload.input == w ? "" : "`\(rs[0].workload.input)`\n\n")"
            // The fixed lengths, and the run's end where it is not one of them.
            let lengths = StudyIndex.matrixLengths
            let endColumn = rs.contains { !lengths.contains($0.tokens) }
            var table = MarkdownTable(["variant", "recipe", "T"] + lengths.map { "@" + Compact.tokens($0) } + (endColumn ? ["@T"] : []) + ["slope", "theory", "verdict"],
                                      align: [.left, .left, .right] + lengths.map { _ in .right } + (endColumn ? [.right] : []) + [.right, .right, .left])
            for r in rs {
                let law = ["flat": "flat", "sqrt": "√", "saturation": "sat"][r.theory.law ?? ""] ?? (r.theory.law ?? "")
                let theory = r.theory.predictedAtEnd.map { "\(Compact.sci($0)) \(law)" } ?? "–"
                let seed = multiSeed ? " s\(r.workload.seed)" : ""
                table.rows.append([legend.label(r) + seed, r.recipeName, Compact.tokens(r.tokens)] + lengths.map { Compact.sci(StudyReport.errorAt(r, $0)) }
                                  + (endColumn ? [Compact.sci(r.summary.errorAt.last?.outputRelErr)] : []) + [Compact.slope(r.summary.slope), theory, r.summary.verdict])
            }
            table.dropEmptyColumns()
            md += table.render() + "\n" + legend.footnote(rs)
            let plots = Array(Set(rs.map(StudyPlots.driftName))).sorted()
            md += "Drift plots: " + plots.map { "[\($0.dropFirst("drift-".count).dropLast(4))](plots/\($0))" }.joined(separator: " · ") + ".\n\n"
        }
        return md
    }
}
