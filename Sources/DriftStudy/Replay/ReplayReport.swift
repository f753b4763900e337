import Foundation
import AttentionVariants

extension Replay {
    /// report.md: the reference's certification, a summary per series, and per-position errors
    /// side by side at a log-spaced sample of positions.
    public static func report(_ r: Result) -> String {
        func f(_ x: Double?) -> String {
            guard let x else { return "—" }
            if x.isNaN { return "NaN" }
            return x == 0 ? "0" : String(format: "%.3e", x)
        }
        var s = "# Replay: \(r.variant)\(r.preset.map { " (\($0))" } ?? "") on \(r.inputs)\n\n"
        s += "\(r.tokens) positions, output \(r.outputShape)\(r.stateShape.map { ", state \($0)" } ?? ""). "
        s += "Errors are ‖o − o_ref‖₂/‖o_ref‖₂ over all heads of a position; o_ref is the Float64 reference"
        let c = r.reference
        s += " (certified on its first \(c.certifiedTokens) positions, \(r.stateShape == nil ? "all heads" : "head 0"): Float64 vs MPFR-\(c.bits) \(f(c.fastVsMPFROutput)), "
        s += "MPFR-\(c.bits) vs MPFR-\(2 * c.bits) \(f(c.mpfrPVs2POutput)); \(c.pass == true ? "pass" : "FAIL")).\n\n"
        s += "| series | kind | max | mean | at last position | final state |\n|---|---|---|---|---|---|\n"
        for e in r.series {
            s += "| \(e.name) | \(e.kind) | \(f(e.maxOutputRelErr)) | \(f(e.meanOutputRelErr)) | \(f(e.outputRelErr.last)) | \(f(e.finalStateRelErr)) |\n"
        }
        for e in r.series {
            guard let first = e.firstNonFinite else { continue }
            s += "\n**\(e.name): not finite at \(e.nonFinitePositions ?? 0) of \(r.tokens) positions, the first at position \(first).**\n"
        }
        guard !r.series.isEmpty else { return s }
        let schedule = EvaluationSchedule.sampled(tokens: r.tokens, perOctave: 2)
        s += "\n| position | " + r.series.map(\.name).joined(separator: " | ") + " |\n|---|" + String(repeating: "---|", count: r.series.count) + "\n"
        for t in 0..<r.tokens where schedule.contains(t) {
            s += "| \(t) | " + r.series.map { f($0.outputRelErr[t]) }.joined(separator: " | ") + " |\n"
        }
        return s
    }
}
