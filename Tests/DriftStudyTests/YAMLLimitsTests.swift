import Foundation
import Testing
@testable import DriftStudy

/// The limits checked before and after Yams composes a config: nesting depth, core-schema tags
/// only, alias expansion. Every committed config passes; hostile ones get one line naming the
/// file and line.
@Suite struct YAMLLimitsTests {
    func problem(_ text: String) -> String? {
        do {
            _ = try YAMLLimits.compose(text, file: "c.yaml")
            return nil
        } catch { return "\(error)" }
    }

    @Test func everyCommittedConfigPasses() throws {
        let root = URL(fileURLWithPath: #filePath).deletingLastPathComponent().deletingLastPathComponent().deletingLastPathComponent()
        var checked = 0
        for folder in ["experiments", "experiments/budgets", "experiments/scenarios", "Tests/attnprecTests/Golden"] {
            let dir = root.appendingPathComponent(folder).path
            for name in try FileManager.default.contentsOfDirectory(atPath: dir) where name.hasSuffix(".yaml") {
                let text = try String(contentsOfFile: dir + "/" + name, encoding: .utf8)
                #expect(problem(text) == nil, "\(folder)/\(name)")
                checked += 1
            }
        }
        #expect(checked >= 20)
    }

    @Test func deepNestingIsRefusedBeforeYamsRecurses() {
        let flow = String(repeating: "[", count: 5000) + String(repeating: "]", count: 5000)
        #expect(problem("x: " + flow) == "c.yaml:1: nesting deeper than 64 levels")
        #expect(problem(String(repeating: "- ", count: 5000) + "x") == "c.yaml:1: nesting deeper than 64 levels")
        let stairs = (0..<100).map { String(repeating: " ", count: 2 * $0) + "k\($0):" }.joined(separator: "\n") + " 1"
        #expect(problem(stairs)?.hasSuffix(": nesting deeper than 64 levels") == true)
        let shallow = (0..<20).map { String(repeating: " ", count: 2 * $0) + "k\($0):" }.joined(separator: "\n") + " 1"
        #expect(problem(shallow) == nil)
        #expect(problem("x: " + String(repeating: "[", count: 30) + String(repeating: "]", count: 30)) == nil)
    }

    @Test func onlyCoreSchemaTags() {
        #expect(problem("variants: [mha]\nrun: !!python/object:os.system ls")
            == "c.yaml:2: tag '!!python/object:os.system' is not one of the YAML core schema's (!!str, !!int, !!float, !!bool, !!null, !!seq, !!map)")
        #expect(problem("a: !custom 3")?.hasPrefix("c.yaml:1: tag '!custom'") == true)
        #expect(problem("%TAG !! tag:example.com,2000:\n---\na: !!int 3")?.hasPrefix("c.yaml:1: directive '%TAG") == true)
        #expect(problem("a: !!int 3\nb: !<tag:yaml.org,2002:str> x\nc: &anchor [1, !!float 2]\nd: *anchor") == nil)
    }

    @Test func plainTextIsNotMistakenForSyntax() {
        // Quotes, brackets, '!' and '#' inside plain scalars, and block scalars however indented.
        let text = """
            title: rock 'n roll ! it's [fine
            note: a#b, c [d] {e}
            long: |
              line
                      deeper
                                                                                                        deepest
            after: "quoted # not a comment"
            """
        #expect(problem(text) == nil)
    }

    @Test func aliasExpansionIsBounded() {
        var lines = ["a0: &a0 [x, x, x, x, x, x, x, x, x, x]"]
        for k in 1...6 { lines.append("a\(k): &a\(k) [" + Array(repeating: "*a\(k - 1)", count: 10).joined(separator: ", ") + "]") }
        #expect(problem(lines.joined(separator: "\n")) == "c.yaml: the YAML stands for more than 100000 nodes once its aliases are expanded")
        #expect(problem(lines.prefix(3).joined(separator: "\n")) == nil)
    }
}
