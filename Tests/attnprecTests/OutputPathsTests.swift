import CLITestSupport
import Foundation
import Testing

/// Output locations on the command line: every unwritable one refused before any work (exit 2,
/// one line naming the flag, no Foundation text, nothing written), and `run`'s folder rule
/// (another study refused, `--resume`, `--force` moving the old results aside).
@Suite struct OutputPathsTests {
    static let study = """
        name: tiny
        tokens: [64]
        inputs: bfloat16
        reference: {tier: float64, certify_tokens: 16, bits: 64, double_precision_tokens: 8}
        sampling: {per_octave: 4}
        variants:
          - {name: linear, key_dim: 8, value_dim: 8}
        recipes: [bfloat16]

        """
    static let budgets = """
        inputs: bfloat16
        reference: {tier: float64, certify_tokens: 16, bits: 64, double_precision_tokens: 8}
        sampling: {per_octave: 4}
        budgets:
          - {name: one, variant: linear, key_dim: 8, value_dim: 8, recipe: {state: bfloat16}, tokens: 64, max_output_rel_err: 0.5}

        """
    static let scenario = "scenario: counter\nname: tiny\ntokens: [16]\nrecipes: [bfloat16]\n"

    /// A folder with `study.yaml`, `budgets.yaml`, `scenario.yaml` and a regular file `file`.
    static func folder() throws -> String {
        let d = try CLI.tempDir()
        try study.write(toFile: "\(d)/study.yaml", atomically: true, encoding: .utf8)
        try budgets.write(toFile: "\(d)/budgets.yaml", atomically: true, encoding: .utf8)
        try scenario.write(toFile: "\(d)/scenario.yaml", atomically: true, encoding: .utf8)
        try "x".write(toFile: "\(d)/file", atomically: true, encoding: .utf8)
        return d
    }

    static func expectRefused(_ r: (code: Int32, out: String, err: String), _ fragment: String, sourceLocation: SourceLocation = #_sourceLocation) {
        #expect(r.code == 2, "\(r.err)", sourceLocation: sourceLocation)
        #expect(r.err.hasPrefix("attnprec: ") && r.err.contains(fragment), "\(r.err)", sourceLocation: sourceLocation)
        #expect(r.err.split(separator: "\n").count == 1, "\(r.err)", sourceLocation: sourceLocation)
        #expect(!r.err.contains("NSCocoaErrorDomain") && !r.err.contains("couldn’t"), sourceLocation: sourceLocation)
    }

    /// Each command with an output it cannot write: `@` stands for the test's folder.
    @Test(arguments: [
        (["run", "@/study.yaml", "--out", "@/file"], "--out @/file: is a file; expected a folder"),
        (["run", "@/study.yaml", "--out", "@/file/sub"], "'@/file' is a file; expected a folder on the way"),
        (["run", "@/study.yaml", "--out", "/proc/attnprec-x"], "--out /proc/attnprec-x: cannot write (no file can be created in '/proc'"),
        (["run", "@/scenario.yaml", "--out", "@/file/sub"], "--out @/file/sub: '@/file' is a file"),
        (["report", "@", "--out", "@/file"], "--out @/file: is a file; expected a folder"),
        (["report", "@", "--out", "/sys/attnprec"], "--out /sys/attnprec: cannot write (no file can be created in '/sys'"),
        (["validate", "@/budgets.yaml", "--junit", "@/file/j.xml"], "--junit @/file/j.xml: '@/file' is a file"),
        (["validate", "@/budgets.yaml", "--summary", "/proc/attnprec.md"], "--summary /proc/attnprec.md: cannot write (no file can be created in '/proc'"),
        (["validate", "@/budgets.yaml", "--junit", "@"], "--junit @: is a folder; expected a file path"),
        (["replay", "--variant", "linear", "@/absent.safetensors", "--out", "@/file"], "--out @/file: is a file"),
        (["formats", "quantize", "--format", "e4m3", "@/absent.npy", "@/file/o.npy"], "OUT @/file/o.npy: '@/file' is a file"),
        (["bench", "formats", "--json", "@/file/b.json"], "--json @/file/b.json: '@/file' is a file"),
        (["bench", "kernels", "--json", "/proc/b.json"], "--json /proc/b.json: cannot write (no file"),
        (["reference", "certify", "--variant", "linear", "--json", "@/file/c.json"], "--json @/file/c.json: '@/file' is a file"),
    ])
    func unwritableOutputsAreRefusedFirst(_ args: [String], _ fragment: String) throws {
        let d = try Self.folder()
        defer { try? FileManager.default.removeItem(atPath: d) }
        let before = try FileManager.default.contentsOfDirectory(atPath: d).sorted()
        let r = try CLI.run(args.map { $0.replacingOccurrences(of: "@", with: d) })
        Self.expectRefused(r, fragment.replacingOccurrences(of: "@", with: d))
        #expect(r.out.isEmpty, "nothing computed: \(r.out)")
        #expect(try FileManager.default.contentsOfDirectory(atPath: d).sorted() == before)
    }

    /// A bad --summary is refused before the budgets are computed, and the JUnit file is not
    /// written either; the step summary likewise.
    @Test func validateWritesNothingWhenOneOutputIsBad() throws {
        let d = try Self.folder()
        defer { try? FileManager.default.removeItem(atPath: d) }
        let r = try CLI.run(["validate", "\(d)/budgets.yaml", "--junit", "\(d)/j.xml", "--summary", "\(d)/file/s.md"])
        Self.expectRefused(r, "--summary \(d)/file/s.md: '\(d)/file' is a file")
        #expect(r.out.isEmpty)
        #expect(!FileManager.default.fileExists(atPath: "\(d)/j.xml"))
        let step = try CLI.run(["validate", "\(d)/budgets.yaml", "--junit", "\(d)/j.xml"], environment: ["GITHUB_STEP_SUMMARY": d])
        Self.expectRefused(step, "GITHUB_STEP_SUMMARY \(d): is a folder")
        let ok = try CLI.run(["validate", "\(d)/budgets.yaml", "--junit", "\(d)/new/j.xml", "--summary", "\(d)/new/s.md"], environment: ["GITHUB_STEP_SUMMARY": nil])
        #expect(ok.code == 0, "\(ok.err)")
        #expect(FileManager.default.fileExists(atPath: "\(d)/new/j.xml") && FileManager.default.fileExists(atPath: "\(d)/new/s.md"))
    }

    /// One-character names ("o", "j/") once trapped in Foundation's path handling.
    @Test func oneCharacterOutputNames() throws {
        let d = try Self.folder()
        defer { try? FileManager.default.removeItem(atPath: d) }
        let run = try CLI.run(["run", "study.yaml", "--out", "o/"], cwd: d)
        #expect(run.code == 0, "\(run.err)")
        #expect(FileManager.default.fileExists(atPath: "\(d)/o/results.jsonl"))
        let gate = try CLI.run(["validate", "budgets.yaml", "--junit", "j", "--summary", "s"], cwd: d, environment: ["GITHUB_STEP_SUMMARY": nil])
        #expect(gate.code == 0, "\(gate.err)")
        #expect(FileManager.default.fileExists(atPath: "\(d)/j") && FileManager.default.fileExists(atPath: "\(d)/s"))
    }

    @Test func runNeverReplacesAStudy() throws {
        let d = try Self.folder()
        defer { try? FileManager.default.removeItem(atPath: d) }
        let out = "\(d)/out"
        let first = try CLI.run(["run", "\(d)/study.yaml", "--out", out])
        #expect(first.code == 0, "\(first.err)")
        let results = try #require(FileManager.default.contents(atPath: "\(out)/results.jsonl"))

        Self.expectRefused(try CLI.run(["run", "\(d)/study.yaml", "--out", out]), "holds 1 record(s) of study 'tiny' (finished); use --resume")
        // Another study: the same config under another name, and a scenario config.
        try Self.study.replacingOccurrences(of: "name: tiny", with: "name: other").write(toFile: "\(d)/other.yaml", atomically: true, encoding: .utf8)
        Self.expectRefused(try CLI.run(["run", "\(d)/other.yaml", "--out", out, "--resume"]), "of study 'tiny', not of study 'other'")
        Self.expectRefused(try CLI.run(["run", "\(d)/scenario.yaml", "--out", out]), "of study 'tiny' (finished); use --force")
        Self.expectRefused(try CLI.run(["run", "\(d)/study.yaml", "--out", out, "--resume", "--force"]), "--resume and --force")
        #expect(FileManager.default.contents(atPath: "\(out)/results.jsonl") == results)

        let resumed = try CLI.run(["run", "\(d)/study.yaml", "--out", out, "--resume"])
        #expect(resumed.code == 0 && resumed.out.hasPrefix("0 records computed, 1 in"), "\(resumed.out) \(resumed.err)")

        let forced = try CLI.run(["run", "\(d)/scenario.yaml", "--out", out, "--force"])
        #expect(forced.code == 0, "\(forced.err)")
        #expect(forced.out.hasPrefix("moved the earlier results in '\(out)' aside to '\(out).old-1'"), "\(forced.out)")
        #expect(FileManager.default.contents(atPath: "\(out).old-1/results.jsonl") == results)
        #expect(FileManager.default.fileExists(atPath: "\(out).old-1/report.md"))
        #expect(FileManager.default.fileExists(atPath: "\(out)/report.md"))
        Self.expectRefused(try CLI.run(["run", "\(d)/scenario.yaml", "--out", out]), "of study 'tiny' (finished); use --force")
    }
}
