import Foundation

/// What `formats conform` prints and writes: the counts, the classes with their first
/// examples, a one-line verdict, optional explanations, and JUnit test cases.
extension ConformanceResult {
    /// The one-line verdict.
    public var verdict: String {
        var parts = ["\(codeMismatches) of \(elementCount) codes differ"]
        let classes = counts.filter { !$0.0.isScale }.map { "\($0.1) \($0.0.rawValue)" }
        if !classes.isEmpty { parts[0] += " (\(classes.joined(separator: ", ")))" }
        let scaleClasses = counts.filter { $0.0.isScale }
        if scaleCount > 0 || !scaleClasses.isEmpty {
            var s = "\(scaleMismatches) of \(scaleCount + (comparedZeros ? scaleCount : 0) + (comparedTensorScale ? 1 : 0)) scales differ"
            if !scaleClasses.isEmpty { s += " (\(scaleClasses.map { "\($0.1) \($0.0.rawValue)" }.joined(separator: ", ")))" }
            parts.append(s)
        }
        return (conforms ? "CONFORMS to `\(spec)`: " : "DOES NOT CONFORM to `\(spec)`: ") + parts.joined(separator: "; ")
    }

    /// The report: counts, each class with its first `examples`, explanations, the verdict.
    public func text(examples: Int = 5, explanations: [Explanation]? = nil) -> String {
        var s = "format \(spec), shape \(shape), \(elementCount) elements\n"
        s += "codes: \(codeMismatches) of \(elementCount) differ\n"
        if scaleCount > 0 { s += "scales: \(mismatches.filter { $0.kind == .scaleExponent || $0.kind == .scaleValue }.count) of \(scaleCount) differ\n" }
        for (kind, count) in counts {
            s += "\(kind.rawValue): \(count)\n"
            let first = mismatches.lazy.filter { $0.kind == kind }.prefix(examples)
            s += kind.isScale ? scaleTable(Array(first)) : codeTable(Array(first))
        }
        if let explanations {
            s += "explain:\n"
            for e in explanations {
                s += "  \(e.kind.rawValue) (\(e.count)): " + (e.match.map { "these match \($0)" } ?? "no alternative tried reproduces them") + "\n"
            }
        }
        return s + verdict + "\n"
    }

    func hexCode(_ c: UInt32, bits: Int) -> String {
        let digits = max(1, (bits + 3) / 4)
        let h = String(c, radix: 16)
        return "0x" + String(repeating: "0", count: max(0, digits - h.count)) + h
    }

    /// `(i, j, k)` of a flat index in `shape`.
    public static func position(_ flat: Int, shape: [Int]) -> String {
        var rest = flat
        var out: [Int] = []
        for d in shape.reversed() {
            let size = max(d, 1)
            out.append(rest % size)
            rest /= size
        }
        return "(" + out.reversed().map(String.init).joined(separator: ", ") + ")"
    }

    static func pad(_ rows: [[String]]) -> String {
        let widths = (0..<(rows.first?.count ?? 0)).map { c in rows.map { $0[c].count }.max() ?? 0 }
        return rows.map { r in
            "  " + zip(r, widths).map { $0 + String(repeating: " ", count: $1 - $0.count) }.joined(separator: "  ")
                .trimmingCharacters(in: .whitespaces)
        }.joined(separator: "\n") + "\n"
    }

    func codeTable(_ ms: [Mismatch]) -> String {
        var rows = [["index", "input (hex)", "input", "ours", "theirs", "ours (value)", "theirs (value)"]]
        for m in ms {
            let x = inputs[m.index] ?? ("?", "?")
            rows.append([Self.position(m.index, shape: shape), x.hex, x.decimal, hexCode(m.ours, bits: spec.codeBits),
                hexCode(m.theirs, bits: spec.codeBits), "\(m.oursValue)", "\(m.theirsValue)"])
        }
        return Self.pad(rows)
    }

    func scaleTable(_ ms: [Mismatch]) -> String {
        var rows = [["scale", "group amax (hex)", "group amax", "ours", "theirs", "ours (value)", "theirs (value)", "theirs − ours"]]
        for m in ms {
            let x = groupMaxima[m.index] ?? ("", "")
            let codes = m.kind == .scaleExponent || (m.kind == .scaleValue && spec.storesScaleCodes)
            let unit = m.kind == .scaleExponent ? "binade" : (codes ? "code" : "ulp")
            rows.append(["#\(m.index)", x.hex, x.decimal, hexCode(m.ours, bits: codes ? 8 : 32), hexCode(m.theirs, bits: codes ? 8 : 32),
                "\(m.oursValue)", "\(m.theirsValue)", "\(m.steps > 0 ? "+" : "")\(m.steps) \(unit)\(abs(m.steps) == 1 ? "" : "s")"])
        }
        return Self.pad(rows)
    }

    /// JUnit test cases: `codes`, and `scales`, `zeros`, `tensor_scale` where compared, each
    /// failing with its classes; `name` prefixes the case names.
    public func junitCases(name: String, classname: String, file: String) -> [String] {
        var cases: [(String, [Mismatch], Int)] = [("codes", mismatches.filter { !$0.kind.isScale }, elementCount)]
        if scaleCount > 0 { cases.append(("scales", mismatches.filter { $0.kind == .scaleExponent || $0.kind == .scaleValue }, scaleCount)) }
        if comparedZeros { cases.append(("zeros", mismatches.filter { $0.kind == .zeroPoint }, scaleCount)) }
        if comparedTensorScale { cases.append(("tensor_scale", mismatches.filter { $0.kind == .tensorScale }, 1)) }
        return cases.map { (part, ms, total) in
            var s = "    <testcase name=\"\(Self.xml(name + part))\" classname=\"\(Self.xml(classname))\" file=\"\(Self.xml(file))\">\n"
            if !ms.isEmpty {
                var c: [MismatchClass: Int] = [:]
                for m in ms { c[m.kind, default: 0] += 1 }
                let detail = c.keys.sorted().map { "\(c[$0]!) \($0.rawValue)" }.joined(separator: ", ")
                s += "      <failure message=\"\(Self.xml("\(ms.count) of \(total) \(part) differ from \(spec): \(detail)"))\" type=\"NotConforming\">"
                s += Self.xml(text(examples: 3), content: true) + "</failure>\n"
            }
            return s + "    </testcase>\n"
        }
    }

    /// A whole JUnit document for `formats conform --junit`.
    public func junit(file: String) -> String {
        let cases = junitCases(name: "", classname: "attnprec.conform.\(spec)", file: file)
        let failures = cases.filter { $0.contains("<failure") }.count
        var s = "<?xml version=\"1.0\" encoding=\"UTF-8\"?>\n"
        s += "<testsuites name=\"attnprec formats conform\" tests=\"\(cases.count)\" failures=\"\(failures)\" errors=\"0\">\n"
        s += "  <testsuite name=\"\(Self.xml(file))\" tests=\"\(cases.count)\" failures=\"\(failures)\" errors=\"0\" skipped=\"0\">\n"
        return s + cases.joined() + "  </testsuite>\n</testsuites>\n"
    }

    /// XML text: markup characters escaped, characters XML 1.0 cannot hold dropped.
    public static func xml(_ text: String, content: Bool = false) -> String {
        let escapes: [Character: String] = ["&": "&amp;", "<": "&lt;", ">": "&gt;", "\"": "&quot;", "'": "&apos;"]
        return String(text.flatMap { ch -> String in
            if let e = escapes[ch] { return e }
            if ch == "\n" { return content ? "\n" : "&#10;" }
            guard let u = ch.unicodeScalars.first, u.value >= 0x20 || u == "\t" else { return "" }
            return String(ch)
        })
    }
}
