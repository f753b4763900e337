import DriftStudy
import Foundation
import HybridStacks
import NumberFormats

/// The report of a hybrid study: per stack, the final hidden state's error and the logits' KL
/// and top-1 agreement per recipe, bytes per sequence at full width, and the attribution of the
/// error to each source rounded alone against the all-rounded error.
public enum HybridReport: Reporter {
    @discardableResult
    public static func write(records: [HybridRecord], runInfo: RunInfo, to dir: String, title: String) throws -> String {
        var md = "# \(title)\n\n"
        md += answer(records)
        md += "\n" + attribution(records)
        md += "\n## Method\n\n" + method(records)
        md += "\n## Reproduction\n\n" + runInfo.reproductionBullets
        let path = "\(dir)/report.md"
        try ResultsStore.writeAtomically(Data(MarkdownTable.fitting(md).utf8), to: path)
        return path
    }

    /// The stacks in the order they first appear.
    static func stacks(_ records: [HybridRecord]) -> [String] {
        var seen: [String] = []
        for r in records where !seen.contains(r.stack) { seen.append(r.stack) }
        return seen
    }

    static func answer(_ records: [HybridRecord]) -> String {
        var t = MarkdownTable(["stack", "recipe", "tokens", "hidden err", "KL", "top-1", "bytes/seq 32k", "bytes/seq 128k"],
                              align: [.left, .left, .right, .right, .right, .right, .right, .right])
        for r in records where r.only == nil {
            t.rows.append([r.stack, r.recipeName, Compact.tokens(r.tokens), Compact.sci(r.finalError), Compact.sci(r.logitsKL.last),
                           r.top1.last.map { String(format: "%.3f", $0) } ?? "–", Compact.bytes(r.bytesPerSequence["32768"]), Compact.bytes(r.bytesPerSequence["131072"])])
        }
        return "## Answer\n\nRelative error of the final hidden state (after the final norm) at the last length, the logits' "
            + "KL(p‖p̂) and top-1 agreement there, and the bytes one sequence holds at the model's full width.\n\n" + t.render()
    }

    static func attribution(_ records: [HybridRecord]) -> String {
        var t = MarkdownTable(["stack", "recipe", "source alone", "hidden err", "share"], align: [.left, .left, .left, .right, .right])
        var ratios: [String] = []
        for all in records where all.only == nil {
            let parts = records.filter { $0.stack == all.stack && $0.tokens == all.tokens && $0.recipeName == all.recipeName && $0.only != nil }
            guard !parts.isEmpty else { continue }
            let quad = parts.reduce(0) { $0 + $1.finalError * $1.finalError }.squareRoot()
            for p in parts {
                t.rows.append([all.stack, all.recipeName, p.only!, Compact.sci(p.finalError), String(format: "%.0f%%", 100 * p.finalError * p.finalError / (quad * quad))])
            }
            ratios.append("\(all.stack) \(all.recipeName): √Σ = \(Compact.sci(quad)) vs all \(Compact.sci(all.finalError)) (ratio \(String(format: "%.2f", quad / all.finalError)))")
        }
        guard !t.rows.isEmpty else { return "" }
        return "## Attribution\n\nEach source of a recipe rounded alone (a layer type's stores, or the residual stream); the share is its "
            + "squared error over the quadrature sum. A quadrature sum far from the all-rounded error means the errors interact.\n\n"
            + t.render() + "\n" + ratios.map { "- \($0)" }.joined(separator: "\n") + "\n"
    }

    static func method(_ records: [HybridRecord]) -> String {
        var s = ""
        for name in stacks(records) {
            guard let r = records.first(where: { $0.stack == name }) else { continue }
            s += "- **\(name)** (\(r.checkpoint), [config](\(r.source))): \(r.layers.count) layers at width \(r.width) (d_model \(r.dModel)), \(r.form) form, pattern `\(r.pattern)`.\n"
        }
        return s + "\nEvery stack runs layer by layer over the whole sequence: the Float64 reference and each Float32 emulation "
            + "step through depth together; weights are seeded bfloat16 values shared by both. Errors are the mean over the last "
            + "min(64, T/16) positions up to each length.\n"
    }
}
