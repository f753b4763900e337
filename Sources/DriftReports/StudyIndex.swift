import DriftStudy
import Foundation

/// `report.md` of a study: the answer in one screen — a verdict matrix (variant × storage
/// recipe at one length), at most five findings computed from the records, each linking the
/// table or plot that shows it, the method in a paragraph, and links to the detail pages.
enum StudyIndex {
    /// Colour-free verdict marks.
    static let marks: [(verdict: String, mark: String, meaning: String)] = [
        ("ok", "✓", "ok: < 1e-2, not growing"), ("grows", "↑", "grows: slope > 0.1 (95%)"), ("high", "▲", "high: ≥ 1e-2"),
        ("fails", "✗", "fails: ≥ 0.1"), ("nan", "✗", "NaN/Inf"),
    ]

    static func mark(_ verdict: String) -> String { marks.first { $0.verdict == verdict }?.mark ?? "?" }

    /// The fixed lengths a matrix can show.
    static let matrixLengths = [1024, 8192, 32768, 65536, 1 << 20]

    /// The workload and length of the matrix: the workload whose runs go longest (ties: the
    /// first by name), at the longest fixed length every instance run on it reaches.
    static func scope(_ records: [StudyRecord]) -> (workload: String, tokens: Int)? {
        let byWorkload = Dictionary(grouping: records, by: \.workload.name)
        guard let w = byWorkload.max(by: { a, b in
            let ta = a.value.map(\.tokens).max()!, tb = b.value.map(\.tokens).max()!
            return ta != tb ? ta < tb : a.key > b.key
        }) else { return nil }
        return (w.key, reachLength(w.value)!)
    }

    /// The longest fixed length every instance of `rs` reaches (else the shortest instance's length).
    static func reachLength(_ rs: [StudyRecord]) -> Int? {
        guard let reach = Dictionary(grouping: rs, by: StudyReport.instance).values.map({ $0.map(\.tokens).max()! }).min() else { return nil }
        return matrixLengths.last { $0 <= reach } ?? reach
    }

    /// One row of the matrix: the record of each recipe at `T` (the worst seed), from the
    /// longest run reaching T.
    struct Row {
        var instance: String
        var label: String
        var family: String
        var cache: Bool
        var cells: [String: StudyRecord]
    }

    static func rows(_ records: [StudyRecord], workload: String, tokens T: Int, legend: ParameterLegend) -> [Row] {
        let rs = records.filter { $0.workload.name == workload && $0.tokens >= T }
        var out: [Row] = []
        for (inst, mine) in Dictionary(grouping: rs, by: StudyReport.instance) {
            var cells: [String: StudyRecord] = [:]
            for (recipe, runs) in Dictionary(grouping: mine, by: \.recipeName) {
                let longest = runs.map(\.tokens).max()!
                cells[recipe] = runs.filter { $0.tokens == longest }.max { worse($1, than: $0, at: T) }
            }
            out.append(Row(instance: inst, label: legend.label(mine[0]), family: StudyReport.family(mine[0]), cache: StudyReport.isCache(mine[0]), cells: cells))
        }
        let families = StudyPages.families.map(\.key)
        return out.sorted { (families.firstIndex(of: $0.family) ?? 99, $0.instance) < (families.firstIndex(of: $1.family) ?? 99, $1.instance) }
    }

    /// Whether `a`'s error at T is above `b`'s (NaN above everything).
    static func worse(_ a: StudyRecord, than b: StudyRecord, at T: Int) -> Bool {
        let ea = StudyReport.errorAt(a, T) ?? .nan, eb = StudyReport.errorAt(b, T) ?? .nan
        return ea.isNaN ? !eb.isNaN : (!eb.isNaN && ea > eb)
    }

    /// A matrix of rows × recipes (the recipes any row has, widest first) and the bytes per
    /// head at T of each row's widest recipe.
    static func matrix(_ rows: [Row], tokens T: Int, order: [String: Int]) -> String {
        let recipes = Array(Set(rows.flatMap(\.cells.keys))).sorted { (order[$0] ?? 0, $0) < (order[$1] ?? 0, $1) }
        var table = MarkdownTable(["variant"] + recipes + ["bytes"], align: [.left] + recipes.map { _ in .right } + [.right])
        for row in rows {
            var cells = ["[\(row.label)](\(StudyPages.familyPage(row.family)))"]
            for recipe in recipes {
                guard let r = row.cells[recipe] else { cells.append("–"); continue }
                cells.append(Compact.sci(StudyReport.errorAt(r, T), digits: 1) + mark(r.summary.verdict))
            }
            let widest = row.cells.values.min { (order[$0.recipeName] ?? 0) < (order[$1.recipeName] ?? 0) }
            let bytes = widest.flatMap { w in StudyReport.pointsAt(T, [w]).first?.bytes }
            cells.append(Compact.bytes(bytes))
            table.rows.append(cells)
        }
        // Many recipes (storage formats beside kernel profiles) split into tables that fit.
        return table.fitted().map { $0.render() }.joined(separator: "\n")
    }

    static func page(records: [StudyRecord], runInfo: [RunInfo], title: String?, notice: String?, pages: [(file: String, title: String)]) -> String {
        var md = "# \(title ?? "attnprec study")\n\n"
        if let notice { md += "> [!WARNING]\n> \(notice)\n\n" }
        let legend = ParameterLegend(records)
        let order = StudyReport.orderedRecipes(records)
        if let (w, T) = scope(records) {
            let rows = rows(records, workload: w, tokens: T, legend: legend)
            let findings = StudyFindings.sentences(records: records, rows: rows, workload: w, tokens: T, order: order)
            if !findings.isEmpty { md += "## Findings\n\n" + findings.map { "- \($0)\n" }.joined() + "\n" }
            let runs = Set(records.map(\.tokens)).sorted().map(Compact.tokens).joined(separator: "/")
            md += "## Verdicts at \(Compact.tokens(T)) tokens\n\nOutput error ‖o − ô‖/‖o‖ at \(Compact.tokens(T)) tokens on \(w) inputs, per variant (rows) and storage recipe (columns), with the verdict of each run at its end (runs of \(runs) tokens). "
            md += "Marks: " + marks.dropLast().map { "\($0.mark) \($0.meaning)" }.joined(separator: "; ") + " or NaN. "
            md += "Bytes: the KV cache or state of one head at \(Compact.tokens(T)) tokens in the widest recipe. The names link to each family's tables.\n\n"
            for (cache, heading) in [(true, "KV caches"), (false, "Recurrent states")] {
                let part = rows.filter { $0.cache == cache }
                guard !part.isEmpty else { continue }
                md += "### \(heading)\n\n" + matrix(part, tokens: T, order: order) + "\n"
            }
            md += legend.footnote(rows.compactMap { $0.cells.values.first })
        } else {
            md += "No records.\n\n"
        }
        md += "## Method\n\n" + method(records) + "\n\n"
        md += StudyPages.cautions(records)
        md += "## Pages\n\n" + pages.map { "- [\($0.title)](\($0.file))\n" }.joined()
        md += "\nEvery number comes from `results.jsonl` beside this file (`results.csv` has the same summaries).\n"
        return md
    }

    static func method(_ records: [StudyRecord]) -> String {
        let variants = Set(records.map(StudyReport.instance)).count, recipes = Set(records.map(\.recipeName)).count
        let workloads = Set(records.map(\.workload.name)).count
        return "Each of \(records.count) runs (\(variants) variant instances × \(recipes) storage recipes × \(workloads) input workloads, not every combination) decodes one head token by token with its KV cache or recurrent state stored in the recipe's formats and Float32 compute, beside a Float64 reference certified against MPFR on a prefix (and, for long recurrent runs, a later window). Inputs (q, k, v) are rounded identically for both, so the error measures storage and compute, not input conversion. Error at length T is the mean of the output relative error over the last min(64, T/16) positions up to T; the slope is a least-squares fit of log error against log t over [T/64, T] with its 95% interval; the theory of DESIGN §7 predicts a flat error for a cache written once, κu√(t/2) for an undecayed state and a saturation for a decayed one."
    }
}

extension StudyIndex {
    /// The marker comments around the README's excerpt of a report.
    public static func excerptMarkers(_ report: String) -> (begin: String, end: String) {
        ("<!-- report excerpt: \(report) (regenerated from it; a test checks they match) -->", "<!-- end of report excerpt -->")
    }

    /// The README's excerpt of a report's index: its answer (the matrices, their legend, the
    /// findings), headings made bold and relative links made relative to `folder`.
    public static func excerpt(_ index: String, folder: String) -> String {
        var body = index.components(separatedBy: "\n## Method")[0]
        body = body.split(separator: "\n", omittingEmptySubsequences: false).dropFirst().map { line -> String in
            if line.hasPrefix("### ") || line.hasPrefix("## ") { return "**\(line.drop { $0 == "#" }.dropFirst())**" }
            return String(line)
        }.joined(separator: "\n")
        body = body.replacing(#/\]\(([^)#:]+)\)/#) { "](\(folder)/\($0.output.1))" }
        return body.trimmingCharacters(in: .whitespacesAndNewlines) + "\n"
    }
}
