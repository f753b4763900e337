import CLITestSupport
import Foundation
import Testing

/// The golden files: a small committed study, scenario and budgets file (Golden/*.yaml) whose
/// `results.jsonl` and gate output (table, markdown summary, JUnit XML with its times masked)
/// the built binary regenerates and must reproduce byte for byte, so that no change moves a
/// number silently. A change meant to move numbers rewrites them with
/// `ATTNPREC_UPDATE_GOLDEN=1 swift test … --filter Golden` and says why in its commit.
///
/// The results must not depend on OpenBLAS's kernel family (the chunked forms' Float32 gemms are
/// the project's own fixed-order kernel, `ArrayBackend.gemmFloat`): the study and the scenario
/// run under `OPENBLAS_CORETYPE` unset, `=Haswell` and `=Prescott`, each against the same file.
@Suite struct GoldenTests {
    static let folder = URL(fileURLWithPath: #filePath).deletingLastPathComponent().appendingPathComponent("Golden").path
    static let updating = ProcessInfo.processInfo.environment["ATTNPREC_UPDATE_GOLDEN"] == "1"
    static let environment: [String: String?] = ["OPENBLAS_CORETYPE": nil, "GITHUB_STEP_SUMMARY": nil]

    /// The study and the scenario: `run CONFIG` and its results.jsonl, under each OpenBLAS
    /// kernel family (the study under two of them, the scenario under the third: its chunked
    /// prefill is the same kernel).
    @Test(arguments: [
        ("study.yaml", "study-results.jsonl", nil), ("study.yaml", "study-results.jsonl", "Prescott"),
        ("scenario.yaml", "scenario-results.jsonl", "Haswell"),
    ] as [(String, String, String?)])
    func results(config: String, golden: String, coretype: String?) throws {
        let out = try CLI.tempDir()
        defer { try? FileManager.default.removeItem(atPath: out) }
        var env = Self.environment
        env["OPENBLAS_CORETYPE"] = .some(coretype)
        let r = try CLI.run(["run", config, "--out", out], cwd: Self.folder, environment: env)
        #expect(r.code == 0, "\(r.err)")
        try Self.check(file: out + "/results.jsonl", against: golden)
    }

    /// One budget fails on purpose (exit 1), so the failure rows and messages are pinned too.
    @Test func gateOutput() throws {
        let out = try CLI.tempDir()
        defer { try? FileManager.default.removeItem(atPath: out) }
        let r = try CLI.run(["validate", "budgets.yaml", "--junit", out + "/junit.xml", "--summary", out + "/summary.md"],
                            cwd: Self.folder, environment: Self.environment)
        #expect(r.code == 1, "\(r.err)")
        try Self.check(text: r.out, against: "gate-table.txt")
        try Self.check(file: out + "/summary.md", against: "gate-summary.md")
        let junit = try String(contentsOfFile: out + "/junit.xml", encoding: .utf8)
        try Self.check(text: Self.maskingTimes(junit), against: "gate-junit.xml")
    }

    /// JUnit's `time` and `timestamp` attributes are the only fields that change between two runs
    /// of one binary (the table and the summary have none).
    static func maskingTimes(_ xml: String) -> String {
        xml.replacing(#/ time="[0-9.]+"/#, with: #" time="*""#).replacing(#/ timestamp="[^"]*"/#, with: #" timestamp="*""#)
    }

    static func lines(_ text: String) -> Int { text.reduce(0) { $1 == "\n" ? $0 + 1 : $0 } }

    static func check(file: String, against name: String) throws {
        try check(text: String(contentsOfFile: file, encoding: .utf8), against: name)
    }

    /// Byte-for-byte comparison with Golden/expected/NAME, naming the first differing line; with
    /// ATTNPREC_UPDATE_GOLDEN=1 it rewrites the file instead.
    static func check(text: String, against name: String) throws {
        let path = folder + "/expected/" + name
        if updating {
            try Data(text.utf8).write(to: URL(fileURLWithPath: path), options: .atomic)
            print("ATTNPREC_UPDATE_GOLDEN=1: rewrote \(path)")
            return
        }
        let expected = try String(contentsOfFile: path, encoding: .utf8)
        guard text != expected else { return }
        let a = expected.split(separator: "\n", omittingEmptySubsequences: false)
        let b = text.split(separator: "\n", omittingEmptySubsequences: false)
        let i = (0..<min(a.count, b.count)).first { a[$0] != b[$0] } ?? min(a.count, b.count)
        // A results line is one long record: show its key and the text around the first difference.
        let x = i < a.count ? Array(a[i]) : [], y = i < b.count ? Array(b[i]) : []
        let column = (0..<min(x.count, y.count)).first { x[$0] != y[$0] } ?? min(x.count, y.count)
        func shown(_ line: [Character], _ present: Bool) -> String {
            guard present else { return "(end of file)" }
            let from = max(0, column - 80), to = min(line.count, column + 80)
            return (from > 0 ? "…" : "") + String(line[from..<to]) + (to < line.count ? "…" : "")
        }
        let key = (i < a.count ? a[i] : "").firstMatch(of: #/"key":"([^"]*)"/#).map { " (key \($0.1))" } ?? ""
        Issue.record("""
            \(name): differs from the golden file first at line \(i + 1), column \(column + 1)\(key); \(lines(expected)) lines expected, \(lines(text)) produced
              expected: \(shown(x, i < a.count))
              produced: \(shown(y, i < b.count))
            If the change means to move numbers, rewrite the golden files with ATTNPREC_UPDATE_GOLDEN=1 and say why in the commit.
            """)
    }
}
