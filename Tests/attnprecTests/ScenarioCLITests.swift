import CLITestSupport
import Foundation
import Testing

/// `attnprec run SCENARIO.yaml`: dispatch, files written, determinism, bad input.
@Suite struct ScenarioCLITests {
    static let mqar = """
    scenario: mqar
    name: tiny-mqar
    tokens: [16, 256]
    key_dim: 16
    value_dim: 16
    codebook: 16
    pairs: [4, 12]
    recipes: [{name: bf16, store: bfloat16}, {name: e5m2, store: float8_e5m2}]

    """

    @Test func runsWritesAndIsDeterministicAcrossJobs() throws {
        let dir = try CLI.tempDir()
        try Self.mqar.write(toFile: "\(dir)/tiny.yaml", atomically: true, encoding: .utf8)
        let a = try CLI.run(["run", "\(dir)/tiny.yaml", "--out", "\(dir)/a", "--jobs", "1"])
        #expect(a.code == 0, "\(a.err)")
        let b = try CLI.run(["run", "\(dir)/tiny.yaml", "--out", "\(dir)/b", "--jobs", "2"])
        #expect(b.code == 0, "\(b.err)")
        let ra = try #require(FileManager.default.contents(atPath: "\(dir)/a/results.jsonl"))
        let rb = try #require(FileManager.default.contents(atPath: "\(dir)/b/results.jsonl"))
        #expect(ra == rb)
        // 3 recipes (exact first) × 2 memories × 2 pair counts.
        let lines = String(decoding: ra, as: UTF8.self).split(separator: "\n")
        #expect(lines.count == 12)
        #expect(lines.allSatisfy { $0.hasPrefix("{\"key\":\"mqar|") })
        let report = try String(contentsOfFile: "\(dir)/a/report.md", encoding: .utf8)
        #expect(report.contains("## MQAR") && report.contains("| exact-float64 | float64 (exact) | 100 | 100 | 100 | 100 |"))
        #expect(FileManager.default.fileExists(atPath: "\(dir)/a/run.json"))
        #expect(FileManager.default.fileExists(atPath: "\(dir)/a/plots/mqar-deltanet-readout.svg"))
        // `report` redraws a scenario folder in place or into another folder.
        let redrawn = try CLI.run(["report", "\(dir)/a", "--out", "\(dir)/c"])
        #expect(redrawn.code == 0, "\(redrawn.err)")
        #expect(FileManager.default.contents(atPath: "\(dir)/c/results.jsonl") == ra)
        #expect(try String(contentsOfFile: "\(dir)/c/report.md", encoding: .utf8).contains("## MQAR"))
    }

    /// Each bad input: one line naming file and key, exit 2, nothing written.
    @Test(arguments: [
        ("scenario: mqar\ntokens: [64]\nkey_dim: 16\npairs: [4, 40]\nrecipes: [bfloat16]\n", "pairs: expected at most key_dim − 1 = 15"),
        ("scenario: counter\ntokens: [0]\nrecipes: [bfloat16]\n", "tokens: expected an integer in 1..."),
        ("scenario: prefix_cache\ntokens: [64]\nintervals: [16, 0]\nvariants: [linear]\nrecipes: [bfloat16]\n", "intervals: expected a checkpoint interval ≥ 1 token, got 0"),
        ("scenario: speculative\ntokens: [64]\ndrafts: [0]\nvariants: [linear]\nrecipes: [bfloat16]\n", "drafts: expected a draft length ≥ 1 token, got 0"),
        ("scenario: delethink\ntokens: [64]\nchunks: [16]\ntails: [0]\nvariants: [mha]\nrecipes: [bfloat16]\n", "tails: expected carried tails m ≥ 1 token, got 0"),
        ("scenario: delethink\ntokens: [64]\nchunks: [-16]\ntails: [8]\nvariants: [mha]\nrecipes: [bfloat16]\n", "chunks: expected chunk lengths L ≥ 1 token, got -16"),
        ("scenario: delethink\ntokens: [64]\nchunks: [16]\ntails: [8]\nvariants: [mha]\nequal_memory: [gdn]\nrecipes: [bfloat16]\n", "equal_memory: unknown variant 'gdn'"),
    ])
    func badInputExits2AndWritesNothing(_ text: String, _ expected: String) throws {
        let dir = try CLI.tempDir()
        try text.write(toFile: "\(dir)/bad.yaml", atomically: true, encoding: .utf8)
        let r = try CLI.run(["run", "\(dir)/bad.yaml", "--out", "\(dir)/out"])
        #expect(r.code == 2)
        #expect(r.err.hasPrefix("attnprec: \(dir)/bad.yaml:") && r.err.contains(expected), "\(r.err)")
        #expect(r.err.split(separator: "\n").count == 1)
        #expect(!FileManager.default.fileExists(atPath: "\(dir)/out"))
    }
}
