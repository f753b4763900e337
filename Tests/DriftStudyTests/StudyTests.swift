import Foundation
import AttentionVariants
import ExactArithmetic
import NumberFormats
import Testing
@testable import DriftStudy

/// `Study.run`: results that do not depend on jobs, shards or resuming; nothing written for a bad config.
@Suite(.serialized) struct StudyTests {
    func run(_ dir: String, jobs: Int = 1, shard: (Int, Int)? = nil, resume: Bool = false) throws -> RunInfo {
        try Study.run(configs: [try StudyFixture.config()], options: Study.Options(out: dir, jobs: jobs, shard: shard, resume: resume))
    }

    @Test func jobsDoNotChangeABit() throws {
        let a = try StudyFixture.tempDir(), b = try StudyFixture.tempDir()
        _ = try run(a, jobs: 1)
        _ = try run(b, jobs: 2)
        let x = StudyFixture.read("\(a)/results.jsonl"), y = StudyFixture.read("\(b)/results.jsonl")
        #expect(!x.isEmpty)
        #expect(x == y)
        let records = try ResultsStore.readRecords("\(a)/results.jsonl")
        #expect(records.count == 16)
        #expect(records.map(\.key) == records.map(\.key).sorted())
        for r in records {
            #expect(r.positions.count == r.outputRelErr.count)
            #expect(r.positions.last == 299)
            #expect(r.summary.nonFinite == 0)
            let finite: Bool = r.outputRelErr.allSatisfy { $0.isFinite }
            #expect(finite)
            let certified: Double = r.reference.fastVsMPFROutput ?? 1
            #expect(certified < 1e-10)
            if r.variant == "mha" {
                #expect(r.stateRelErr == nil)
                #expect(r.summary.bytesPerToken != nil)
            } else {
                #expect(r.stateRelErr?.count == r.positions.count)
            }
        }
        // bf16 state drifts more than nothing; e4m3 more than bf16 (same workload).
        let lin = records.filter { $0.variant == "linear" && $0.workload.gates == "default" && $0.workload.name == "gaussian" }
        let bf = lin.first { $0.recipeName == "bfloat16" }!, e4 = lin.first { $0.recipeName == "e4m3-token" }!
        let bfErr: Double = bf.summary.error(at: 300) ?? .nan
        let e4Err: Double = e4.summary.error(at: 300) ?? .nan
        #expect(bfErr > 1e-4)
        #expect(e4Err > bfErr)
        // A bf16 cache of bf16 inputs holds them exactly: the flat law is the binary32 compute's.
        let mhaBF = records.first { $0.variant == "mha" && $0.recipeName == "bfloat16" }!
        #expect(mhaBF.theory.law == "flat" && mhaBF.theory.unitRoundoff == 0x1p-24)
        #expect(records.first { $0.variant == "mha" && $0.recipeName == "e4m3-token" }!.theory.unitRoundoff == 0x1p-4)
        let info = try StudyJSON.decoder().decode(RunInfo.self, from: StudyFixture.read("\(b)/run.json"))
        #expect(info.jobs == 2)
        #expect(info.records == 16)
    }

    /// Cache variants record cache_rel_err, the attention KL and cosine; sparse ones the top-k
    /// overlap of a quantized indexer with the exact one.
    @Test func softmaxDiagnostics() throws {
        let text = """
        tokens: [600]
        reference: {tier: float64, certify_tokens: 0}
        sampling: {per_octave: 8}
        variants:
          - {name: mha, head_dim: 32}
          - {name: dsa, tokens: [300]}
          - {name: linear, key_dim: 8, value_dim: 8}
        recipes:
          - {name: fp32, store: float32}
          - {name: e4m3, store: float8_e4m3fn/per-token}
          - {name: fp8-indexer, roles: "indexer=float8_e4m3fn/block:128/pow2", variants: [dsa]}
        """
        let dir = try StudyFixture.tempDir()
        _ = try Study.run(configs: [try StudyConfig.parse(text, file: "d.yaml", defaultName: "d")], options: Study.Options(out: dir))
        let records = try ResultsStore.readRecords("\(dir)/results.jsonl")
        func rec(_ v: String, _ r: String) -> StudyRecord { records.first { $0.variant == v && $0.recipeName == r }! }
        let exact = rec("mha", "fp32"), e4 = rec("mha", "e4m3")
        #expect(exact.summary.cacheRelErr == 0)
        #expect((exact.summary.attentionKL ?? 1) < 1e-12)
        #expect(e4.summary.cacheRelErr! > 0.01 && e4.summary.cacheRelErr! < 0.1)
        #expect(e4.summary.attentionKL! > 1e-7)
        #expect(e4.cacheRelErr?.count == e4.positions.count)
        #expect(e4.attentionKL?.count == e4.positions.count)
        #expect(e4.summary.minCosine! < 1 && e4.summary.minCosine! > 0.99)
        #expect(e4.topkOverlap == nil)
        let lin = rec("linear", "e4m3")
        #expect(lin.cacheRelErr == nil && lin.attentionKL == nil)
        #expect(lin.outputCosine?.count == lin.positions.count)
        // DSA (top-k 256): the fp8 indexer drops keys the exact one keeps once t > 256.
        let idx = rec("dsa", "fp8-indexer")
        let overlap = try #require(idx.topkOverlap)
        #expect(overlap.count == idx.positions.count)
        #expect(overlap.allSatisfy { $0 >= 0 && $0 <= 1 })
        let mean = try #require(idx.summary.topkOverlapMean)
        #expect(mean < 1 && mean > 0.8)
        #expect(idx.summary.topkOverlapMin! <= mean)
        #expect(rec("dsa", "e4m3").summary.topkOverlapMean == 1)
    }

    /// A run killed mid-way leaves a sorted subset of records (each group is written
    /// atomically as it finishes); resuming from it gives the uninterrupted file.
    @Test func resumeEqualsUninterrupted() throws {
        let whole = try StudyFixture.tempDir(), part = try StudyFixture.tempDir()
        _ = try run(whole)
        let lines = String(decoding: StudyFixture.read("\(whole)/results.jsonl"), as: UTF8.self).split(separator: "\n")
        let kept = lines.enumerated().filter { $0.offset % 3 != 1 }.map { $0.element + "\n" }.joined()
        try Data(kept.utf8).write(to: URL(fileURLWithPath: "\(part)/results.jsonl"))
        let info = try run(part, resume: true)
        #expect(info.recordsComputed > 0)
        #expect(info.recordsComputed < 16)
        #expect(StudyFixture.read("\(part)/results.jsonl") == StudyFixture.read("\(whole)/results.jsonl"))
        // Resuming a finished folder computes nothing.
        #expect(try run(part, resume: true).recordsComputed == 0)
    }

    @Test func shardsMergeToTheWhole() throws {
        let whole = try StudyFixture.tempDir(), s1 = try StudyFixture.tempDir(), s2 = try StudyFixture.tempDir()
        _ = try run(whole)
        _ = try run(s1, shard: (1, 2))
        _ = try run(s2, shard: (2, 2))
        let a = try ResultsStore.readLines("\(s1)/results.jsonl"), b = try ResultsStore.readLines("\(s2)/results.jsonl")
        #expect(!a.isEmpty)
        #expect(!b.isEmpty)
        let disjoint: Bool = Set(a.keys).isDisjoint(with: b.keys)
        #expect(disjoint)
        let merged = a.merging(b) { x, _ in x }
        #expect(ResultsStore.joined(merged) == StudyFixture.read("\(whole)/results.jsonl"))
    }

    @Test func badConfigWritesNothing() throws {
        let dir = try StudyFixture.tempDir()
        try Data("keep\n".utf8).write(to: URL(fileURLWithPath: "\(dir)/results.jsonl"))
        let bad = try StudyConfig.parse("variants: [linear]\nrecipes:\n  - {name: c, roles: \"k_cache=bfloat16\"}\n", file: "bad.yaml", defaultName: "bad")
        #expect(throws: StudyInputError.self) { try Study.run(configs: [bad], options: Study.Options(out: dir)) }
        #expect(StudyFixture.read("\(dir)/results.jsonl") == Data("keep\n".utf8))
        #expect(!FileManager.default.fileExists(atPath: "\(dir)/run.json"))
    }
}
