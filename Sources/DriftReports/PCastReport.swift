import Foundation
import ServingScenarios

extension ScenarioReport {
    /// P-collapse: per recipe (the scale S before the cast), per sink strength Δ, the measured
    /// fraction of non-sink P values flushed to zero in forward and reverse block order beside
    /// the paper's leading-order prediction and the prediction averaged over the sink maximum;
    /// the output error of both orders (means over seeds).
    static func pCast(_ rs: [ScenarioRecord]) -> String {
        let any = rs[0], seeds = Set(rs.map(\.seed)).count
        var md = "## P-collapse under a sink\n\n"
        md += "\(any.parameters["queries"] ?? 0) query rows over \(any.tokens) keys, \(any.parameters["sink_tokens"] ?? 0) sink tokens whose scores sit Δ above standard-normal ones, key blocks of \(any.parameters["block"] ?? 0); P multiplied by S, cast (the recipe's `p`), divided back. **measured**: the fraction of non-sink P values the cast flushes to zero (mean over \(seeds) seed\(seeds == 1 ? "" : "s")); **paper**: its leading-order Φ(Δ + δ_k + ln(u/2) − ln S) (u the format's least subnormal, δ_k the expected sink maximum); **over M**: the same averaged over the sink maximum M's distribution, in reverse times the sink block's share of the keys (the only block that meets the sink's max). Output error ‖o − ô‖/‖o‖ against the Float64 run without the cast.\n\n"
        func mean(_ rows: [ScenarioRecord], _ key: String) -> Double? {
            let v = rows.compactMap { $0.summary[key] }
            return v.isEmpty ? nil : v.reduce(0, +) / Double(v.count)
        }
        func fraction(_ x: Double?) -> String {
            guard let x else { return "–" }
            return x == 0 ? "0" : x < 1e-3 ? String(format: "%.1e", x) : String(format: "%.4f", x)
        }
        let sinkValues = Array(Set(rs.compactMap { $0.summary["sink_values"] })).sorted(by: >)
        for name in Array(Set(rs.map(\.recipeName))).sorted() {
          for sv in sinkValues {
            let mine = rs.filter { $0.recipeName == name && $0.summary["sink_values"] == sv }
            let S = mine.first?.summary["scale"] ?? .nan
            md += "### \(name): S = \(String(format: "%g", S)), sink values × \(String(format: "%g", sv))\n\n"
            md += "| Δ | forward measured | paper | over M | reverse measured | over M | output err forward | reverse |\n|---:|---:|---:|---:|---:|---:|---:|---:|\n"
            for delta in Array(Set(mine.compactMap { $0.summary["sink_strength"] })).sorted() {
                let at = mine.filter { $0.summary["sink_strength"] == delta }
                let fwd = at.filter { $0.labels["order"] == "forward" }, rev = at.filter { $0.labels["order"] == "reverse" }
                md += "| \(String(format: "%g", delta)) | \(fraction(mean(fwd, "underflow_fraction"))) | \(fraction(mean(fwd, "predicted"))) | \(fraction(mean(fwd, "predicted_over_max"))) | "
                md += "\(fraction(mean(rev, "underflow_fraction"))) | \(fraction(mean(rev, "predicted_over_max"))) | \(StudyReport.sci(mean(fwd, "output_rel_err"))) | \(StudyReport.sci(mean(rev, "output_rel_err"))) |\n"
            }
            md += "\n"
          }
        }
        return md
    }
}
