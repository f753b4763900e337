import Foundation
import ServingScenarios

extension ScenarioReport {
    /// A reproduced table: per cell (recipe, in the config's order) the paper's value, ours
    /// (the mean over seeds) at each length and their quotient, and each cell relative to the
    /// first row, ours and the paper's (the comparison that does not depend on the output's scale).
    static func reproduce(_ rs: [ScenarioRecord]) -> String {
        let lengths = Array(Set(rs.map(\.tokens))).sorted(), seeds = Set(rs.map(\.seed)).count
        let rows = Array(Set(rs.map { $0.parameters["row"] ?? 0 })).sorted()
        let main = lengths.last!
        func mean(_ row: Int, _ T: Int, _ key: String) -> Double? {
            let v = rs.filter { ($0.parameters["row"] ?? 0) == row && $0.tokens == T }.compactMap { $0.summary[key] }
            return v.isEmpty ? nil : v.reduce(0, +) / Double(v.count)
        }
        func ratio(_ a: Double?, _ b: Double?) -> String {
            guard let a, let b, b > 0, a.isFinite else { return "–" }
            return String(format: "%.2f", a / b)
        }
        let first = rows.first!, firstSeed = rs.map(\.seed).min()!
        var md = "## Reproduced table: \(rs[0].memory)\n\n"
        md += "Cells: RMSE √(mean (o − ô)²) of the output elements against the Float64 run, mean over \(seeds) seed\(seeds == 1 ? "" : "s"), at the positions that see (almost) every key (the last window of each length). **÷ paper**: ours over the paper's value. **÷ row 1**: each cell over the table's first row — ours and the paper's — the comparison that does not depend on the outputs' magnitude (RMSE is absolute: it scales with |o|, which falls with the number of keys).\n\n"
        md += "| cell | paper |" + lengths.map { " ours T=\($0) | ÷ paper |" }.joined() + " ours ÷ row 1 (T=\(main)) | paper ÷ row 1 | rel. error (T=\(main)) |\n"
        md += "|---|---:|" + String(repeating: "---:|---:|", count: lengths.count) + "---:|---:|---:|\n"
        var recipes = ""
        for row in rows {
            guard let any = rs.first(where: { ($0.parameters["row"] ?? 0) == row }) else { continue }
            let paper = any.summary["paper_rmse"]
            let shown = rs.first { ($0.parameters["row"] ?? 0) == row && $0.tokens == main && $0.seed == firstSeed } ?? any
            let shownRoles = shown.recipe.keys.sorted().map { "\($0)=\(shown.recipe[$0]!)" }.joined(separator: ", ")
            recipes += "- `\(any.recipeName)`: \(shownRoles.isEmpty ? "inputs only" : shownRoles)\n"
            var line = "| \(any.recipeName) | \(StudyReport.sci(paper)) |"
            for T in lengths {
                let ours = mean(row, T, "rmse")
                line += " \(StudyReport.sci(ours)) | \(ratio(ours, paper)) |"
            }
            let firstPaper = rs.first { ($0.parameters["row"] ?? 0) == first }?.summary["paper_rmse"]
            line += " \(ratio(mean(row, main, "rmse"), mean(first, main, "rmse"))) | \(ratio(paper, firstPaper)) | \(StudyReport.sci(mean(row, main, "output_rel_err"))) |\n"
            md += line
        }
        return md + "\nThe cells' recipes (every store point, the per-tensor scales as computed for seed \(firstSeed) at T = \(main)):\n\n" + recipes + "\n"
    }
}
