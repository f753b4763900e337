import ServingScenarios

/// The top of a scenario report: what it found, computed from the records (recall tasks: the
/// recipes that lose recall, and where; the counter: how far each recipe counts exactly), and
/// links to its sections — so the answer comes before the long tables.
enum ScenarioGlance {
    /// GitHub's anchor of a heading: lower case, letters, digits, `-` and `_` kept, spaces as `-`.
    static func anchor(_ heading: String) -> String {
        String(heading.lowercased().compactMap { c -> Character? in
            c == " " ? "-" : (c.isLetter || c.isNumber || c == "-" || c == "_") ? c : nil
        })
    }

    static func memoryTitle(_ memory: String) -> String {
        memory == TaskMemory.Kind.deltanet.rawValue ? "Delta-rule memory (DeltaNet, β = 1)" : memory == TaskMemory.Kind.linear.rawValue ? "Linear-attention memory (undecayed)" : memory
    }

    /// The lowest recall any cell of a record shows (nil: not a recall task).
    static func worstRecall(_ r: ScenarioRecord) -> Double? {
        let values = r.summary.filter { $0.key.hasPrefix("accuracy_at_") }.map(\.value) + (r.series["accuracy"] ?? [])
        return values.isEmpty ? nil : values.map { $0.isNaN ? -1 : $0 }.min()
    }

    /// One sentence per recall memory: the recipes that recall everything, and those that do not.
    static func recall(_ name: String, _ rs: [ScenarioRecord]) -> [String] {
        let order = ScenarioReport.recipeOrder(rs)
        return Array(Set(rs.map(\.memory))).sorted().compactMap { memory in
            let mine = rs.filter { $0.memory == memory }
            let losing = order.filter { n in mine.contains { $0.recipeName == n && (worstRecall($0) ?? 1) < 1 } }
            let full = order.filter { n in !losing.contains(n) && mine.contains { $0.recipeName == n } }
            guard !full.isEmpty || !losing.isEmpty else { return nil }
            let title = memoryTitle(memory)
            var s = "\(name), [\(title)](#\(anchor(title))): "
            s += full.isEmpty ? "no recipe recalls everything" : "\(full.map { "`\($0)`" }.joined(separator: ", ")) recall\(full.count == 1 ? "s" : "") every item at every length"
            s += losing.isEmpty ? "." : "; \(losing.map { "`\($0)`" }.joined(separator: ", ")) fall below 100% (bold cells)."
            return s
        }
    }

    static func counter(_ rs: [ScenarioRecord]) -> [String] {
        let order = ScenarioReport.recipeOrder(rs)
        let exact = order.compactMap { n in rs.first { $0.recipeName == n }?.summary["exact_to"].map { "`\(n)` to \(Int($0))" } }
        return exact.isEmpty ? [] : ["Counter: each recipe counts exactly (every count 1…n right) up to n: " + exact.joined(separator: ", ") + "."]
    }

    /// A reproduced table: at the longest length, the cells within 20% of the paper's value and
    /// the others, each with ours ÷ paper.
    static func reproduce(_ rs: [ScenarioRecord]) -> [String] {
        guard let T = rs.map(\.tokens).max() else { return [] }
        var inside: [String] = [], outside: [String] = []
        for row in Array(Set(rs.map { $0.parameters["row"] ?? 0 })).sorted() {
            let cell = rs.filter { ($0.parameters["row"] ?? 0) == row && $0.tokens == T }
            guard let paper = cell.first?.summary["paper_rmse"], paper > 0 else { continue }
            let ours = cell.compactMap { $0.summary["rmse"] }
            guard !ours.isEmpty else { continue }
            let q = ours.reduce(0, +) / Double(ours.count) / paper
            let text = "`\(cell[0].recipeName)` \(q.isFinite ? String(format: "%.2f", q) : "NaN")"
            if abs(q - 1) <= 0.2 { inside.append(text) } else { outside.append(text) }
        }
        guard inside.count + outside.count > 0 else { return [] }
        var s = "At T = \(T), \(inside.count) of \(inside.count + outside.count) cells lie within 20% of the paper's value (ours ÷ paper)"
        s += inside.isEmpty ? "" : ": " + inside.joined(separator: ", ")
        s += outside.isEmpty ? "." : "; outside: " + outside.joined(separator: ", ") + "."
        return [s]
    }

    /// P-collapse: the largest forward and reverse underflow fractions measured, and how far the
    /// measured forward fractions of at least 1% lie from the prediction averaged over the sink
    /// maximum.
    static func pCast(_ rs: [ScenarioRecord]) -> [String] {
        let forward = rs.filter { $0.labels["order"] == "forward" }, reverse = rs.filter { $0.labels["order"] == "reverse" }
        let fmax = forward.compactMap { $0.summary["underflow_fraction"] }.max() ?? 0, rmax = reverse.compactMap { $0.summary["underflow_fraction"] }.max() ?? 0
        let ratios = forward.compactMap { r -> Double? in
            guard let m = r.summary["underflow_fraction"], let p = r.summary["predicted_over_max"], m >= 0.01, p > 0 else { return nil }
            return m / p
        }
        var s = "P-collapse: forward block order flushes up to \(String(format: "%.1f", 100 * fmax))% of the non-sink P values to zero, reverse order up to \(String(format: "%.1f", 100 * rmax))%"
        if let lo = ratios.min(), let hi = ratios.max() { s += "; measured ÷ predicted (over the sink maximum) \(String(format: "%.2f", lo))–\(String(format: "%.2f", hi)) where at least 1% flush" }
        return [s + "."]
    }

    /// The title, the findings and the section links, then `sections`.
    static func page(title: String, sections: String, records: [ScenarioRecord]) -> String {
        var findings: [String] = []
        for scenario in Array(Set(records.map(\.scenario))).sorted() {
            let rs = records.filter { $0.scenario == scenario }
            switch scenario {
            case "mqar": findings += recall("MQAR", rs)
            case "needle": findings += recall("Needle", rs)
            case "counter": findings += counter(rs)
            case "reproduce": findings += reproduce(rs)
            case "p_cast": findings += pCast(rs)
            default: break
            }
        }
        let headings = sections.split(separator: "\n").filter { $0.hasPrefix("### ") || $0 == "## Reproduction" }.map { $0.drop { $0 == "#" }.dropFirst() }
        var md = "# \(title)\n\n"
        if !findings.isEmpty { md += findings.map { "- \($0)\n" }.joined() + "\n" }
        if headings.count > 1 { md += "Sections: " + headings.map { "[\($0)](#\(anchor(String($0))))" }.joined(separator: " · ") + ".\n\n" }
        return md + sections
    }
}
