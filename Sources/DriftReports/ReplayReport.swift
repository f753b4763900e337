import AttentionVariants
import DriftStudy
import Foundation
import NumberFormats

/// The report of `attnprec replay` (DESIGN.md §9), laid out by issue 20's rules: `report.md`
/// answers in one screen — one row per series (each recipe's emulation and each compared
/// kernel output: mean, max and last error, the final state's error, and the ratio to the first
/// compared kernel), at most five findings generated from the errors, each linking what proves
/// it — then the error-by-position plot, the method in a paragraph and the page of per-position
/// errors. `errors.json` beside it holds every number.
public enum ReplayReport: Reporter {
    static let positionsPage = "positions.md", plotName = "replay-error.svg"

    /// Writes the plot, `positions.md` and `report.md` (last) of `runInfo` with `records` as its
    /// series into `dir`; returns the path of `report.md`.
    @discardableResult
    public static func write(records: [Replay.Series], runInfo: Replay.Result, to dir: String, title: String) throws -> String {
        var r = runInfo
        r.series = records
        try AtomicFile.write(Data(plot(r).render().utf8), to: "\(dir)/plots/\(plotName)", creatingFolders: true)
        try AtomicFile.write(Data(positions(r, title: title).utf8), to: "\(dir)/\(positionsPage)", creatingFolders: true)
        try AtomicFile.write(Data(index(r, title: title).utf8), to: "\(dir)/report.md", creatingFolders: true)
        return "\(dir)/report.md"
    }

    /// Writes the report of a replay's result under its default title.
    @discardableResult
    public static func write(_ r: Replay.Result, to dir: String) throws -> String {
        try write(records: r.series, runInfo: r, to: dir, title: title(r))
    }

    /// "Replay: gated_deltanet (qwen3-next) on gdn.safetensors".
    public static func title(_ r: Replay.Result) -> String {
        "Replay: \(r.variant)\(r.preset.map { " (\($0))" } ?? "") on \(URL(fileURLWithPath: r.inputs).lastPathComponent)"
    }

    /// Reads a replay folder's `errors.json` (for `attnprec report DIR`); an unreadable file is
    /// an `InputError` naming it.
    public static func load(dir: String) throws -> Replay.Result {
        let path = "\(dir)/errors.json"
        guard let data = FileManager.default.contents(atPath: path) else { throw InputError("\(path): cannot read") }
        do { return try StudyJSON.decoder().decode(Replay.Result.self, from: data) } catch {
            throw InputError("\(path): not a replay's errors.json (\(HybridReport.describe(error)))")
        }
    }

    /// The answer table and the findings: what `attnprec replay` prints.
    public static func summary(_ r: Replay.Result) -> String {
        var s = answer(r) + "\n" + certification(r) + "\n"
        let f = findings(r, linked: false)
        if !f.isEmpty { s += "\n" + f.map { "- \($0)\n" }.joined() }
        return s
    }

    // MARK: Pages

    static func index(_ r: Replay.Result, title: String) -> String {
        var md = "# \(title)\n\n## Answer\n\n" + scope(r) + "\n\n" + answer(r)
        let legend = recipeLegend(r)
        if !legend.isEmpty { md += "\n" + legend + "\n" }
        let f = findings(r, linked: true)
        if !f.isEmpty { md += "\n## Findings\n\n" + f.map { "- \($0)\n" }.joined() }
        if !r.series.isEmpty { md += "\n![Error by position](plots/\(plotName))\n" }
        md += "\n## Method\n\n" + method(r) + "\n\n## Pages\n\n"
        md += "- [Error at each position](\(positionsPage)): the errors at log-spaced positions, every series side by side\n"
        md += "\nEvery number comes from `errors.json` beside this file (every position's error); the outputs are the `o_*.npy` files.\n"
        return MarkdownTable.fitting(md)
    }

    static func scope(_ r: Replay.Result) -> String {
        var s = "\(r.tokens) positions of `\(r.inputs)`, output \(shape(r.outputShape))"
        if let st = r.stateShape { s += ", state \(shape(st))" }
        s += ". Err: ‖o − o_ref‖₂/‖o_ref‖₂ over all heads of a position, o_ref the exact reference; mean and max over the positions, "
        s += "last: the last position; state: the final state's relative error"
        if let k = r.series.first(where: { $0.kind == "compare" }) { s += "; ×\(k.name): the series' mean over `\(k.name)`'s" }
        return s + ". NaN: an output was not finite."
    }

    static func shape(_ s: [Int]) -> String { "[" + s.map(String.init).joined(separator: ", ") + "]" }

    /// One row per series, in the order given.
    static func answer(_ r: Replay.Result) -> String {
        let kernel = r.series.first { $0.kind == "compare" }
        var heads = ["series", "kind", "mean", "max", "last", "state"]
        if let kernel { heads.append("×\(kernel.name)") }
        var t = MarkdownTable(heads, align: [.left, .left] + Array(repeating: .right, count: heads.count - 2))
        for e in r.series {
            var row = [e.name, e.kind, Compact.sci(e.meanOutputRelErr), Compact.sci(e.maxOutputRelErr), Compact.sci(e.outputRelErr.last), Compact.sci(e.finalStateRelErr)]
            if let kernel { row.append(ratio(e.meanOutputRelErr, kernel.meanOutputRelErr)) }
            t.rows.append(row)
        }
        return t.render()
    }

    /// a / b as "1.02×" (three significant digits), "–" when undefined.
    static func ratio(_ a: Double, _ b: Double) -> String {
        guard a.isFinite, b.isFinite, b > 0 else { return a.isNaN || b.isNaN ? "NaN" : "–" }
        let q = a / b
        return (q >= 100 ? String(format: "%.0f", q) : q >= 10 ? String(format: "%.1f", q) : String(format: "%.2f", q)) + "×"
    }

    /// The recipe each labelled series stands for, where the label does not spell it.
    static func recipeLegend(_ r: Replay.Result) -> String {
        let named = r.series.compactMap { e -> String? in
            guard let roles = e.recipe, let text = recipeText(e) else { return nil }
            // A name that spells the recipe's roles in any order needs no legend.
            var rest = e.name
            for k in roles.keys.sorted() {
                guard let at = rest.range(of: Replay.fileName("\(k)=\(roles[k]!)")) else { return "`\(e.name)` = `\(text)`" }
                rest.removeSubrange(at)
            }
            return rest.allSatisfy { $0 == "_" } ? nil : "`\(e.name)` = `\(text)`"
        }
        return named.isEmpty ? "" : "Recipes: " + named.joined(separator: "; ") + "."
    }

    static func recipeText(_ e: Replay.Series) -> String? {
        e.recipe.map { roles in roles.keys.sorted().map { "\($0)=\(roles[$0]!)" }.joined(separator: ",") }
    }

    static func method(_ r: Replay.Result) -> String {
        let c = r.reference
        var s = "The reference runs the variant's exact recurrence in Float64 on the inputs as given; each recipe's emulation runs "
        s += "in Float32 with the recipe's store points rounded, and each compared output is read as it was written. "
        if c.certifiedTokens > 0 {
            s += "The reference was certified on its first \(c.certifiedTokens) positions (\(r.stateShape == nil ? "all heads" : "head 0")): "
            s += "Float64 vs MPFR-\(c.bits) \(Compact.sci(c.fastVsMPFROutput)), MPFR-\(c.bits) vs MPFR-\(2 * c.bits) \(Compact.sci(c.mpfrPVs2POutput)): "
            s += c.pass == true ? "pass." : "**FAIL** — errors below that level mean nothing."
        } else {
            s += "The reference was not certified (`--certify-tokens 0`)."
        }
        return s
    }

    /// The per-position page: the plot and the errors at log-spaced positions.
    static func positions(_ r: Replay.Result, title: String) -> String {
        var md = "# \(title): error at each position\n\n"
        md += "‖o − o_ref‖₂/‖o_ref‖₂ at the first 16 positions, two per octave after them and the last; `errors.json` holds every "
        md += "position. [Back to the report](report.md).\n\n"
        guard !r.series.isEmpty else { return md + "No series.\n" }
        md += "![Error by position](plots/\(plotName))\n\n"
        var t = MarkdownTable(["position"] + r.series.map(\.name), align: Array(repeating: .right, count: r.series.count + 1))
        let schedule = EvaluationSchedule.sampled(tokens: r.tokens, perOctave: 2)
        for p in 0..<r.tokens where schedule.contains(p) {
            t.rows.append(["\(p)"] + r.series.map { Compact.sci($0.outputRelErr.indices.contains(p) ? $0.outputRelErr[p] : nil) })
        }
        return MarkdownTable.fitting(md + t.render())
    }

    /// Each series' error by position (1-based, log–log; 16 points an octave and the last);
    /// zero errors are not drawn, a series with non-finite outputs says so in its label.
    static func plot(_ r: Replay.Result) -> SVGPlot {
        var plot = SVGPlot(title: "Error by position", xLabel: "position (1-based)", yLabel: "output relative error")
        let schedule = EvaluationSchedule.sampled(tokens: r.tokens, perOctave: 16)
        for (i, e) in r.series.enumerated() {
            let pts = e.outputRelErr.indices.filter(schedule.contains).compactMap { p -> (Double, Double)? in
                let x = e.outputRelErr[p]
                return x.isFinite && x > 0 ? (Double(p + 1), x) : nil
            }
            var label = e.name
            if let n = e.nonFinitePositions { label += " (NaN at \(n) positions)" } else if e.maxOutputRelErr == 0 { label += " (= reference)" }
            plot.series.append(SVGPlot.Series(label: label, points: pts, color: i, markers: pts.count < 2))
        }
        return plot
    }

    // MARK: Findings

    /// At most five sentences, each computed from the errors and (when `linked`) linking what
    /// proves it: the reference's certification, each compared kernel against its closest
    /// emulation, the recipes' spread, growth along the sequence, non-finite outputs.
    static func findings(_ r: Replay.Result, linked: Bool) -> [String] {
        // " ([text](target))" on the page, nothing in the terminal.
        func see(_ text: String, _ target: String) -> String { linked ? " ([\(text)](\(target)))" : "" }
        var out: [String] = []
        for e in r.series where e.firstNonFinite != nil {
            out.append("`\(e.name)` is not finite at \(e.nonFinitePositions ?? 0) of \(r.tokens) positions, the first at position \(e.firstNonFinite!): its mean and max are NaN\(see("positions", positionsPage)).")
        }
        let c = r.reference
        if c.certifiedTokens > 0 && c.pass != true {
            out.append("The reference **failed** its certification: Float64 vs MPFR-\(c.bits) \(Compact.sci(c.fastVsMPFROutput)) on \(c.certifiedTokens) positions\(see("method", "#method")).")
        }
        let recipes = r.series.filter { $0.kind == "recipe" && $0.meanOutputRelErr.isFinite }
        for k in r.series.filter({ $0.kind == "compare" && $0.meanOutputRelErr.isFinite }).prefix(2) {
            out.append(closest(k, recipes) + see("answer", "#answer") + ".")
        }
        if recipes.count >= 2, let lo = recipes.min(by: { $0.meanOutputRelErr < $1.meanOutputRelErr }),
           let hi = recipes.max(by: { $0.meanOutputRelErr < $1.meanOutputRelErr }), lo.meanOutputRelErr > 0 {
            out.append("Among the recipes, `\(hi.name)` errs most (mean \(Compact.sci(hi.meanOutputRelErr))) and `\(lo.name)` least "
                       + "(\(Compact.sci(lo.meanOutputRelErr))), \(ratio(hi.meanOutputRelErr, lo.meanOutputRelErr)) apart\(see("answer", "#answer")).")
        }
        if let g = growth(r) { out.append(g + see("error by position", positionsPage) + ".") }
        return Array(out.prefix(5))
    }

    /// The reference's certification in a sentence (what the terminal prints above the findings).
    static func certification(_ r: Replay.Result) -> String {
        let c = r.reference
        guard c.certifiedTokens > 0 else { return "Reference not certified (--certify-tokens 0)." }
        return "Reference certified on its first \(c.certifiedTokens) positions: Float64 vs MPFR-\(c.bits) \(Compact.sci(c.fastVsMPFROutput)); \(c.pass == true ? "pass" : "FAIL")."
    }

    /// A compared kernel and the recipe whose mean error is nearest its own (by ratio).
    static func closest(_ k: Replay.Series, _ recipes: [Replay.Series]) -> String {
        if k.maxOutputRelErr == 0 { return "`\(k.name)` equals the reference at every position" }
        var s = "`\(k.name)` has a mean error of \(Compact.sci(k.meanOutputRelErr)) (max \(Compact.sci(k.maxOutputRelErr)))"
        let near = recipes.filter { $0.meanOutputRelErr > 0 }.min { abs(log($0.meanOutputRelErr / k.meanOutputRelErr)) < abs(log($1.meanOutputRelErr / k.meanOutputRelErr)) }
        guard let near else { return s }
        let q = k.meanOutputRelErr / near.meanOutputRelErr
        if q >= 0.5 && q <= 2 {
            s += "; the nearest emulation is `\(near.name)` (\(Compact.sci(near.meanOutputRelErr))): the kernel errs \(ratio(k.meanOutputRelErr, near.meanOutputRelErr)) as much"
        } else {
            s += ", \(ratio(max(q, 1 / q), 1)) \(q < 1 ? "below" : "above") the nearest emulation, `\(near.name)` (\(Compact.sci(near.meanOutputRelErr))): "
            s += "no recipe given explains its error"
        }
        return s
    }

    /// The series whose error grows most from the first to the last window of positions
    /// (w = min(64, T/16) positions each, T ≥ 32), or that none grows more than 2×.
    static func growth(_ r: Replay.Result) -> String? {
        guard r.tokens >= 32 else { return nil }
        let w = min(64, r.tokens / 16)
        func mean(_ x: ArraySlice<Double>) -> Double { x.reduce(0, +) / Double(x.count) }
        let grown = r.series.compactMap { e -> (String, Double, Double, Double)? in
            guard e.outputRelErr.count == r.tokens else { return nil }
            let a = mean(e.outputRelErr.prefix(w)), b = mean(e.outputRelErr.suffix(w))
            return a.isFinite && b.isFinite && a > 0 ? (e.name, a, b, b / a) : nil
        }
        guard let top = grown.max(by: { $0.3 < $1.3 }) else { return nil }
        if top.3 <= 2 { return "No series' error grows more than 2× along the sequence: the mean over the last \(w) positions is at most \(ratio(top.2, top.1)) that over the first \(w)" }
        return "`\(top.0)`'s error grows most along the sequence: \(Compact.sci(top.1)) over the first \(w) positions, \(Compact.sci(top.2)) over the last \(w) (\(ratio(top.2, top.1)))"
    }
}
