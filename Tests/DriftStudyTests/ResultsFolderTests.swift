import Foundation
import NumberFormats
import Testing
@testable import DriftStudy

/// `ResultsFolder`: a results folder is never replaced by another study; `--resume` continues
/// a subset of the config's keys; `--force` moves the old folder aside and deletes nothing.
@Suite(.serialized) struct ResultsFolderTests {
    /// 64 tokens, a Float64 reference: a run takes a fraction of a second.
    static func config(name: String = "tiny", recipes: [String] = ["bfloat16"]) throws -> StudyConfig {
        try StudyConfig.parse("""
            name: \(name)
            tokens: [64]
            inputs: bfloat16
            reference: {tier: float64, certify_tokens: 16, bits: 64, double_precision_tokens: 8}
            sampling: {per_octave: 4}
            variants:
              - {name: linear, key_dim: 8, value_dim: 8}
            recipes: [\(recipes.joined(separator: ", "))]
            """, file: "\(name).yaml", defaultName: name)
    }

    static func run(_ dir: String, _ config: StudyConfig, resume: Bool = false, force: Bool = false) throws -> RunInfo {
        try Study.run(configs: [config], options: Study.Options(out: dir, resume: resume, force: force))
    }

    static func results(_ dir: String) -> Data { StudyFixture.read("\(dir)/results.jsonl") }

    /// The refusal's message, or nil when `body` did not throw an `InputError`.
    static func refusal(_ body: () throws -> Void) -> String? {
        do { try body() } catch let e as InputError { return e.message } catch { return "not an InputError: \(error)" }
        return nil
    }

    @Test func theSameStudyFinishedIsRefusedWithoutResume() throws {
        let dir = try StudyFixture.tempDir()
        let first = try Self.run(dir, Self.config())
        #expect(first.study == "tiny")
        let before = Self.results(dir)
        let message = try #require(Self.refusal { _ = try Self.run(dir, Self.config()) })
        #expect(message.contains("'\(dir)' holds 1 record(s) of study 'tiny' (finished)"), "\(message)")
        #expect(message.contains("--resume") && message.contains("--force"))
        #expect(Self.results(dir) == before)
        // Resuming a finished folder computes nothing and keeps every byte.
        #expect(try Self.run(dir, Self.config(), resume: true).recordsComputed == 0)
        #expect(Self.results(dir) == before)
    }

    @Test func anotherStudyIsRefusedEvenWithResume() throws {
        let dir = try StudyFixture.tempDir()
        _ = try Self.run(dir, Self.config(name: "first"))
        let before = Self.results(dir)
        for resume in [false, true] {
            let message = try #require(Self.refusal { _ = try Self.run(dir, Self.config(name: "second"), resume: resume) })
            #expect(message.contains("of study 'first', not of study 'second'"), "\(message)")
            #expect(message.split(separator: "\n").count == 1)
        }
        #expect(Self.results(dir) == before)
        #expect(RunInfo.load(dir: dir).first?.study == "first")
    }

    /// A config that grew (a recipe added) resumes; one that shrank is refused.
    @Test func resumeContinuesASubsetOnly() throws {
        let dir = try StudyFixture.tempDir()
        _ = try Self.run(dir, Self.config())
        let grown = try Self.run(dir, Self.config(recipes: ["bfloat16", "float16"]), resume: true)
        #expect(grown.recordsComputed == 1 && grown.records == 2)
        let whole = try StudyFixture.tempDir()
        _ = try Self.run(whole, Self.config(recipes: ["bfloat16", "float16"]))
        #expect(Self.results(dir) == Self.results(whole))

        let before = Self.results(dir)
        let message = try #require(Self.refusal { _ = try Self.run(dir, Self.config(), resume: true) })
        #expect(message.contains("1 of them not in this config (first: 'variant=linear;"), "\(message)")
        #expect(Self.results(dir) == before)
    }

    /// A run stopped before its run.json: its study is unknown, so its keys decide.
    @Test func anUnfinishedRunResumesByItsKeys() throws {
        let dir = try StudyFixture.tempDir(), whole = try StudyFixture.tempDir()
        _ = try Self.run(whole, Self.config(recipes: ["bfloat16", "float16"]))
        let first = String(decoding: Self.results(whole), as: UTF8.self).split(separator: "\n")[0] + "\n"
        try Data(first.utf8).write(to: URL(fileURLWithPath: "\(dir)/results.jsonl"))
        let held = try #require(try ResultsFolder.held(in: dir))
        #expect(held.study == nil && !held.finished && held.keys.count == 1)
        let message = try #require(Self.refusal { _ = try Self.run(dir, Self.config(recipes: ["bfloat16", "float16"])) })
        #expect(message.contains("holds 1 record(s) of an unfinished run; use --resume"), "\(message)")
        #expect(try Self.run(dir, Self.config(recipes: ["bfloat16", "float16"]), resume: true).recordsComputed == 1)
        #expect(Self.results(dir) == Self.results(whole))
    }

    @Test func forceMovesAsideAndDeletesNothing() throws {
        let parent = try StudyFixture.tempDir()
        let dir = "\(parent)/study"
        _ = try Self.run(dir, Self.config(name: "first"))
        let first = Self.results(dir)
        try Data("mine".utf8).write(to: URL(fileURLWithPath: "\(dir)/notes.txt"))
        _ = try Self.run(dir, Self.config(name: "second", recipes: ["float16"]), force: true)
        _ = try Self.run(dir, Self.config(name: "third"), force: true)
        #expect(StudyFixture.read("\(parent)/study.old-1/results.jsonl") == first)
        #expect(StudyFixture.read("\(parent)/study.old-1/notes.txt") == Data("mine".utf8))
        #expect(RunInfo.load(dir: "\(parent)/study.old-2").first?.study == "second")
        #expect(RunInfo.load(dir: dir).first?.study == "third")
        #expect(try FileManager.default.contentsOfDirectory(atPath: parent).sorted() == ["study", "study.old-1", "study.old-2"])
        // Nothing to move: no folder is made.
        let empty = "\(parent)/empty"
        try FileManager.default.createDirectory(atPath: empty, withIntermediateDirectories: true)
        #expect(try ResultsFolder.moveAside(empty) == nil)
        #expect(try ResultsFolder.moveAside("\(parent)/absent") == nil)
    }

    @Test func resumeAndForceTogetherAreRefused() throws {
        let dir = try StudyFixture.tempDir()
        let message = try #require(Self.refusal { _ = try Self.run(dir, Self.config(), resume: true, force: true) })
        #expect(message.hasPrefix("--resume and --force: expected one of them"))
        #expect(!FileManager.default.fileExists(atPath: "\(dir)/results.jsonl"))
    }

    /// run.json written before `study` was recorded: the first config's base name stands for it.
    @Test func olderRunJSONIsIdentifiedByItsConfigName() throws {
        let dir = try StudyFixture.tempDir()
        try Data(#"{"key":"k"}"#.utf8 + [10]).write(to: URL(fileURLWithPath: "\(dir)/results.jsonl"))
        try Data(#"{"command":"attnprec run","configs":["experiments/default.yaml"],"git_revision":"x","compiler_flags":"","cpu":"","cores":1,"jobs":1,"wall_seconds":1,"started":"","records":1,"records_computed":1,"groups":1,"tokens_stepped":1}"#.utf8)
            .write(to: URL(fileURLWithPath: "\(dir)/run.json"))
        #expect(try ResultsFolder.held(in: dir) == ResultsFolder.Held(study: "default", keys: ["k"], finished: true))
        let message = try #require(Self.refusal { _ = try ResultsFolder.claim(dir, study: "other", keys: ["k"], resume: true, force: false) })
        #expect(message.contains("of study 'default', not of study 'other'"))
        // A scenario (keys nil) cannot resume: only --force or another --out is offered.
        let scenario = try #require(Self.refusal { _ = try ResultsFolder.claim(dir, study: "default", keys: nil, resume: false, force: false) })
        #expect(scenario.hasSuffix("(finished); use --force to move them aside, or another --out"), "\(scenario)")
    }
}
