import DriftStudy
import Foundation

/// A markdown table sized for GitHub's column (948 px): each row's visible characters
/// (markdown stripped) stay within `(948 − 27 × columns) / 8` — about 8 px a character and
/// 27 px of padding and border a cell — so no column wraps or scrolls.
public struct MarkdownTable {
    public enum Align { case left, right }
    public var heads: [String]
    public var align: [Align]
    public var rows: [[String]] = []

    public init(_ heads: [String], align: [Align]) {
        self.heads = heads; self.align = align
    }

    /// The column budget: visible characters a row of `columns` cells may hold.
    public static func budget(columns: Int) -> Double { (948 - 27 * Double(columns)) / 8 }

    /// Drops the columns whose every row cell is "–" (a length no record reaches).
    public mutating func dropEmptyColumns() {
        guard !rows.isEmpty else { return }
        let keep = heads.indices.filter { i in rows.contains { $0[i] != "–" } || i == 0 }
        heads = keep.map { heads[$0] }; align = keep.map { align[$0] }
        rows = rows.map { r in keep.map { r[$0] } }
    }

    public func render() -> String {
        var s = "| " + heads.joined(separator: " | ") + " |\n|"
        s += align.map { $0 == .right ? "---:|" : "---|" }.joined() + "\n"
        for r in rows { s += "| " + r.map(Self.cell).joined(separator: " | ") + " |\n" }
        return s
    }

    static func cell(_ s: String) -> String { s.replacingOccurrences(of: "|", with: "\\|").replacingOccurrences(of: "\n", with: " ") }

    /// The cells of a markdown table row (split at unescaped `|`).
    public static func cells(_ line: Substring) -> [String] {
        var out: [String] = [], cur = "", escaped = false
        for c in line.trimmingCharacters(in: .whitespaces) {
            if c == "|" && !escaped { out.append(cur); cur = "" } else { cur.append(c) }
            escaped = c == "\\"
        }
        out.append(cur)
        return Array(out.dropFirst().dropLast())
    }

    /// What a reader sees of a cell: links and images reduced to their text, emphasis and
    /// code marks removed, escapes resolved.
    public static func visible(_ cell: String) -> String {
        var c = cell.trimmingCharacters(in: .whitespaces)
        c = c.replacing(#/!?\[([^\]]*)\]\([^)]*\)/#) { String($0.output.1) }
        for mark in ["**", "`", "\\"] { c = c.replacingOccurrences(of: mark, with: "") }
        return c
    }

    /// Rows of `markdown` (tables only, header rows included) wider than GitHub's column:
    /// (row, visible characters, budget).
    public static func overflowing(_ markdown: String) -> [(String, Int, Double)] {
        markdown.split(separator: "\n").compactMap { line in
            guard line.hasPrefix("|"), !Set(line).isSubset(of: Set("|-: ")) else { return nil }
            let cells = cells(line)
            let width = cells.map { visible($0).count }.reduce(0, +)
            let limit = budget(columns: cells.count)
            return Double(width) > limit ? (String(line), width, limit) : nil
        }
    }
}

/// Compact numbers for tables.
public enum Compact {
    /// Three significant digits, the exponent without padding: 4.60e-7, 1.20e+3 → 1.20e3.
    public static func sci(_ x: Double?, digits: Int = 2) -> String {
        guard let x else { return "–" }
        if x.isNaN { return "NaN" }
        if x.isInfinite { return x > 0 ? "∞" : "−∞" }
        if x == 0 { return "0" }
        let s = String(format: "%.\(digits)e", x)
        guard let e = s.firstIndex(of: "e") else { return s }
        let exp = Int(s[s.index(after: e)...]) ?? 0
        return "\(s[..<e])e\(exp)"
    }

    /// Tokens as 512, 8k, 32k, 1M (powers of 1024).
    public static func tokens(_ t: Int) -> String {
        if t >= 1 << 20 && t % (1 << 20) == 0 { return "\(t >> 20)M" }
        if t >= 1024 && t % 1024 == 0 { return "\(t >> 10)k" }
        return "\(t)"
    }

    /// Bytes as B, KB, MB, GB (powers of 1000: sizes, not pages), three digits.
    public static func bytes(_ x: Double?) -> String {
        guard let x, x.isFinite else { return "–" }
        for (unit, scale) in [("GB", 1e9), ("MB", 1e6), ("KB", 1e3)] where x >= scale {
            let v = x / scale
            return (v >= 100 ? String(format: "%.0f", v) : v >= 10 ? String(format: "%.1f", v) : String(format: "%.2f", v)) + " " + unit
        }
        return String(format: "%.0f B", x)
    }

    /// A log–log slope with its 95% interval as slope ± half-width (the interval is symmetric).
    public static func slope(_ s: SlopeFit?) -> String {
        guard let s else { return "–" }
        return String(format: "%.2f±%.2f", s.slope, (s.slopeHigh - s.slopeLow) / 2)
    }
}

extension MarkdownTable {
    /// Parses a table block (header, alignment row, rows).
    init?(lines: [Substring]) {
        guard lines.count >= 2 else { return nil }
        let heads = Self.cells(lines[0]).map { $0.trimmingCharacters(in: .whitespaces) }
        let align = Self.cells(lines[1]).map { $0.trimmingCharacters(in: .whitespaces).hasSuffix(":") ? Align.right : .left }
        guard heads.count == align.count else { return nil }
        self.init(heads, align: align)
        rows = lines.dropFirst(2).map { Self.cells($0).map { $0.trimmingCharacters(in: .whitespaces).replacingOccurrences(of: "\\|", with: "|") } }
        guard rows.allSatisfy({ $0.count == heads.count }) else { return nil }
    }

    /// The widest row's visible characters over `columns`.
    func width(_ columns: [Int]) -> Int {
        ([heads] + rows).map { r in columns.map { Self.visible(r[$0]).count }.reduce(0, +) }.max() ?? 0
    }

    /// The table as one or more tables that each fit GitHub's column: the key columns — the
    /// shortest leading run of columns that tells the rows apart (else the leading left-aligned
    /// ones, at most two) — repeated in each, the other columns in order.
    func fitted() -> [MarkdownTable] {
        let all = Array(heads.indices)
        guard Double(width(all)) > Self.budget(columns: all.count) else { return [self] }
        let unique = (1..<heads.count).first { k in Set(rows.map { $0.prefix(k).joined(separator: "\u{1}") }).count == rows.count }
        var keys = unique.map { Array(0..<$0) } ?? Array(all.prefix { align[$0] == .left }.prefix(2))
        if keys.isEmpty { keys = [0] }
        // Columns whose heads share what comes before " @" ("8 pairs @256", "8 pairs @1024")
        // stay together when they fit one table.
        var units: [[Int]] = []
        for c in all where !keys.contains(c) {
            let group = { (i: Int) in heads[i].components(separatedBy: " @").first! }
            if let last = units.last?.last, heads[c].contains(" @"), group(last) == group(c) { units[units.count - 1].append(c) } else { units.append([c]) }
        }
        let fits = { (cols: [Int]) in Double(self.width(keys + cols)) <= Self.budget(columns: keys.count + cols.count) }
        var groups: [[Int]] = [], current: [Int] = []
        for unit in units {
            if fits(current + unit) { current += unit; continue }
            if !current.isEmpty { groups.append(current); current = [] }
            for c in unit {
                if !current.isEmpty && !fits(current + [c]) { groups.append(current); current = [] }
                current.append(c)
            }
        }
        if !current.isEmpty { groups.append(current) }
        return groups.map { g in
            let cols = keys + g
            var t = MarkdownTable(cols.map { heads[$0] }, align: cols.map { align[$0] })
            t.rows = rows.map { r in cols.map { r[$0] } }
            return t
        }
    }

    /// `markdown` with every table too wide for GitHub's column split into tables that fit.
    public static func fitting(_ markdown: String) -> String {
        var out: [String] = [], block: [Substring] = []
        func flush() {
            if !block.isEmpty {
                if let t = MarkdownTable(lines: block) {
                    out.append(t.fitted().map { $0.render().dropLast() }.joined(separator: "\n\n"))
                } else { out += block.map(String.init) }
            }
            block = []
        }
        for line in markdown.split(separator: "\n", omittingEmptySubsequences: false) {
            if line.hasPrefix("|") { block.append(line) } else { flush(); out.append(String(line)) }
        }
        flush()
        return out.joined(separator: "\n")
    }
}
