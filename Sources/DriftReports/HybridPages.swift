import DriftStudy
import Foundation
import HybridStacks

/// The detail pages of a hybrid report, each readable on its own: attribution, depth, length,
/// memory–error, method and reproduction. Every table is split to fit GitHub's column.
enum HybridPages {
    /// Every page: the detail pages, then `report.md`.
    static func all(_ set: HybridSet, runInfo: RunInfo?, plots: [String], title: String, dir: String) -> [(file: String, markdown: String)] {
        var pages: [(file: String, title: String, markdown: String)] = []
        let sections: [(String, String, String)] = [
            (HybridReport.attributionPage, "Attribution: each source of error alone", attribution(set)),
            (HybridReport.depthPage, "Error through depth", depth(set, plots: plots)),
            (HybridReport.lengthPage, "Error by length: hidden state, KL, top-1", length(set, plots: plots)),
            (HybridReport.memoryPage, "Memory per sequence versus error", memory(set, plots: plots)),
            (HybridReport.methodPage, "Method: stacks, checkpoints, recipes", method(set)),
            (HybridReport.reproductionPage, "Reproduction", reproduction(runInfo, dir: dir)),
        ]
        for (file, heading, body) in sections where !body.isEmpty { pages.append((file, heading, body)) }
        let back = "[← \(title)](report.md)\n\n"
        var out = pages.map { (file: $0.file, markdown: MarkdownTable.fitting(back + $0.markdown)) }
        out.append(("report.md", MarkdownTable.fitting(HybridReport.index(set, title: title, pages: pages.map { ($0.file, $0.title) }))))
        return out
    }

    static func ratio(_ x: Double) -> String { HybridFindings.ratio(x) }

    /// Per stack and recipe: each source alone, its share, √Σ against the all-rounded error.
    static func attribution(_ set: HybridSet) -> String {
        var md = "# Attribution: each source of error alone\n\nEach source of a recipe (one layer type's stores, or the residual stream between layers) is rounded alone while everything else stays at compute precision; err is the final hidden state's relative error at the run's last length. Share: the source's squared error over the sum of squares. If the sources' errors were independent, the quadrature sum √Σ would equal the all-rounded error: a ratio √Σ/all far from 1 means they interact (below 1: they compound; above 1: they cancel).\n\n"
        var any = false
        for s in set.stacks {
            let rows = set.full(s).compactMap { r in set.attribution(r).map { (r, $0) } }
            guard !rows.isEmpty else { continue }
            any = true
            var t = MarkdownTable(["recipe", "source alone", "err", "share", "KL", "top-1"], align: [.left, .left, .right, .right, .right, .right])
            var sum = MarkdownTable(["recipe", "√Σ alone", "all rounded", "ratio"], align: [.left, .right, .right, .right])
            for (r, a) in rows {
                for p in set.parts(r).sorted(by: { $0.only! < $1.only! }) {
                    let share = a.sources.first { $0.name == p.only }?.share ?? .nan
                    t.rows.append([r.recipeName, p.only!, Compact.sci(p.finalError), HybridFindings.pct(share), Compact.sci(HybridSet.kl(p).last), HybridSet.top1Text(p, p.top1.count - 1)])
                }
                sum.rows.append([r.recipeName, Compact.sci(a.quadrature), Compact.sci(r.finalError), ratio(a.ratio)])
            }
            md += "## \(set.label(s))\n\nAt \(Compact.tokens(rows[0].0.lengths.last ?? rows[0].0.tokens)) tokens.\n\n" + t.render() + "\n" + sum.render() + "\n"
        }
        return any ? md : md + "No attribution runs (set `attribution: true` in the config).\n"
    }

    /// Per stack: the depth plot and the residual error at a few depths beside the prediction.
    static func depth(_ set: HybridSet, plots: [String]) -> String {
        var md = "# Error through depth\n\nPer stack, the residual stream's relative error after each layer (MLP blocks count as layers) at the run's last length, one solid line per recipe; dashed, same colour: the independent-errors prediction √(Σ_sources e_source(l)²) from the runs with each source rounded alone. Markers show where each mixer type sits (on the curve of the recipe with the largest error). Both axes are logarithmic: errors added independently at every layer grow as √l, a straight line of slope ½.\n\n"
        for s in set.stacks {
            let rs = set.full(s)
            md += "## \(set.label(s))\n\n"
            let name = HybridPlots.depthName(set.label(s))
            if plots.contains(name) { md += "![\(name)](plots/\(name))\n\n" }
            guard let first = rs.first, !first.layers.isEmpty else { continue }
            let n = first.layers.count
            // The first and last layers, each quarter's end and each mixer type's last layer.
            let lastOfKind = Set(first.layers.filter { $0 != "mlp" }).compactMap { k in first.layers.lastIndex(of: k).map { $0 + 1 } }
            let at = Array(Set([1, max(1, n / 4), max(1, n / 2), max(1, 3 * n / 4), n] + lastOfKind)).sorted()
            var t = MarkdownTable(["layer", "type"] + rs.flatMap { [$0.recipeName, "√Σ"] }, align: [.right, .left] + rs.flatMap { _ in [MarkdownTable.Align.right, .right] })
            for l in at {
                var row = ["\(l)", first.layers[l - 1]]
                for r in rs {
                    let res = HybridSet.residual(r), p = HybridPlots.prediction(set.parts(r))
                    row += [l <= res.count ? Compact.sci(res[l - 1]) : "–", l <= p.count ? Compact.sci(p[l - 1]) : "–"]
                }
                t.rows.append(row)
            }
            t.dropEmptyColumns()
            md += t.render() + "\n√Σ: the prediction of the recipe to its left.\n\n"
        }
        return md
    }

    /// Per stack: the length plot and the error, KL and top-1 at every measured length.
    static func length(_ set: HybridSet, plots: [String]) -> String {
        var md = "# Error by length\n\nPer stack and recipe, at each measured length (1024·2ᵏ below the run's length, and the length itself): the final hidden state's relative error (the mean over the last min(64, T/16) positions up to T), the logits' KL(p‖p̂) and top-1 agreement there. A run that stored a non-finite value reads NaN at every length.\n\n"
        for s in set.stacks {
            md += "## \(set.label(s))\n\n"
            let name = HybridPlots.lengthName(set.label(s))
            if plots.contains(name) { md += "![\(name)](plots/\(name))\n\n" }
            var t = MarkdownTable(["recipe", "T", "err", "KL", "top-1"], align: [.left, .right, .right, .right, .right])
            for r in set.full(s) {
                let e = HybridSet.errors(r), kl = HybridSet.kl(r)
                for (i, L) in r.lengths.enumerated() {
                    t.rows.append([r.recipeName, Compact.tokens(L), i < e.count ? Compact.sci(e[i]) : "–", i < kl.count ? Compact.sci(kl[i]) : "–", HybridSet.top1Text(r, i)])
                }
            }
            md += t.render() + "\n"
        }
        return md
    }

    /// The memory–error plot and its table, the frontier starred.
    static func memory(_ set: HybridSet, plots: [String]) -> String {
        var md = "# Memory per sequence versus error\n\nOne point per stack × recipe: the bytes one sequence holds at 32k tokens at the model's full width (every state page, conv state and KV cache of every layer, scales included; a store the recipe leaves unrounded counts at fp32) against the final hidden state's error measured at the stack's reduced width and the run's last length. ★ and the dashed line: the Pareto frontier — no other point holds fewer bytes with a lower error; NaN errors are never on it.\n\n"
        if plots.contains(HybridPlots.memoryName) { md += "![\(HybridPlots.memoryName)](plots/\(HybridPlots.memoryName))\n\n" }
        let pts = HybridPlots.points(set)
        let frontier = Set(StudyReport.paretoFrontier(pts.map { ($0.record.key, $0.bytes, $0.error) }))
        var t = MarkdownTable(["stack", "recipe", "bytes 32k", "bytes 128k", "fixed", "err", "frontier"], align: [.left, .left, .right, .right, .right, .right, .left])
        for p in pts.sorted(by: { ($0.bytes, $0.record.key) < ($1.bytes, $1.record.key) }) {
            t.rows.append([set.label(p.stack), p.record.recipeName, Compact.bytes(p.bytes), Compact.bytes(p.record.bytesPerSequence["131072"]),
                           Compact.bytes(p.record.fixedBytes), Compact.sci(p.error), frontier.contains(p.record.key) ? "★" : ""])
        }
        return md + t.render() + "\nFixed: the part that does not grow with the context (recurrent state pages and conv states).\n"
    }

    static func reproduction(_ info: RunInfo?, dir: String) -> String {
        var md = "# Reproduction\n\nEvery number in this report comes from `results.jsonl` beside it.\n\n"
        if let info {
            md += info.reproductionBullets
            md += "- wall time: \(String(format: "%.1f", info.wallSeconds)) s for \(info.records) records, started \(info.started)\n"
        } else {
            md += "No run.json was found beside the results.\n"
        }
        return md + "\nRegenerate this report from the results alone with `attnprec report \(dir)`.\n"
    }
}
