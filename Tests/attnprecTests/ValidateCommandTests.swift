import CLITestSupport
import Foundation
#if canImport(FoundationXML)
import FoundationXML
#endif
import Testing

/// `attnprec validate`: exit codes, the table, JUnit XML and the markdown summary.
@Suite struct ValidateCommandTests {
    static let header = """
    inputs: bfloat16
    reference: {tier: float64, certify_tokens: 16, bits: 64, double_precision_tokens: 8}
    sampling: {per_octave: 8}
    budgets:

    """

    static func budget(_ name: String, limit: String, extra: String = "", recipe: String = "{state: bfloat16}") -> String {
        """
          - name: \(name)
            variant: linear
            key_dim: 16
            value_dim: 16
            recipe: \(recipe)
            tokens: 300
            max_output_rel_err: \(limit)
        \(extra)
        """
    }

    /// Runs the binary with GITHUB_STEP_SUMMARY unset unless `summary` is given.
    static func validate(_ yaml: String, _ args: [String] = [], stepSummary: String? = nil, dir: String? = nil) throws -> (code: Int32, out: String, err: String, dir: String) {
        let d = try dir ?? CLI.tempDir()
        try Data(yaml.utf8).write(to: URL(fileURLWithPath: "\(d)/budgets.yaml"))
        let r = try CLI.run(["validate", "\(d)/budgets.yaml"] + args, environment: ["GITHUB_STEP_SUMMARY": stepSummary])
        return (r.code, r.out, r.err, d)
    }

    /// The measured value of `metric` in the row of `budget`.
    static func measured(_ table: String, budget: String, metric: String = "output_rel_err@300") -> Double? {
        for line in table.split(separator: "\n") {
            let cells = line.split(separator: " ", omittingEmptySubsequences: true).map(String.init)
            if cells.count >= 3 && cells[0] == budget && cells[1] == metric { return Double(cells[2]) }
        }
        return nil
    }

    @Test func generousPassesTightFailsWithMargin() throws {
        let ok = try Self.validate(Self.header + Self.budget("generous", limit: "0.5"))
        #expect(ok.code == 0, "\(ok.err)")
        #expect(ok.out.contains("pass"))
        #expect(ok.out.contains("1 budget, 1 hold, 0 fail"))
        let m = try #require(Self.measured(ok.out, budget: "generous"))
        #expect(m > 1e-4 && m < 0.5)

        // Just under the measured error: 1% below (the table rounds to 4 digits).
        let limit = String(format: "%.6e", m * 0.99)
        let bad = try Self.validate(Self.header + Self.budget("tight", limit: limit))
        #expect(bad.code == 1, "\(bad.err)")
        let row = try #require(bad.out.split(separator: "\n").first { $0.hasPrefix("tight ") })
        #expect(row.contains("FAIL"))
        let margin = try #require(Double(row.split(separator: " ").last!.dropLast()))
        #expect(row.hasSuffix("%") && margin > -1.2 && margin < -0.8, "\(row)")
        #expect(bad.out.contains("FAIL tight: output_rel_err"))
    }

    /// Malformed YAML, unknown variant, unknown format part, negative tokens, missing limit:
    /// exit 2, one line naming the file and the budget, nothing written.
    @Test(arguments: [
        ("  - name: broken\n    variant: linear\n    recipe: {state: [bfloat16\n    tokens: 64\n", "budget 'broken': invalid YAML"),
        ("  - name: typo\n    variant: linaer\n    recipe: bfloat16\n    tokens: 64\n    max_output_rel_err: 1\n", "budget 'typo': variant: unknown variant 'linaer'"),
        ("  - name: part\n    variant: linear\n    recipe: {state: bfloat16/sideways}\n    tokens: 64\n    max_output_rel_err: 1\n", "budget 'part': recipe.state: unknown part 'sideways'"),
        ("  - name: neg\n    variant: linear\n    recipe: bfloat16\n    tokens: -64\n    max_output_rel_err: 1\n", "budget 'neg': tokens: expected an integer in 1..."),
        ("  - name: nolimit\n    variant: linear\n    recipe: bfloat16\n    tokens: 64\n", "budget 'nolimit': max_output_rel_err: expected a limit"),
    ])
    func badInputExitsTwo(budget: String, reason: String) throws {
        let dir = try CLI.tempDir()
        let r = try Self.validate(Self.header + budget, ["--junit", "\(dir)/out/junit.xml", "--summary", "\(dir)/out/summary.md"], dir: dir)
        #expect(r.code == 2)
        #expect(r.out.isEmpty)
        let lines = r.err.split(separator: "\n")
        #expect(lines.count == 1, "\(r.err)")
        #expect(r.err.hasPrefix("attnprec: \(dir)/budgets.yaml:"), "\(r.err)")
        #expect(r.err.contains(reason), "\(r.err)")
        #expect(!FileManager.default.fileExists(atPath: "\(dir)/out"))
    }

    /// fp16 state with IEEE overflow on huge inputs gives Inf and NaN: exit 1 whatever the limit.
    @Test func nanFails() throws {
        let yaml = Self.header.replacingOccurrences(of: "inputs: bfloat16", with: "inputs: float32") + """
          - name: overflow
            variant: linear
            key_dim: 8
            value_dim: 8
            recipe: {state: float16/ieee}
            workload: {inputs: gaussian, std: 1000}
            tokens: 64
            max_output_rel_err: 1.0e+30
        """
        let r = try Self.validate(yaml)
        #expect(r.code == 1, "\(r.err)")
        #expect(r.out.contains("FAIL (NaN)"))
        #expect(r.out.contains("FAIL overflow: non-finite"))
    }

    /// JUnit in the common schema, parsed back; the markdown summary; GitHub's step summary
    /// appended to; the table the same for any --jobs.
    @Test func junitSummaryAndJobs() throws {
        let yaml = Self.header + Self.budget("holds <&>", limit: "0.5") + "\n" + Self.budget("fails \"q\"", limit: "1.0e-9", recipe: "bfloat16/stochastic")
        let dir = try CLI.tempDir()
        let step = "\(dir)/step.md"
        try Data("earlier step\n".utf8).write(to: URL(fileURLWithPath: step))
        let one = try Self.validate(yaml, ["--jobs", "1", "--junit", "\(dir)/j/junit.xml", "--summary", "\(dir)/summary.md"], stepSummary: step, dir: dir)
        let two = try Self.validate(yaml, ["--jobs", "2"], dir: try CLI.tempDir())
        #expect(one.code == 1 && two.code == 1)
        #expect(one.out.replacingOccurrences(of: dir, with: "") == two.out.replacingOccurrences(of: two.dir, with: ""))

        let data = try #require(FileManager.default.contents(atPath: "\(dir)/j/junit.xml"))
        let doc = try XMLDocument(data: data)
        let root = try #require(doc.rootElement())
        #expect(root.name == "testsuites")
        #expect(root.attribute(forName: "tests")?.stringValue == "2")
        #expect(root.attribute(forName: "failures")?.stringValue == "1")
        let suites = root.elements(forName: "testsuite")
        #expect(suites.count == 1)
        let cases = suites[0].elements(forName: "testcase")
        #expect(cases.map { $0.attribute(forName: "name")?.stringValue ?? "" } == ["holds <&>", "fails \"q\""])
        for c in cases { #expect(Double(c.attribute(forName: "time")?.stringValue ?? "") != nil) }
        #expect(cases[0].elements(forName: "failure").isEmpty)
        let failure = try #require(cases[1].elements(forName: "failure").first)
        #expect(failure.attribute(forName: "message")?.stringValue?.contains("exceeds 1.000e-09") == true)
        #expect(failure.attribute(forName: "type")?.stringValue == "BudgetExceeded")

        let summary = String(decoding: FileManager.default.contents(atPath: "\(dir)/summary.md") ?? Data(), as: UTF8.self)
        #expect(summary.contains("1 of 2 budgets fail"))
        #expect(summary.contains("| budget | metric | measured | limit | verdict | margin |"))
        let stepText = String(decoding: FileManager.default.contents(atPath: step) ?? Data(), as: UTF8.self)
        #expect(stepText.hasPrefix("earlier step\n"))
        #expect(stepText.hasSuffix(summary))
    }
}
