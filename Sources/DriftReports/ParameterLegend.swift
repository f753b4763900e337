import DriftStudy

/// Variant parameters as footnote marks, so a table's variant column stays narrow: a row shows
/// `gated_deltanet²` and a line under the table `² qwen3-next,head=0`. The marks are numbered
/// once per report (in instance order), so a mark means the same on every page.
struct ParameterLegend {
    private var marks: [String: Int] = [:]

    init(_ records: [StudyRecord]) {
        let params = Set(records.map(Self.parameters)).filter { !$0.isEmpty }.sorted()
        for (i, p) in params.enumerated() { marks[p] = i + 1 }
    }

    /// "K=128,V=128", "qwen3-next,head=0", "K=128,V=128 a=0.999"; "" for the default preset.
    static func parameters(_ r: StudyRecord) -> String {
        (StudyReport.presetText(r) + StudyReport.gatesText(r)).trimmingCharacters(in: .whitespaces)
    }

    static func superscript(_ n: Int) -> String {
        let digits = Array("⁰¹²³⁴⁵⁶⁷⁸⁹")
        return String(String(n).map { digits[Int(String($0))!] })
    }

    /// The variant name with its parameters' mark.
    func label(_ r: StudyRecord) -> String {
        marks[Self.parameters(r)].map { r.variant + Self.superscript($0) } ?? r.variant
    }

    /// The line under a table naming the marks its rows use ("" when none).
    func footnote(_ rows: [StudyRecord]) -> String {
        let used = Set(rows.map(Self.parameters)).compactMap { p in marks[p].map { ($0, p) } }.sorted { $0.0 < $1.0 }
        guard !used.isEmpty else { return "" }
        return "Parameters: " + used.map { "\(Self.superscript($0.0)) \($0.1)" }.joined(separator: " · ") + ".\n\n"
    }
}
