import Foundation
import HybridStacks

/// The plots of a hybrid report: per stack, the residual error through depth and the final
/// hidden error by length; one memory–error plot of every stack × recipe.
enum HybridPlots {
    static func depthName(_ label: String) -> String { "depth-\(StudyReport.slug(label)).svg" }
    static func lengthName(_ label: String) -> String { "length-\(StudyReport.slug(label)).svg" }
    static let memoryName = "memory-error.svg"

    /// Whether a file in `plots/` is one this report draws (stale ones are removed).
    static func isPlot(_ file: String) -> Bool {
        file.hasSuffix(".svg") && (file.hasPrefix("depth-") || file.hasPrefix("length-") || file == memoryName)
    }

    static func all(_ set: HybridSet) -> [(name: String, svg: String)] {
        var out: [(name: String, svg: String)] = []
        for s in set.stacks {
            out.append((depthName(set.label(s)), depth(set, s).render()))
            out.append((lengthName(set.label(s)), length(set, s).render()))
        }
        if !set.stacks.isEmpty { out.append((memoryName, memory(set).render())) }
        return out
    }

    /// The independent-errors prediction per layer: √(Σ_sources e_source(l)²) of the sources
    /// rounded alone (empty without them).
    static func prediction(_ parts: [HybridRecord]) -> [Double] {
        guard let n = parts.map(\.residualRelErr.count).min(), n > 0 else { return [] }
        return (0..<n).map { l in parts.reduce(0) { $0 + pow(HybridSet.residual($1)[l], 2) }.squareRoot() }
    }

    /// A series' label, NaN named.
    static func label(_ r: HybridRecord) -> String { r.storedNonFinite > 0 ? "\(r.recipeName) (NaN: non-finite stores)" : r.recipeName }

    /// Solid: each recipe's residual error after every layer; dashed, same colour: the
    /// independent-errors prediction; markers: the layers of each mixer type (MLP blocks
    /// unmarked) on the curve of the recipe with the largest error. Log–log: errors that add
    /// independently at each layer grow as √l, a line of slope ½.
    static func depth(_ set: HybridSet, _ s: String) -> SVGPlot {
        let rs = set.full(s)
        var plot = SVGPlot(title: "\(set.label(s)): residual error through depth", xLabel: "layer index l (1 = first layer; MLP blocks count)", yLabel: "residual stream relative error")
        for (c, r) in rs.enumerated() {
            plot.series.append(SVGPlot.Series(label: label(r), points: HybridSet.residual(r).enumerated().map { (Double($0 + 1), $1) }, color: c))
            let p = prediction(set.parts(r))
            if !p.isEmpty {
                var theory = SVGPlot.Series(label: r.recipeName, points: p.enumerated().map { (Double($0 + 1), $1) }, color: c, dashed: true)
                theory.suffix = " √Σ sources alone"
                plot.series.append(theory)
            }
        }
        guard let top = rs.filter({ $0.finalError.isFinite }).max(by: { HybridSet.worse($1.finalError, than: $0.finalError) }) else { return plot }
        let res = HybridSet.residual(top)
        let kinds = top.layers.reduce(into: [String]()) { if $1 != "mlp" && !$0.contains($1) { $0.append($1) } }
        for (i, k) in kinds.enumerated() {
            let at = top.layers.indices.filter { top.layers[$0] == k && $0 < res.count }
            plot.series.append(SVGPlot.Series(label: "\(k) layers (on \(top.recipeName))", points: at.map { (Double($0 + 1), res[$0]) }, color: rs.count + i, markers: true))
        }
        return plot
    }

    /// The final hidden error by length, one line per recipe (markers when one length).
    static func length(_ set: HybridSet, _ s: String) -> SVGPlot {
        var plot = SVGPlot(title: "\(set.label(s)): final hidden error by length", xLabel: "length T (tokens)", yLabel: "final hidden state relative error")
        for (c, r) in set.full(s).enumerated() {
            let pts = zip(r.lengths, HybridSet.errors(r)).map { (Double($0), $1) }
            plot.series.append(SVGPlot.Series(label: label(r), points: pts, color: c, markers: pts.count < 2))
        }
        return plot
    }

    /// Points of the memory–error plot and table: every stack × full recipe with bytes at 32k.
    static func points(_ set: HybridSet) -> [(stack: String, record: HybridRecord, bytes: Double, error: Double)] {
        set.stacks.flatMap { s in set.full(s).compactMap { r in r.bytesPerSequence["32768"].map { (s, r, $0, r.finalError) } } }
    }

    /// One marker series per stack (a point per recipe), the Pareto frontier dashed and
    /// labelled, its points named.
    static func memory(_ set: HybridSet) -> SVGPlot {
        let pts = points(set)
        let frontier = Set(StudyReport.paretoFrontier(pts.map { ($0.record.key, $0.bytes, $0.error) }))
        var plot = SVGPlot(title: "Memory per sequence vs final hidden error", xLabel: "bytes per sequence at 32k tokens, full width", yLabel: "final hidden error at the last length")
        for (i, s) in set.stacks.enumerated() {
            let mine = pts.filter { $0.stack == s }
            plot.series.append(SVGPlot.Series(label: set.label(s), points: mine.map { ($0.bytes, $0.error) }, color: i, markers: true,
                                              labels: mine.map { frontier.contains($0.record.key) ? "\(set.label(s)) \($0.record.recipeName)" : "" }))
        }
        let on = pts.filter { frontier.contains($0.record.key) }.sorted { $0.bytes < $1.bytes }
        var line = SVGPlot.Series(label: "Pareto frontier", points: on.map { ($0.bytes, $0.error) }, color: -1, dashed: true)
        line.endLabel = "Pareto frontier"
        plot.series.append(line)
        return plot
    }
}
