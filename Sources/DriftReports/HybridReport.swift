import DriftStudy
import Foundation
import HybridStacks
import NumberFormats

/// The report of a hybrid study (issue 19), laid out by issue 20's rules: `report.md` is an index
/// that answers in one screen — a matrix stack × recipe of the final hidden state's error at the
/// last length, KL and top-1 there and the bytes one sequence holds at full width (32k, 128k),
/// then at most five findings generated from the records, each linking the page that proves
/// it — and links pages that each read on their own: attribution, depth, length,
/// memory–error, method, reproduction.
public enum HybridReport: Reporter {
    static let attributionPage = "attribution.md", depthPage = "depth.md", lengthPage = "length.md"
    static let memoryPage = "memory-error.md", methodPage = "method.md", reproductionPage = "reproduction.md"
    static let pages = [attributionPage, depthPage, lengthPage, memoryPage, methodPage, reproductionPage]

    /// Writes the plots, the pages and `report.md` (last, atomically) into `dir`, then removes
    /// the plots and pages of an earlier hybrid report that this one does not write; returns the
    /// path of `report.md`.
    @discardableResult
    public static func write(records: [HybridRecord], runInfo: RunInfo?, to dir: String, title: String) throws -> String {
        let set = HybridSet(records)
        let plots = HybridPlots.all(set)
        let files = HybridPages.all(set, runInfo: runInfo, plots: plots.map(\.name), title: title, dir: dir)
        for p in plots { try AtomicFile.write(Data(p.svg.utf8), to: "\(dir)/plots/\(p.name)", creatingFolders: true) }
        for p in files where p.file != "report.md" { try AtomicFile.write(Data(p.markdown.utf8), to: "\(dir)/\(p.file)", creatingFolders: true) }
        for p in files where p.file == "report.md" { try AtomicFile.write(Data(p.markdown.utf8), to: "\(dir)/\(p.file)", creatingFolders: true) }
        let fm = FileManager.default, drawn = Set(plots.map(\.name)), written = Set(files.map(\.file))
        for old in (try? fm.contentsOfDirectory(atPath: "\(dir)/plots")) ?? [] where HybridPlots.isPlot(old) && !drawn.contains(old) {
            try? fm.removeItem(atPath: "\(dir)/plots/\(old)")
        }
        for old in pages where !written.contains(old) && fm.fileExists(atPath: "\(dir)/\(old)") { try? fm.removeItem(atPath: "\(dir)/\(old)") }
        return "\(dir)/report.md"
    }

    /// The records of results lines (key → line), each checked: a line that is not a hybrid
    /// record is an `InputError` naming its key and what is wrong.
    public static func records(lines: [String: String]) throws -> [HybridRecord] {
        try lines.keys.sorted().map { k in
            do { return try HybridRecord.decoder().decode(HybridRecord.self, from: Data(lines[k]!.utf8)) } catch {
                throw InputError("record '\(k)': not a hybrid record (\(describe(error)))")
            }
        }
    }

    /// A decoding error in words: the field and what is wrong with it.
    static func describe(_ error: Error) -> String {
        func path(_ c: DecodingError.Context) -> String { c.codingPath.map(\.stringValue).joined(separator: ".") }
        switch error as? DecodingError {
        case .keyNotFound(let key, _): return "missing field '\(key.stringValue)'"
        case .typeMismatch(let type, let c), .valueNotFound(let type, let c): return "field '\(path(c))': expected \(type)"
        case .dataCorrupted(let c): return path(c).isEmpty ? "not valid JSON" : "field '\(path(c))' is malformed"
        default: return "unreadable"
        }
    }

    /// Whether a results line is a hybrid record.
    public static func isHybrid(line: String) -> Bool { line.contains("\"variant\":\"hybrid\"") }

    /// The index: the answer matrix, the findings, the method in a paragraph, the pages.
    static func index(_ set: HybridSet, title: String, pages: [(file: String, title: String)]) -> String {
        var md = "# \(title)\n\n"
        guard !set.stacks.isEmpty else { return md + "No records.\n" }
        md += "## Answer\n\n" + scope(set) + "\n\n" + answer(set)
        let findings = HybridFindings.sentences(set)
        if !findings.isEmpty { md += "\n## Findings\n\n" + findings.map { "- \($0)\n" }.joined() }
        md += "\n## Method\n\n" + method(set) + "\n\n## Pages\n\n" + pages.map { "- [\($0.title)](\($0.file))\n" }.joined()
        md += "\nEvery number comes from `results.jsonl` beside this file.\n"
        return md
    }

    /// Which stacks ran at which width, form and length.
    static func scope(_ set: HybridSet) -> String {
        // Stacks run alike are named together: "alpha and beta at width 1/16 (d_model 128), …".
        var groups: [(how: String, names: [String])] = []
        for s in set.stacks {
            guard let r = set.full(s).first else { continue }
            let how = "at width \(r.width) (d_model \(r.dModel)), \(r.form) form, to \(Compact.tokens(r.tokens)) tokens"
            if let i = groups.firstIndex(where: { $0.how == how }) { groups[i].names.append(set.label(s)) } else { groups.append((how, [set.label(s)])) }
        }
        let parts = groups.map { g in
            (g.names.count > 1 ? g.names.dropLast().joined(separator: ", ") + " and " + g.names.last! : g.names[0]) + " " + g.how
        }
        return "Stacks: " + parts.joined(separator: "; ") + ". Err: the final hidden state's relative error at the run's last length; "
            + "KL(p‖p̂) and top-1 agreement of the logits there; bytes: what one sequence holds at the model's full width at 32k and "
            + "128k tokens (every state page, conv state and KV cache, scales included). NaN: a stored value was not finite."
    }

    /// The matrix: one row per stack × recipe (full recipes only), widest recipe first.
    static func answer(_ set: HybridSet) -> String {
        var t = MarkdownTable(["stack", "recipe", "T", "err", "KL", "top-1", "bytes 32k", "bytes 128k"],
                              align: [.left, .left, .right, .right, .right, .right, .right, .right])
        for s in set.stacks {
            for r in set.full(s) {
                t.rows.append(["[\(set.label(s))](\(depthPage)#\(HybridSet.anchor(set.label(s))))", r.recipeName, Compact.tokens(r.lengths.last ?? r.tokens),
                               Compact.sci(r.finalError), Compact.sci(HybridSet.kl(r).last), HybridSet.top1Text(r, HybridSet.kl(r).count - 1),
                               Compact.bytes(r.bytesPerSequence["32768"]), Compact.bytes(r.bytesPerSequence["131072"])])
            }
        }
        return t.render()
    }

    static func method(_ set: HybridSet) -> String {
        "Each stack is evaluated layer by layer over the whole sequence: the Float64 reference and every Float32 emulation (one per "
            + "recipe, and one per source of a recipe rounded alone for the attribution) step through depth together, with seeded "
            + "bfloat16 weights shared by all. Errors are means over the last min(64, T/16) positions up to each length; the "
            + "logits come from a seeded LM head calibrated to a reference entropy of about 2.5 nats. Details: [method](\(methodPage))."
    }
}

/// The records of a hybrid report, grouped: stacks (a stack name at a width and form), each
/// stack's full recipes (its longest run, the worst seed) and their attribution parts.
struct HybridSet {
    let records: [HybridRecord]
    /// Stack keys in order (by name).
    let stacks: [String]
    private let names: [String: String]

    init(_ records: [HybridRecord]) {
        let sorted = records.sorted { $0.key < $1.key }
        var first: [String: HybridRecord] = [:], keys: [String] = []
        for r in sorted where first[Self.key(r)] == nil { first[Self.key(r)] = r; keys.append(Self.key(r)) }
        // The stack's name alone, unless it ran at several widths or forms.
        var names: [String: String] = [:]
        for (name, ks) in Dictionary(grouping: keys, by: { first[$0]!.stack }) {
            for k in ks { names[k] = ks.count == 1 ? name : "\(name) (w=\(first[k]!.width), \(first[k]!.form))" }
        }
        (self.records, self.stacks, self.names) = (sorted, keys, names)
    }

    static func key(_ r: HybridRecord) -> String { "\(r.stack)|\(r.width)|\(r.form)" }
    func label(_ stack: String) -> String { names[stack] ?? stack }

    /// A heading's anchor as GitHub writes it.
    static func anchor(_ heading: String) -> String {
        String(heading.lowercased().compactMap { c -> Character? in
            c.isLetter || c.isNumber || c == "-" || c == "_" ? c : c == " " ? "-" : nil
        })
    }

    /// The full-recipe records of `stack`: per recipe its longest run (the worst seed: NaN
    /// first), the recipe holding the most bytes at 32k first.
    func full(_ stack: String) -> [HybridRecord] {
        let mine = records.filter { Self.key($0) == stack && $0.only == nil }
        let picked = Dictionary(grouping: mine, by: \.recipeName).values.map { runs -> HybridRecord in
            let longest = runs.map(\.tokens).max()!
            return runs.filter { $0.tokens == longest }.max { Self.worse($1.finalError, than: $0.finalError) }!
        }
        return picked.sorted { (-($0.bytesPerSequence["32768"] ?? 0), $0.recipeName) < (-($1.bytesPerSequence["32768"] ?? 0), $1.recipeName) }
    }

    /// Whether error a is worse than b (NaN worse than anything).
    static func worse(_ a: Double, than b: Double) -> Bool { a.isNaN ? !b.isNaN : (!b.isNaN && a > b) }

    /// The attribution records of a full-recipe record (same stack, recipe, length and seed).
    func parts(_ all: HybridRecord) -> [HybridRecord] {
        records.filter { $0.only != nil && Self.key($0) == Self.key(all) && $0.recipeName == all.recipeName && $0.tokens == all.tokens && $0.seed == all.seed }
    }

    /// The recipe's error at each length (NaN everywhere when a stored value was not finite).
    static func errors(_ r: HybridRecord) -> [Double] { r.storedNonFinite > 0 ? r.hiddenRelErr.map { _ in .nan } : r.hiddenRelErr }
    static func kl(_ r: HybridRecord) -> [Double] { r.logitsKL.map { r.storedNonFinite > 0 ? .nan : $0 } }
    static func residual(_ r: HybridRecord) -> [Double] { r.storedNonFinite > 0 ? r.residualRelErr.map { _ in .nan } : r.residualRelErr }

    /// Top-1 agreement at length index i, three decimals (NaN after non-finite stores).
    static func top1Text(_ r: HybridRecord, _ i: Int) -> String {
        guard r.top1.indices.contains(i) else { return "–" }
        return r.storedNonFinite > 0 || r.top1[i].isNaN ? "NaN" : String(format: "%.3f", r.top1[i])
    }

    /// √(Σ e_s²) over the sources alone.
    static func quadrature(_ parts: [HybridRecord]) -> Double {
        parts.reduce(0) { $0 + $1.finalError * $1.finalError }.squareRoot()
    }

    /// The attribution of a full record: each source with its error and share, √Σ and the
    /// ratio √Σ / all-rounded (nil without parts).
    func attribution(_ all: HybridRecord) -> (sources: [(name: String, error: Double, share: Double)], quadrature: Double, ratio: Double)? {
        let ps = parts(all).sorted { $0.only! < $1.only! }
        guard !ps.isEmpty else { return nil }
        let q = Self.quadrature(ps)
        return (ps.map { ($0.only!, $0.finalError, $0.finalError * $0.finalError / (q * q)) }, q, q / all.finalError)
    }
}
