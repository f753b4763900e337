import CLITestSupport
import Foundation
import NumberFormats
import Testing
#if canImport(Glibc)
import Glibc
#else
import Darwin
#endif

/// Issue 16's fault tolerance, kept as tests: `run`, `validate`, `replay` and `report` killed
/// (SIGKILL) at seeded random points between 10% and 90% of an uninterrupted run's time leave
/// nothing half-written — every visible file they leave is one the uninterrupted run writes,
/// whole (results.jsonl: complete lines, each one of the finished run's) — and running again
/// (`run --resume`; the same command for the others) gives the same files as the uninterrupted
/// run: results.jsonl, CSV, plots and tensors byte for byte, report.md up to its
/// reproduction section (which holds the command and the wall time).
///
/// Hidden files (`.NAME.tmp-PID`, the atomic writer's temporaries) are not looked at: a killed
/// process cannot remove its own, and no reader takes them for results.
@Suite(.serialized) struct KillResumeTests {
    static let study = """
        name: kr
        tokens: [1024]
        seeds: [0, 1]
        inputs: bfloat16
        reference: {tier: float64, certify_tokens: 16, bits: 64, double_precision_tokens: 8}
        sampling: {per_octave: 4}
        variants:
          - {name: linear, key_dim: 16, value_dim: 16}
          - {name: gated_deltanet, key_dim: 16, value_dim: 16}
          - {name: mha, head_dim: 16}
        recipes: [{name: bf16, store: bfloat16}, {name: fp16, store: float16}]
        workloads: [gaussian]

        """

    static let budgets = """
        inputs: bfloat16
        reference: {tier: float64, certify_tokens: 16, bits: 64, double_precision_tokens: 8}
        sampling: {per_octave: 4}
        budgets:
          - {name: a, variant: linear, key_dim: 16, value_dim: 16, recipe: {state: bfloat16}, tokens: 1024, max_output_rel_err: 0.5}
          - {name: b, variant: gated_deltanet, key_dim: 16, value_dim: 16, recipe: {state: float16}, tokens: 1024, max_output_rel_err: 0.5}

        """

    /// A study run killed at seeded points, then resumed: results.jsonl byte-identical.
    @Test func runKilledThenResumed() throws {
        let dir = try Self.folder()
        defer { try? FileManager.default.removeItem(atPath: dir) }
        try Self.interrupted(in: dir, seed: 16, kills: 4, first: { ["run", "c.yaml", "--out", $0, "--jobs", "2"] },
                             again: { ["run", "c.yaml", "--out", $0, "--jobs", "2", "--resume"] })
    }

    /// `validate --junit --summary` killed: each file absent or whole; run again: the same.
    @Test func validateKilled() throws {
        let dir = try Self.folder()
        defer { try? FileManager.default.removeItem(atPath: dir) }
        let args = { (out: String) in ["validate", "b.yaml", "--junit", "\(out)/junit.xml", "--summary", "\(out)/summary.md", "--jobs", "2"] }
        try Self.interrupted(in: dir, seed: 17, kills: 3, first: args, again: args)
    }

    /// `replay --out` killed: the tensors, errors.json and report.md absent or whole.
    @Test func replayKilled() throws {
        let dir = try Self.folder()
        defer { try? FileManager.default.removeItem(atPath: dir) }
        let args = { (out: String) in ["replay", "t.safetensors", "--variant", "linear", "--recipe", "state=bfloat16", "--recipe", "state=float16", "--out", out, "--jobs", "2"] }
        try Self.interrupted(in: dir, seed: 18, kills: 3, first: args, again: args)
    }

    /// `report DIR --out` of a finished study killed: the merged results, run.json, report and
    /// plots absent or whole.
    @Test func reportKilled() throws {
        let dir = try Self.folder()
        defer { try? FileManager.default.removeItem(atPath: dir) }
        let study = try CLI.run(["run", "c.yaml", "--out", "study", "--jobs", "2"], in: dir, limit: 300)
        try #require(study.code == 0, "\(study.err)")
        try Self.interrupted(in: dir, seed: 19, kills: 3, first: { ["report", "study", "--out", $0] }, again: { ["report", "study", "--out", $0] })
    }

    /// The checks see what a kill could leave: a cut line, a stray line, a cut report, a file
    /// the finished run lacks.
    @Test func partialChecksCatchHalfWrittenFiles() {
        let report = Data("# r\n\n| a |\n\n## Reproduction\n\n- command: `x`\n".utf8)
        let reference = ["results.jsonl": Data("{\"key\":\"a\"}\n{\"key\":\"b\"}\n".utf8), "report.md": report]
        #expect(Self.partialProblems(["results.jsonl": Data("{\"key\":\"b\"}\n".utf8)], reference: reference).isEmpty)
        #expect(Self.partialProblems(["report.md": Data("# r\n\n| a |\n\n## Reproduction\n\n- command: `y`\n".utf8)], reference: reference).isEmpty)
        for bad in [["results.jsonl": Data("{\"key\":\"a\"}\n{\"ke".utf8)], ["results.jsonl": Data("{\"key\":\"c\"}\n".utf8)],
                    ["report.md": report.prefix(12)], ["report.md": report.prefix(30)], ["plots/x.svg": Data()]] {
            #expect(!Self.partialProblems(bad, reference: reference).isEmpty, "\(bad.keys)")
        }
    }

    /// Runs `first("full")` to completion, then for each kill `first("killed-i")` killed after
    /// a seeded fraction of that time, checks what it left, runs `again("killed-i")` and
    /// compares the folder with `full`. At least one kill must land while the command runs.
    static func interrupted(in dir: String, seed: UInt64, kills: Int, first: (String) -> [String], again: (String) -> [String]) throws {
        let full = try CLI.run(first("full"), in: dir, unsetting: ["GITHUB_STEP_SUMMARY"], limit: 300)
        try #require(full.code == 0, "uninterrupted \(first("full").joined(separator: " ")): exit \(full.code): \(full.err)")
        let reference = try files(dir + "/full")
        let random = CounterRandom(seed: seed, role: "kill points")
        var interrupted = 0
        for i in 0..<kills {
            let out = "killed-\(i)"
            let fraction = 0.1 + 0.8 * Double(random.bits(i)) * 0x1p-32
            // A command that ended before its kill (the machine got quicker) runs again, killed sooner.
            var delay = fraction * full.seconds
            for _ in 0..<4 {
                try? FileManager.default.removeItem(atPath: dir + "/" + out)
                let p = try CLI.launch(first(out), in: dir, unsetting: ["GITHUB_STEP_SUMMARY"])
                usleep(useconds_t(delay * 1e6))
                kill(p.processIdentifier, SIGKILL)
                p.waitUntilExit()
                if p.terminationReason == .uncaughtSignal { interrupted += 1; break }
                delay /= 2
            }
            let left = try files(dir + "/" + out)
            for problem in partialProblems(left, reference: reference) {
                Issue.record("\(first(out).joined(separator: " ")) killed at \(Int(fraction * 100))%: \(problem)")
            }
            let rerun = try CLI.run(again(out), in: dir, unsetting: ["GITHUB_STEP_SUMMARY"], limit: 300)
            #expect(rerun.code == 0, "\(again(out).joined(separator: " ")) after a kill at \(Int(fraction * 100))%: exit \(rerun.code): \(rerun.err)")
            let finished = try files(dir + "/" + out)
            #expect(finished.keys.sorted() == reference.keys.sorted(), "after a kill at \(Int(fraction * 100))%")
            for (name, data) in finished where reference[name].map({ normalised(name, $0) != normalised(name, data) }) ?? false {
                Issue.record("\(out)/\(name) differs from the uninterrupted run's after a kill at \(Int(fraction * 100))% and a rerun")
            }
            if let a = finished["results.jsonl"], let b = reference["results.jsonl"] { #expect(a == b, "results.jsonl not byte-identical") }
        }
        // A kill after the process ended tests nothing: most must land while it runs.
        #expect(interrupted >= 1, "\(first("full").joined(separator: " ")): no kill landed while the command ran")
    }

    /// What is wrong with the files a killed command left: a file the uninterrupted run does
    /// not write, a results line that is not one of its lines, a file not whole.
    static func partialProblems(_ left: [String: Data], reference: [String: Data]) -> [String] {
        var found: [String] = []
        for (name, data) in left.sorted(by: { $0.key < $1.key }) {
            guard let whole = reference[name] else { found.append("left \(name), which the uninterrupted run does not write"); continue }
            if name.hasSuffix("results.jsonl") {
                let lines = Set(String(decoding: whole, as: UTF8.self).split(separator: "\n"))
                let text = String(decoding: data, as: UTF8.self)
                if !text.isEmpty && !text.hasSuffix("\n") { found.append("\(name) ends inside a line") }
                let strays = text.split(separator: "\n").filter { !lines.contains($0) }
                if !strays.isEmpty { found.append("\(name): \(strays.count) line(s) not in the finished results, e.g. \(strays[0].prefix(120))") }
            } else if normalised(name, data) != normalised(name, whole) {
                found.append("\(name) is not whole (\(data.count) bytes; the finished one has \(whole.count))")
            }
        }
        return found
    }

    /// A file's contents less what legitimately differs between two runs: report.md's
    /// reproduction section (a study's: reproduction.md's "How") (command, wall time) but
    /// not its length, run.json's values, the
    /// JUnit times. Other files as they are (compared as bytes).
    static func normalised(_ name: String, _ data: Data) -> Data {
        let text = { String(decoding: data, as: UTF8.self) }
        if name.hasSuffix("report.md") || name.hasSuffix("reproduction.md"), let r = text().range(of: name.hasSuffix("report.md") ? "## Reproduction" : "## How") {
            let t = text()
            return Data((String(t[..<r.lowerBound]) + "\(t[r.lowerBound...].split(separator: "\n", omittingEmptySubsequences: false).count) lines").utf8)
        }
        if name.hasSuffix("run.json") {
            guard let object = try? JSONSerialization.jsonObject(with: data) else { return Data("not JSON".utf8) }
            return Data("\(((object as? [[String: Any]]) ?? [(object as? [String: Any]) ?? [:]]).map { $0.keys.sorted() })".utf8)
        }
        if name.hasSuffix(".xml") {
            return Data(text().replacingOccurrences(of: #" (time|timestamp)="[^"]*""#, with: "", options: .regularExpression).utf8)
        }
        return data
    }

    /// Visible files below `dir` (relative path → contents); none when it does not exist.
    static func files(_ dir: String) throws -> [String: Data] {
        guard let walk = FileManager.default.enumerator(atPath: dir) else { return [:] }
        var out: [String: Data] = [:]
        for case let rel as String in walk where !rel.split(separator: "/").contains(where: { $0.hasPrefix(".") }) {
            var isFolder: ObjCBool = false
            if FileManager.default.fileExists(atPath: dir + "/" + rel, isDirectory: &isFolder), !isFolder.boolValue {
                out[rel] = FileManager.default.contents(atPath: dir + "/" + rel) ?? Data()
            }
        }
        return out
    }

    /// A fresh folder with the study config, the budgets file and a linear-attention replay
    /// input (q, k, v of 1024 tokens, 2 heads, 16 channels).
    static func folder() throws -> String {
        let dir = try CLI.tempDir()
        try Data(study.utf8).write(to: URL(fileURLWithPath: dir + "/c.yaml"))
        try Data(budgets.utf8).write(to: URL(fileURLWithPath: dir + "/b.yaml"))
        try replayInput().write(to: URL(fileURLWithPath: dir + "/t.safetensors"))
        return dir
    }

    static func replayInput(tokens: Int = 1024, heads: Int = 2, dim: Int = 16) -> Data {
        let n = tokens * heads * dim * 4
        let entries = ["q", "k", "v"].enumerated().map { i, name in
            "\"\(name)\": {\"dtype\": \"F32\", \"shape\": [\(tokens), \(heads), \(dim)], \"data_offsets\": [\(i * n), \((i + 1) * n)]}"
        }
        var header = Data("{\(entries.joined(separator: ", "))}".utf8)
        header.append(contentsOf: [UInt8](repeating: 0x20, count: (8 - header.count % 8) % 8))
        var out = Data()
        withUnsafeBytes(of: UInt64(header.count).littleEndian) { out.append(contentsOf: $0) }
        out.append(header)
        let random = CounterRandom(seed: 3, role: "replay input")
        for i in 0..<(3 * n / 4) {
            withUnsafeBytes(of: Float(Double(random.bits(i)) * 0x1p-31 - 1).bitPattern.littleEndian) { out.append(contentsOf: $0) }
        }
        return out
    }
}
