import NumberFormats
import Yams

/// What a YAML input may ask of the parser, checked before Yams builds its tree (Yams composes
/// recursively: a sequence nested a few thousand deep overflows the stack) and after it (an
/// alias names a whole subtree, so a few lines can stand for billions of nodes):
///
/// - nesting at most `maxDepth` levels, found by a scan of the text that counts block
///   indentation, compact `- ` and `? ` entries and flow brackets (an upper bound on what Yams
///   would build, so a file within the limit is never refused for a miscount);
/// - only the tags of the YAML core schema (`!!str`, `!!int`, `!!float`, `!!bool`, `!!null`,
///   `!!seq`, `!!map`), no `%TAG` directive: a `!!python/object:…` tag is refused rather than
///   ignored;
/// - at most `maxNodes` nodes once every alias is expanded.
public enum YAMLLimits {
    public static let maxDepth = 64
    public static let maxNodes = 100_000
    static let coreTags: Set<String> = ["str", "int", "float", "bool", "null", "seq", "map"]

    /// The text's first breach of the depth and tag limits as `FILE:LINE: …`; throws InputError.
    public static func check(_ text: String, file: String) throws {
        var scan = Scan()
        for (index, line) in text.split(separator: "\n", omittingEmptySubsequences: false).enumerated() {
            if let problem = scan.line(Array(line.unicodeScalars)) {
                throw InputError("\(file):\(index + 1): \(problem)")
            }
        }
    }

    /// Composes `text` after `check`, then refuses a tree larger than `maxNodes` with its
    /// aliases expanded. Yams' own errors are rethrown as they are.
    public static func compose(_ text: String, file: String) throws -> Node? {
        try check(text, file: file)
        guard let root = try Yams.compose(yaml: text) else { return nil }
        var budget = maxNodes
        guard fits(root, budget: &budget) else {
            throw InputError("\(file): the YAML stands for more than \(maxNodes) nodes once its aliases are expanded")
        }
        return root
    }

    /// Counts `node`'s expanded size down from `budget`; false once it runs out (so the walk
    /// itself stays within `maxNodes` steps).
    static func fits(_ node: Node, budget: inout Int) -> Bool {
        budget -= 1
        guard budget >= 0 else { return false }
        if case .sequence(let s) = node { return s.allSatisfy { fits($0, budget: &budget) } }
        if case .mapping(let m) = node { return m.allSatisfy { fits($0.key, budget: &budget) && fits($0.value, budget: &budget) } }
        return true
    }

    /// The line-by-line scanner: open block levels (their indentation), open flow brackets,
    /// and the quoted or block scalar a line may continue.
    struct Scan {
        var blocks: [Int] = []
        var flow = 0
        var quote: Unicode.Scalar? = nil
        /// Inside a block scalar (`|`, `>`): the indentation its parent line had.
        var blockScalarParent: Int? = nil

        mutating func line(_ c: [Unicode.Scalar]) -> String? {
            let indent = c.prefix(while: { $0 == " " }).count
            let blank = c[indent...].allSatisfy { $0 == " " || $0 == "\t" || $0 == "\r" }
            if let parent = blockScalarParent {
                if blank || indent > parent { return nil }
                blockScalarParent = nil
            }
            if quote == nil && flow == 0 {
                if blank || c[indent] == "#" { return nil }
                if indent == 0, c[0] == "%" {
                    return c.starts(with: "%YAML".unicodeScalars) ? nil : "directive '\(String(String.UnicodeScalarView(c.prefix(20))))' is not allowed (only %YAML)"
                }
                while let top = blocks.last, top > indent { blocks.removeLast() }
                if blocks.last != indent { blocks.append(indent) }
            }
            return tokens(c, from: quote == nil && flow == 0 ? indent : 0, indent: indent)
        }

        /// Scans the rest of a line for quotes, comments, brackets, compact entries and tags.
        mutating func tokens(_ c: [Unicode.Scalar], from start: Int, indent: Int) -> String? {
            var compact = 0, i = start, tokenStart = true, last: Unicode.Scalar = " "
            while i < c.count {
                let ch = c[i]
                if let q = quote {
                    if q == "\"" && ch == "\\" { i += 2; continue }
                    if ch == q {
                        if q == "'" && i + 1 < c.count && c[i + 1] == "'" { i += 2; continue }
                        quote = nil
                    }
                    i += 1; last = ch; tokenStart = false; continue
                }
                if ch == " " || ch == "\t" { last = ch; i += 1; continue }  // a node may still start
                if ch == "#" && (last == " " || last == "\t" || i == 0) { return depthProblem(compact) }
                let next: Unicode.Scalar = i + 1 < c.count ? c[i + 1] : " "
                let space = next == " " || next == "\t"
                let nodeStart = tokenStart
                tokenStart = false
                if nodeStart && (ch == "!" || ch == "&") {
                    // A tag or an anchor: the node it qualifies follows.
                    var j = i
                    if ch == "!" && next == "<" {  // a verbatim tag, commas and all
                        while j < c.count && c[j] != ">" { j += 1 }
                        j = min(j + 1, c.count)
                    }
                    while j < c.count && !" \t,[]{}".unicodeScalars.contains(c[j]) { j += 1 }
                    if ch == "!", let problem = Self.tag(String(String.UnicodeScalarView(c[i..<j]))) { return problem }
                    i = j; last = "!"; tokenStart = true
                    continue
                }
                if nodeStart && (ch == "'" || ch == "\"") {
                    quote = ch
                } else if (ch == "[" || ch == "{") && (nodeStart || flow > 0) {
                    flow += 1
                } else if (ch == "]" || ch == "}") && flow > 0 {
                    flow -= 1
                } else if (ch == "-" || ch == "?") && nodeStart && space && flow == 0 {
                    compact += 1
                } else if (ch == "|" || ch == ">") && nodeStart && flow == 0 && Self.endsBlockHeader(c, after: i) {
                    blockScalarParent = indent
                    return depthProblem(compact)
                }
                // Where a node can start next: after an entry or value indicator, or inside
                // brackets after an opening bracket or a comma.
                if (ch == "-" || ch == "?" || ch == ":") && space { tokenStart = true }
                if flow > 0 && (ch == "[" || ch == "{" || ch == ",") { tokenStart = true }
                if let problem = depthProblem(compact) { return problem }
                last = ch; i += 1
            }
            return depthProblem(compact)
        }

        func depthProblem(_ compact: Int) -> String? {
            // Each indentation level holds at most a mapping and a sequence written at the
            // key's indentation; a line adds its compact entries and one implicit mapping.
            let depth = 2 * blocks.count + compact + flow + 1
            return depth > YAMLLimits.maxDepth ? "nesting deeper than \(YAMLLimits.maxDepth) levels" : nil
        }

        /// Whether `|` or `>` at `i` opens a block scalar: only chomping and indentation
        /// indicators, then the end of the line or a comment.
        static func endsBlockHeader(_ c: [Unicode.Scalar], after i: Int) -> Bool {
            var j = i + 1
            while j < c.count, "+-123456789".unicodeScalars.contains(c[j]) { j += 1 }
            while j < c.count, c[j] == " " || c[j] == "\t" || c[j] == "\r" { j += 1 }
            return j == c.count || c[j] == "#"
        }

        /// nil for a core schema tag (`!!int`, `!<tag:yaml.org,2002:int>`); else the problem.
        static func tag(_ t: String) -> String? {
            let name: Substring
            if t.hasPrefix("!!") {
                name = t.dropFirst(2)
            } else if t.hasPrefix("!<tag:yaml.org,2002:"), t.hasSuffix(">") {
                name = t.dropFirst("!<tag:yaml.org,2002:".count).dropLast()
            } else {
                name = ""
            }
            if YAMLLimits.coreTags.contains(String(name)) { return nil }
            return "tag '\(t)' is not one of the YAML core schema's (!!str, !!int, !!float, !!bool, !!null, !!seq, !!map)"
        }
    }
}
