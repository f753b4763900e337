import CLITestSupport
import Foundation
import Testing

/// The limits of issue 15 that keep the package readable, checked over the Sources tree so a
/// later change cannot quietly undo them (docs/ARCHITECTURE.md): no file over 500 lines, no
/// function, initializer, subscript or computed property over 80, each canonical variant name
/// as a string literal in at most two files (its definition and an alias), and CMPFR imported
/// only by ExactArithmetic and Benchmarks.
@Suite struct ArchitectureTests {
    static let sources = URL(fileURLWithPath: #filePath)
        .deletingLastPathComponent().deletingLastPathComponent().deletingLastPathComponent()
        .appendingPathComponent("Sources").path

    /// Every `.swift` file below Sources, as (path relative to Sources, text).
    static func files() throws -> [(path: String, text: String)] {
        let fm = FileManager.default
        let walk = try #require(fm.enumerator(atPath: sources), "cannot list \(sources)")
        var out: [(String, String)] = []
        for case let rel as String in walk where rel.hasSuffix(".swift") {
            out.append((rel, try String(contentsOfFile: sources + "/" + rel, encoding: .utf8)))
        }
        return out.sorted { $0.0 < $1.0 }
    }

    @Test func filesAndFunctionsStayShort() throws {
        let files = try Self.files()
        #expect(files.count > 100, "found \(files.count) Swift files under \(Self.sources)")
        for (path, text) in files {
            let lines = text.split(separator: "\n", omittingEmptySubsequences: false)
            let count = text.hasSuffix("\n") ? lines.count - 1 : lines.count
            #expect(count <= 500, "\(path): \(count) lines (at most 500)")
            for f in CodeScan.functions(in: text) where f.lines > 80 {
                Issue.record("\(path):\(f.line): \(f.name) is \(f.lines) lines (at most 80)")
            }
        }
    }

    @Test func scannerMeasuresFunctions() {
        let text = """
            struct S {
                func a() {
                    let s = "}}}" // }
                    /* { */
                }
                init(x: Int) {
                    if x > 0 { print(x) }
                }
                func b(
                    x: Int
                ) -> Int {
                    x
                }
                var v: Int { 1 }
            }
            """
        let found = CodeScan.functions(in: text).map { "\($0.name) \($0.line) \($0.lines)" }
        #expect(found == ["func a 2 4", "init 6 3", "func b 9 5", "var v 14 1"])
    }

    @Test func canonicalNamesLiveInTheirDefinitions() throws {
        let listing = try CLI.run(["variants", "list"])
        #expect(listing.code == 0, "\(listing.err)")
        let names = listing.out.split(separator: "\n").dropFirst(2).compactMap { row -> String? in
            let cells = row.split(separator: "|").map { $0.trimmingCharacters(in: .whitespaces) }
            return cells.first.flatMap { $0.isEmpty ? nil : $0 }
        }
        #expect(names.count >= 17, "variants list gave \(names)")
        let files = try Self.files()
        for name in names {
            let holders = files.filter { $0.text.contains("\"\(name)\"") }.map(\.path)
            #expect(holders.count <= 2, "\"\(name)\" is written in \(holders.count) files: \(holders.joined(separator: ", "))")
        }
    }

    @Test func onlyExactArithmeticAndBenchmarksImportMPFR() throws {
        for (path, text) in try Self.files() where text.contains("import CMPFR") {
            let module = path.split(separator: "/").first.map(String.init) ?? path
            #expect(["ExactArithmetic", "Benchmarks"].contains(module), "\(path) imports CMPFR")
        }
    }
}

/// A small scanner of Swift text: declarations with a body and the lines they span, found by
/// matching braces with string literals and comments left out.
enum CodeScan {
    struct Function: Equatable { let name: String; let line: Int; let lines: Int }

    static let modifiers: Set<String> = [
        "public", "private", "fileprivate", "internal", "package", "open", "static", "class", "final",
        "override", "mutating", "nonmutating", "nonisolated", "convenience", "required", "lazy", "dynamic",
    ]

    /// The name of the declaration a line opens (`func f`, `init`, `deinit`, `subscript`, `var v`
    /// with a getter body), or nil.
    static func declaration(_ code: Substring) -> String? {
        var words = code.split(whereSeparator: { $0 == " " || $0 == "\t" })[...]
        while let w = words.first, w.hasPrefix("@") || modifiers.contains(String(w.prefix(while: { $0 != "(" }))) {
            words = words.dropFirst()
        }
        guard let head = words.first else { return nil }
        let word = head.prefix(while: { $0.isLetter })
        switch word {
        case "func":
            guard let name = words.dropFirst().first else { return nil }
            return "func " + name.prefix(while: { $0 != "(" && $0 != "<" })
        case "init", "deinit", "subscript": return String(word)
        case "var":
            guard let name = words.dropFirst().first, code.contains(":"), !code.contains("=") else { return nil }
            return "var " + name.prefix(while: { $0.isLetter || $0.isNumber || $0 == "_" })
        default: return nil
        }
    }

    static func functions(in text: String) -> [Function] {
        var found: [Function] = []
        var open: [(depth: Int, line: Int, name: String)] = []
        // A declaration whose body opens on a later line (a signature over several lines).
        var pending: (depth: Int, line: Int, name: String)?
        var depth = 0, inBlock = false, inMultiline = false
        for (index, raw) in text.split(separator: "\n", omittingEmptySubsequences: false).enumerated() {
            let code = strip(raw, inBlock: &inBlock, inMultiline: &inMultiline)
            if let name = declaration(code[...]) {
                pending = nil
                if code.contains("{") { open.append((depth, index + 1, name)) } else if !name.hasPrefix("var") { pending = (depth, index + 1, name) }
            } else if let p = pending, p.depth == depth, code.contains("{") {
                open.append(p); pending = nil
            }
            for c in code {
                if c == "{" { depth += 1 }
                if c == "}" {
                    depth -= 1
                    if let p = pending, depth < p.depth { pending = nil }
                    if let last = open.last, last.depth == depth {
                        open.removeLast()
                        found.append(Function(name: last.name, line: last.line, lines: index + 1 - last.line + 1))
                    }
                }
            }
        }
        return found.sorted { $0.line < $1.line }
    }

    /// The line's code with comments removed and string literals emptied.
    static func strip(_ line: Substring, inBlock: inout Bool, inMultiline: inout Bool) -> String {
        var out = "", i = line.startIndex
        while i < line.endIndex {
            let rest = line[i...]
            if inBlock {
                guard let end = rest.range(of: "*/") else { return out }
                inBlock = false; i = end.upperBound; continue
            }
            if inMultiline {
                guard let end = rest.range(of: "\"\"\"") else { return out }
                inMultiline = false; i = end.upperBound; continue
            }
            if rest.hasPrefix("//") { return out }
            if rest.hasPrefix("/*") { inBlock = true; i = line.index(i, offsetBy: 2); continue }
            if rest.hasPrefix("\"\"\"") { inMultiline = true; i = line.index(i, offsetBy: 3); continue }
            if line[i] == "\"" {
                var j = line.index(after: i)
                while j < line.endIndex && line[j] != "\"" {
                    if line[j] == "\\" { j = line.index(after: j); if j == line.endIndex { break } }
                    j = line.index(after: j)
                }
                out += "\"\""
                i = j < line.endIndex ? line.index(after: j) : j
                continue
            }
            out.append(line[i]); i = line.index(after: i)
        }
        return out
    }
}
