import Foundation
import NumberFormats
import Workloads

/// The verdict on one `conformance:` entry of a budgets file.
public struct ConformanceOutcome: Sendable {
    public var entry: ConformanceEntry
    public var result: ConformanceResult
    /// Which rule reproduces each class of differences (empty when it conforms).
    public var explanations: [Explanation]
    public var seconds: Double
    public var pass: Bool { result.conforms }
}

/// `attnprec validate`'s conformance half: each entry's files are read and checked before
/// anything is computed (`load`), then compared and, where they differ, explained.
public enum ConformanceGate {
    public static func load(_ file: BudgetsFile) throws -> [(ConformanceEntry, ConformJob)] {
        try file.conformance.map { ($0, try $0.load(file: file.file)) }
    }

    public static func evaluate(_ jobs: [(ConformanceEntry, ConformJob)]) -> [ConformanceOutcome] {
        jobs.map { entry, job in
            let start = Date()
            let result = job.compare()
            let explanations = result.conforms ? [] : job.explain(result)
            return ConformanceOutcome(entry: entry, result: result, explanations: explanations, seconds: Date().timeIntervalSince(start))
        }
    }

    /// One line per entry, then each failure's classes and explanations.
    public static func table(_ outcomes: [ConformanceOutcome]) -> String {
        guard !outcomes.isEmpty else { return "" }
        var s = "conformance:\n"
        for o in outcomes {
            s += "  \(o.pass ? "pass" : "FAIL") \(o.entry.name): \(o.result.verdict)\n"
            for e in o.explanations {
                s += "       \(e.kind.rawValue) (\(e.count)): " + (e.match.map { "these match \($0)" } ?? "no alternative tried reproduces them") + "\n"
            }
        }
        let failed = outcomes.filter { !$0.pass }.count
        return s + "\(outcomes.count) conformance check\(outcomes.count == 1 ? "" : "s"), \(outcomes.count - failed) conform, \(failed) fail\n"
    }

    /// The step summary's conformance section.
    public static func markdown(_ outcomes: [ConformanceOutcome]) -> String {
        guard !outcomes.isEmpty else { return "" }
        var s = "\n#### Format conformance\n\n| check | format | verdict | codes differing | scales differing |\n|---|---|---|---:|---:|\n"
        for o in outcomes {
            let r = o.result
            s += "| \(o.entry.name) | `\(r.spec)` | \(o.pass ? "✅ conforms" : "❌ differs") | \(r.codeMismatches) of \(r.elementCount) | \(r.scaleMismatches) |\n"
        }
        for o in outcomes where !o.pass {
            s += "\n**\(o.entry.name)**: " + o.result.counts.map { "\($0.1) \($0.0.rawValue)" }.joined(separator: ", ") + "\n"
            for e in o.explanations where e.match != nil { s += "- \(e.kind.rawValue): these match \(e.match!)\n" }
        }
        return s
    }

    /// A `<testsuite>` with each entry's cases (`NAME/codes`, `NAME/scales` …).
    public static func junitSuite(_ outcomes: [ConformanceOutcome], file: String) -> (xml: String, tests: Int, failures: Int) {
        let cases = outcomes.flatMap { o in
            o.result.junitCases(name: o.entry.name + "/", classname: "attnprec.conformance", file: file)
        }
        let failures = cases.filter { $0.contains("<failure") }.count
        let time = String(format: "%.3f", outcomes.reduce(0) { $0 + $1.seconds })
        let head = "  <testsuite name=\"conformance\" tests=\"\(cases.count)\" failures=\"\(failures)\" errors=\"0\" skipped=\"0\" time=\"\(time)\">\n"
        return (head + cases.joined() + "  </testsuite>\n", cases.count, failures)
    }
}

extension ConformanceGate {
    /// The budgets' JUnit document with the conformance suite added and the `<testsuites>`
    /// totals updated (tests, failures). A document with no budgets gets a bare wrapper.
    public static func junit(merging budgets: String?, _ outcomes: [ConformanceOutcome], file: String) -> String {
        let suite = junitSuite(outcomes, file: file)
        guard let budgets, !outcomes.isEmpty else { return budgets ?? junitAlone(outcomes, file: file, seconds: 0) }
        var lines = budgets.components(separatedBy: "\n")
        if let k = lines.firstIndex(where: { $0.hasPrefix("<testsuites") }) {
            lines[k] = add(suite.tests, to: "tests", in: add(suite.failures, to: "failures", in: lines[k]))
        }
        if let end = lines.lastIndex(of: "</testsuites>") { lines.insert(String(suite.xml.dropLast()), at: end) }
        return lines.joined(separator: "\n")
    }

    /// A JUnit document of the conformance suite alone (a budgets file with no budgets).
    public static func junitAlone(_ outcomes: [ConformanceOutcome], file: String, seconds: Double) -> String {
        let suite = junitSuite(outcomes, file: file)
        return "<?xml version=\"1.0\" encoding=\"UTF-8\"?>\n<testsuites name=\"attnprec validate\" tests=\"\(suite.tests)\" failures=\"\(suite.failures)\" errors=\"0\" time=\"\(String(format: "%.3f", seconds))\">\n"
            + suite.xml + "</testsuites>\n"
    }

    /// `tag` with the integer attribute `name` increased by `n`.
    static func add(_ n: Int, to name: String, in tag: String) -> String {
        guard let r = tag.range(of: " \(name)=\"") else { return tag }
        let digits = tag[r.upperBound...].prefix { $0.isNumber }
        let old = Int(digits) ?? 0
        return tag.replacingCharacters(in: r.upperBound..<tag.index(r.upperBound, offsetBy: digits.count), with: String(old + n))
    }
}
