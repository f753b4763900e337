import AttentionVariants
import DriftStudy
import Foundation
import NumberFormats

/// Writes `report.md`, `plots/*.svg` and `results.csv` from results alone.
public enum StudyReport {
    public static func sci(_ x: Double?) -> String {
        guard let x else { return "–" }
        if x.isNaN { return "NaN" }
        if x.isInfinite { return x > 0 ? "∞" : "−∞" }
        if x == 0 { return "0" }
        return String(format: "%.2e", x)
    }

    static func slug(_ s: String) -> String {
        String(s.lowercased().map { $0.isLetter || $0.isNumber ? $0 : "-" })
            .split(separator: "-", omittingEmptySubsequences: true).joined(separator: "-")
    }

    /// The label of a variant instance: name plus overrides and decay.
    static func instance(_ r: StudyRecord) -> String {
        let p = presetText(r)
        return r.variant + (p.isEmpty ? "" : " (\(p))") + gatesText(r)
    }

    static func presetText(_ r: StudyRecord) -> String {
        r.preset == "default" ? "" : r.preset.replacingOccurrences(of: "key_dim=", with: "K=").replacingOccurrences(of: "value_dim=", with: "V=")
            .replacingOccurrences(of: "head_dim=", with: "d=")
    }

    static func gatesText(_ r: StudyRecord) -> String {
        r.workload.gates == "default" ? "" : " a=\(r.workload.gates.replacingOccurrences(of: "constant(", with: "").replacingOccurrences(of: ")", with: ""))"
    }

    /// The variant family of a record (softmax, sparse, linear, ssm, delta), from the registry.
    static func family(_ r: StudyRecord) -> String { VariantRegistry.definition(r.variant)?.family.rawValue ?? "other" }

    /// Whether the record keeps a KV cache (bytes grow with the context) rather than a state.
    static func isCache(_ r: StudyRecord) -> Bool { r.summary.bytesPerToken.map { $0 > 0 } ?? false }

    /// The error a table reports for `r` at length L (nil when L > tokens).
    static func errorAt(_ r: StudyRecord, _ L: Int) -> Double? { L <= r.tokens ? r.summary.error(at: L) : nil }

    /// Writes everything into `dir`; returns the report path.
    @discardableResult
    public static func write(records: [StudyRecord], runInfo: [RunInfo], to dir: String, title: String = "attnprec study") throws -> String {
        try write(records: records, runInfo: runInfo, to: dir, title: title, notice: nil)
    }

    /// `write`, with `notice` (e.g. a partial merge) shown as a warning under the title.
    /// `report.md` is the index (the answer, the method, links); the detail pages beside it
    /// and the plots they show are written first, `report.md` last (atomically), then the
    /// plots and pages of an earlier report that this one does not write: whenever the
    /// process stops, the pages on disk link only files that exist.
    @discardableResult
    public static func write(records: [StudyRecord], runInfo: [RunInfo], to dir: String, title: String, notice: String?) throws -> String {
        let fm = FileManager.default
        try AtomicFile.createFolder("\(dir)/plots")
        let records = records.sorted { $0.key < $1.key }
        let plots = StudyPlots.drift(records) + StudyPlots.memoryError(records)
        let pages = StudyPages.all(records: records, runInfo: runInfo, plots: plots.map(\.name), title: title, dir: dir, notice: notice)
        for p in plots { try AtomicFile.write(Data(p.svg.utf8), to: "\(dir)/plots/\(p.name)", creatingFolders: true) }
        try AtomicFile.write(Data(csv(records).utf8), to: "\(dir)/results.csv", creatingFolders: true)
        for p in pages where p.file != "report.md" { try AtomicFile.write(Data(p.markdown.utf8), to: "\(dir)/\(p.file)", creatingFolders: true) }
        for p in pages where p.file == "report.md" { try AtomicFile.write(Data(p.markdown.utf8), to: "\(dir)/\(p.file)", creatingFolders: true) }
        let drawn = Set(plots.map(\.name))
        for old in (try? fm.contentsOfDirectory(atPath: "\(dir)/plots")) ?? []
        where (old.hasPrefix("drift-") || old.hasPrefix("memory-error-")) && old.hasSuffix(".svg") && !drawn.contains(old) {
            try? fm.removeItem(atPath: "\(dir)/plots/\(old)")
        }
        let written = Set(pages.map(\.file))
        for old in (try? fm.contentsOfDirectory(atPath: dir)) ?? [] where StudyPages.isDetailPage(old) && !written.contains(old) {
            try? fm.removeItem(atPath: "\(dir)/\(old)")
        }
        return "\(dir)/report.md"
    }

    /// The length most records of `rs` share (ties: the longer), where points compare.
    static func commonLength(_ rs: [StudyRecord]) -> Int? {
        let counts = Dictionary(grouping: rs, by: \.tokens).mapValues(\.count)
        return counts.max { a, b in a.value != b.value ? a.value < b.value : a.key < b.key }?.key
    }

    /// Each (variant instance, recipe, workload) at its longest length.
    static func longest(_ records: [StudyRecord]) -> [StudyRecord] {
        var best: [String: StudyRecord] = [:]
        for r in records {
            let k = "\(instance(r))|\(r.recipeName)|\(r.workload.name)|\(r.workload.seed)"
            if let b = best[k], b.tokens >= r.tokens { continue }
            best[k] = r
        }
        return best.values.sorted { $0.key < $1.key }
    }

    static func orderedRecipes(_ records: [StudyRecord]) -> [String: Int] {
        var order: [String: Int] = [:]
        // Order of first appearance in key order is arbitrary; order by memory instead (widest first).
        var memory: [String: Double] = [:]
        for r in records { memory[r.recipeName] = max(memory[r.recipeName] ?? 0, r.summary.memoryBytes) }
        let names: [String] = memory.keys.sorted { (a: String, b: String) -> Bool in
            let ma = memory[a]!, mb = memory[b]!
            return ma != mb ? ma > mb : a < b
        }
        for (i, n) in names.enumerated() { order[n] = i }
        return order
    }

    /// Each (variant instance, recipe) that reaches `T` in `rs`, with its bytes at T (a cache:
    /// T × bytes per token; a state: its bytes) and its error at T (from its longest run).
    static func pointsAt(_ T: Int, _ rs: [StudyRecord]) -> [(record: StudyRecord, bytes: Double, error: Double)] {
        longest(rs.filter { $0.tokens >= T }).compactMap { r in
            // A cache holds min(T, what it held at its end): T entries, or a sliding window's W + n.
            let bytes = r.summary.bytesPerToken.map { b in b > 0 ? b * min(Double(T), (r.summary.memoryBytes / b).rounded()) : 0 }
                ?? r.summary.stateBytes ?? r.summary.memoryBytes
            return (r, bytes, r.summary.error(at: T) ?? .nan)
        }
    }

    /// Keys of the points not dominated in (memory, error); NaN errors never qualify.
    public static func paretoFrontier(_ points: [(String, Double, Double)]) -> [String] {
        let valid = points.filter { $0.2.isFinite }
        return valid.filter { p in !valid.contains { q in q.1 <= p.1 && q.2 <= p.2 && (q.1 < p.1 || q.2 < p.2) } }.map(\.0)
    }

    public static func csv(_ records: [StudyRecord]) -> String {
        var s = "key,variant,preset,recipe,workload,seed,tokens,err_1k,err_8k,err_64k,err_end,slope,slope_low,slope_high,saturation,first_1e-3,first_1e-2,first_1e-1,non_finite,memory_bytes,theory_law,theory_end,verdict,min_cosine,cache_rel_err,attention_kl,topk_overlap_mean,topk_overlap_min\n"
        func q(_ x: String) -> String { x.contains(",") || x.contains("\"") ? "\"\(x.replacingOccurrences(of: "\"", with: "\"\""))\"" : x }
        func n(_ x: Double?) -> String { x.map { $0.isNaN ? "NaN" : "\($0)" } ?? "" }
        for r in records {
            let cross = r.summary.firstCrossing.map { $0.position.map(String.init) ?? "" }
            s += [q(r.key), r.variant, q(r.preset), q(r.recipeName), q(r.workload.name), "\(r.workload.seed)", "\(r.tokens)",
                  n(errorAt(r, 1024)), n(errorAt(r, 8192)), n(errorAt(r, 65536)), n(r.summary.errorAt.last?.outputRelErr),
                  n(r.summary.slope?.slope), n(r.summary.slope?.slopeLow), n(r.summary.slope?.slopeHigh), n(r.summary.saturation)]
                .joined(separator: ",") + "," + (cross + ["", "", ""]).prefix(3).joined(separator: ",")
                + ",\(r.summary.nonFinite),\(r.summary.memoryBytes),\(r.theory.law ?? ""),\(n(r.theory.predictedAtEnd)),\(r.summary.verdict),"
                + [r.summary.minCosine, r.summary.cacheRelErr, r.summary.attentionKL, r.summary.topkOverlapMean, r.summary.topkOverlapMin].map(n).joined(separator: ",") + "\n"
        }
        return s
    }
}
