import DriftStudy
import Foundation

/// The CI gate's outputs: the console table, JUnit XML (GitHub, GitLab, Jenkins) and a
/// markdown summary (GitHub's step summary). Nothing in the table or the summary depends on
/// wall time, so both are identical for any `--jobs`.
public enum GateReport {
    /// One row per checked limit: budget, metric, measured (worst seed), limit, verdict, margin.
    public struct Row: Equatable, Sendable {
        public var budget: String
        public var metric: String
        public var measured: String
        public var limit: String
        public var verdict: String
        public var margin: String
    }

    public static func rows(_ outcomes: [BudgetOutcome]) -> [Row] {
        var out: [Row] = []
        for o in outcomes {
            let nonFinite = o.records.contains { $0.summary.anyNonFinite }
            for c in o.checks {
                let metric = c.metric == "slope" ? "slope[T/64,T]" : "\(c.metric)@\(o.budget.tokens)"
                var verdict = c.pass ? "pass" : "FAIL"
                if nonFinite { verdict = "FAIL (NaN)" } else if o.problems.isEmpty == false && c.pass { verdict = "FAIL (ref)" }
                out.append(Row(
                    budget: o.budget.name, metric: metric, measured: c.measured.map(c.text) ?? "n/a", limit: c.text(c.limit), verdict: verdict,
                    margin: margin(c)))
            }
        }
        return out
    }

    static func margin(_ c: BudgetCheck) -> String {
        guard let m = c.margin else { return "—" }
        if c.metric == "slope" { return String(format: "%+.3f", m) }
        return abs(m) < 10 ? String(format: "%+.1f%%", m * 100) : String(format: "%+.2g%%", m * 100)
    }

    static func counts(_ outcomes: [BudgetOutcome]) -> (pass: Int, fail: Int) {
        let p = outcomes.filter(\.pass).count
        return (p, outcomes.count - p)
    }

    /// The console table and the failure reasons; deterministic.
    public static func table(_ outcomes: [BudgetOutcome], file: String) -> String {
        let header = Row(budget: "budget", metric: "metric", measured: "measured", limit: "limit", verdict: "verdict", margin: "margin")
        let all = [header] + rows(outcomes)
        func width(_ k: KeyPath<Row, String>) -> Int { all.map { $0[keyPath: k].count }.max() ?? 0 }
        let w = [width(\.budget), width(\.metric), width(\.measured), width(\.limit), width(\.verdict), width(\.margin)]
        func pad(_ s: String, _ n: Int, right: Bool = false) -> String {
            let fill = String(repeating: " ", count: max(0, n - s.count))
            return right ? fill + s : s + fill
        }
        var lines: [String] = []
        for r in all {
            let cells = [pad(r.budget, w[0]), pad(r.metric, w[1]), pad(r.measured, w[2], right: true), pad(r.limit, w[3], right: true),
                         pad(r.verdict, w[4]), pad(r.margin, w[5], right: true)]
            lines.append(cells.joined(separator: "  ").trimmingCharacters(in: .whitespaces))
        }
        lines.insert(w.map { String(repeating: "-", count: $0) }.joined(separator: "  "), at: 1)
        var s = lines.joined(separator: "\n") + "\n"
        for o in outcomes {
            if let m = o.failureMessage { s += "FAIL \(o.budget.name): \(m)\n" }
        }
        let (p, f) = counts(outcomes)
        s += "\(file): \(outcomes.count) budget\(outcomes.count == 1 ? "" : "s"), \(p) hold, \(f) fail\n"
        return s
    }

    /// A markdown summary: a headline with the verdict, the table, and the failures.
    public static func markdown(_ outcomes: [BudgetOutcome], file: String) -> String {
        let (p, f) = counts(outcomes)
        var s = "### attnprec validate `\(file)`: " + (f == 0 ? "all \(p) budgets hold ✅" : "\(f) of \(outcomes.count) budgets fail ❌") + "\n\n"
        s += "| budget | metric | measured | limit | verdict | margin |\n|---|---|---:|---:|---|---:|\n"
        for r in rows(outcomes) {
            let verdict = r.verdict == "pass" ? "✅ pass" : "❌ \(r.verdict)"
            s += "| \(cell(r.budget)) | `\(r.metric)` | \(r.measured) | \(r.limit) | \(verdict) | \(r.margin) |\n"
        }
        let failures = outcomes.compactMap { o in o.failureMessage.map { (o.budget.name, $0) } }
        if !failures.isEmpty {
            s += "\n> [!CAUTION]\n"
            for (name, m) in failures { s += "> **\(cell(name))**: \(cell(m))  \n" }
        }
        s += "\nMeasured: the worst seed's error at length T (the mean of `output_rel_err` over the last min(64, T/16) positions up to T) against an MPFR-certified Float64 reference; margin = (limit − measured)/limit (slopes: limit − measured).\n"
        return MarkdownTable.fitting(s)
    }

    static func cell(_ s: String) -> String { s.replacingOccurrences(of: "|", with: "\\|").replacingOccurrences(of: "\n", with: " ") }

    /// JUnit XML in the common schema: testsuites > testsuite > testcase (one per budget) >
    /// failure; times in seconds.
    public static func junit(_ outcomes: [BudgetOutcome], file: String, totalSeconds: Double, timestamp: Date = Date()) -> String {
        let (_, f) = counts(outcomes)
        let suite = URL(fileURLWithPath: file).deletingPathExtension().lastPathComponent
        let time = String(format: "%.3f", totalSeconds)
        let stamp = ISO8601DateFormatter().string(from: timestamp)
        var s = "<?xml version=\"1.0\" encoding=\"UTF-8\"?>\n"
        s += "<testsuites name=\"attnprec validate\" tests=\"\(outcomes.count)\" failures=\"\(f)\" errors=\"0\" time=\"\(time)\">\n"
        s += "  <testsuite name=\"\(xml(suite))\" tests=\"\(outcomes.count)\" failures=\"\(f)\" errors=\"0\" skipped=\"0\" time=\"\(time)\" timestamp=\"\(stamp)\">\n"
        let allRows = rows(outcomes)
        for o in outcomes {
            s += "    <testcase name=\"\(xml(o.budget.name))\" classname=\"attnprec.budgets.\(xml(suite))\" file=\"\(xml(file))\" line=\"\(o.budget.line)\" time=\"\(String(format: "%.3f", o.seconds))\">\n"
            let detail = allRows.filter { $0.budget == o.budget.name }
                .map { "\($0.metric): measured \($0.measured), limit \($0.limit), \($0.verdict), margin \($0.margin)" }
            let context = "variant \(o.budget.variant.name) (\(o.budget.variant.preset)), recipe \(o.records.first.map { $0.recipe.sorted { $0.key < $1.key }.map { "\($0.key)=\($0.value)" }.joined(separator: ",") } ?? o.budget.recipe.name), tokens \(o.budget.tokens), seeds \(o.budget.seeds.map(String.init).joined(separator: ","))"
            if let m = o.failureMessage {
                let type = o.records.contains { $0.summary.anyNonFinite } ? "NonFinite" : (o.problems.isEmpty ? "BudgetExceeded" : "ReferenceNotCertified")
                s += "      <failure message=\"\(xml(m))\" type=\"\(type)\">\(xml(([context] + detail + o.problems).joined(separator: "\n"), attribute: false))</failure>\n"
            }
            s += "      <system-out>\(xml(([context] + detail + o.budget.keys.map { "key: \($0)" }).joined(separator: "\n"), attribute: false))</system-out>\n"
            s += "    </testcase>\n"
        }
        s += "  </testsuite>\n</testsuites>\n"
        return s
    }

    /// Escapes text for XML attributes and content; drops characters XML 1.0 cannot hold.
    public static func xml(_ s: String, attribute: Bool = true) -> String {
        var out = ""
        out.reserveCapacity(s.count)
        for u in s.unicodeScalars {
            switch u {
            case "&": out += "&amp;"
            case "<": out += "&lt;"
            case ">": out += "&gt;"
            case "\"": out += "&quot;"
            case "'": out += "&apos;"
            case "\n": out += attribute ? "&#10;" : "\n"
            case "\t": out += attribute ? "&#9;" : "\t"
            case "\r": out += "&#13;"
            default:
                let v = u.value
                let allowed = (v >= 0x20 && v <= 0xD7FF) || (v >= 0xE000 && v <= 0xFFFD) || v >= 0x10000
                if allowed { out.unicodeScalars.append(u) }
            }
        }
        return out
    }
}
