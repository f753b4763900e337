import DriftStudy
import Foundation

/// At most five sentences of findings, computed from the records (no number typed by hand),
/// each linking the table or plot that shows it.
enum StudyFindings {
    static func sentences(records: [StudyRecord], rows: [StudyIndex.Row], workload w: String, tokens T: Int, order: [String: Int]) -> [String] {
        [formats(rows, tokens: T, order: order), frontier(records, workload: w, tokens: T), growing(records), theory(records), reference(records)].compactMap { $0 }
    }

    static func link(_ row: StudyIndex.Row) -> String { "[\(row.label)](\(StudyPages.familyPage(row.family)))" }

    static func list(_ items: [String], limit: Int = 6) -> String {
        items.count <= limit ? items.joined(separator: ", ") : items.prefix(limit).joined(separator: ", ") + " and \(items.count - limit) more"
    }

    /// Which recipes no variant fails with at T, and the widest recipe where some fail.
    static func formats(_ rows: [StudyIndex.Row], tokens T: Int, order: [String: Int]) -> String? {
        let recipes = Array(Set(rows.flatMap(\.cells.keys))).sorted { (order[$0] ?? 0, $0) < (order[$1] ?? 0, $1) }
        guard !recipes.isEmpty else { return nil }
        let failing = { (r: String) in rows.filter { ["fails", "nan"].contains($0.cells[r]?.summary.verdict ?? "") } }
        let clean = recipes.filter { failing($0).isEmpty }
        var s = clean.isEmpty ? "Every recipe fails (✗) somewhere at \(Compact.tokens(T)) tokens" : "No run fails (✗) at \(Compact.tokens(T)) tokens with \(clean.joined(separator: ", "))"
        if let first = recipes.first(where: { !failing($0).isEmpty }) {
            let bad = failing(first)
            s += "; the widest recipe with failures is \(first), failing for \(bad.count) of \(rows.filter { $0.cells[first] != nil }.count) variants (\(list(bad.map(link))))"
        }
        return s + "."
    }

    /// The memory–error frontier at T: how many caches and states, and its points.
    static func frontier(_ records: [StudyRecord], workload w: String, tokens T: Int) -> String? {
        let pts = StudyReport.pointsAt(T, records.filter { $0.workload.name == w })
        let keys = Set(StudyReport.paretoFrontier(pts.map { ($0.record.key, $0.bytes, $0.error) }))
        let on = pts.filter { keys.contains($0.record.key) }.sorted { $0.bytes < $1.bytes }
        guard !on.isEmpty else { return nil }
        let caches = on.filter { StudyReport.isCache($0.record) }.count
        let names = on.map { "\(StudyReport.instance($0.record)) \($0.record.recipeName) (\(Compact.bytes($0.bytes)), \(Compact.sci($0.error, digits: 1)))" }
        return "At \(Compact.tokens(T)) tokens on \(w) inputs the [memory–error frontier](\(StudyPages.memoryPage)) holds \(caches) KV cache\(caches == 1 ? "" : "s") and \(on.count - caches) state\(on.count - caches == 1 ? "" : "s"): \(list(names))."
    }

    /// How many runs still grow at their end, and the steepest, linked to its drift plot.
    static func growing(_ records: [StudyRecord]) -> String? {
        let atEnd = StudyReport.longest(records)
        let growing = atEnd.filter { ($0.summary.slope?.slopeLow ?? 0) > 0.1 && $0.summary.verdict != "nan" }
        guard let steep = growing.max(by: { ($0.summary.slope?.slope ?? 0, $1.key) < ($1.summary.slope?.slope ?? 0, $0.key) }) else {
            return "No run is still growing at its end (no log–log slope above 0.1 at 95% confidence; [drift plots](\(StudyPages.driftPage)))."
        }
        let slope = String(format: "%.2f", steep.summary.slope?.slope ?? .nan)
        return "\(growing.count) of \(atEnd.count) runs still grow at their end (log–log slope above 0.1 at 95% confidence); the steepest is \(StudyReport.instance(steep)) with \(steep.recipeName) on \(steep.workload.name) inputs, slope \(slope) to \(Compact.tokens(steep.tokens)) tokens ([plot](plots/\(StudyPlots.driftName(steep))))."
    }

    /// How many runs lie within 4× of their closed-form prediction, and the furthest.
    static func theory(_ records: [StudyRecord]) -> String? {
        let with = StudyReport.longest(records).filter { $0.theory.ratio.map { $0.isFinite && $0 > 0 } ?? false }
        guard !with.isEmpty else { return nil }
        let within = with.filter { (0.25...4).contains($0.theory.ratio!) }.count
        let far = with.max { (abs(log($0.theory.ratio!)), $1.key) < (abs(log($1.theory.ratio!)), $0.key) }!
        let page = StudyPages.familyPage(StudyReport.family(far))
        return "\(within) of \(with.count) runs with a closed-form prediction (DESIGN §7) lie within 4× of it; the furthest, \(StudyReport.instance(far)) with \(far.recipeName) on \(far.workload.name) inputs, measures \(Compact.sci(far.summary.errorAt.last?.outputRelErr, digits: 1)) against \(Compact.sci(far.theory.predictedAtEnd, digits: 1)) predicted ([table](\(page)))."
    }

    /// How far the reference is from MPFR, against the smallest reported error.
    static func reference(_ records: [StudyRecord]) -> String? {
        guard let worst = StudyPages.worstReference(records), let smallest = StudyPages.smallestError(records) else { return nil }
        let factor = smallest / max(worst, .leastNonzeroMagnitude)
        let verb = factor >= 100 ? "at least 100×" : "only \(String(format: "%.0f", factor))×"
        return "The Float64 reference is within \(Compact.sci(worst, digits: 1)) of MPFR wherever it was certified, \(verb) below the smallest reported error (\(Compact.sci(smallest, digits: 1)); [certification](\(StudyPages.certificationPage)))."
    }
}
