import Foundation
import NumberFormats
import Testing
@testable import DriftStudy

/// `ResultsMerge.checkShards`: shards merge only as every shard 1…N once, of one N, config,
/// revision and study; `--allow-partial` merges what is there and says what is missing.
struct MergeChecksTests {
    static func info(_ shard: String?, config: String? = "c1", revision: String = "abc123", study: String? = "s") -> RunInfo {
        RunInfo(
            command: "attnprec run", configs: ["s.yaml"], gitRevision: revision, compilerFlags: "", cpu: "", cores: 1, jobs: 1,
            shard: shard, wallSeconds: 0, started: "", records: 0, recordsComputed: 0, groups: 0, tokensStepped: 0, blas: nil,
            study: study, configSHA256: config)
    }

    static func folders(_ infos: [RunInfo]) -> [(dir: String, infos: [RunInfo])] {
        infos.enumerated().map { ("d\($0.offset)", [$0.element]) }
    }

    static func refusal(_ infos: [RunInfo], allowPartial: Bool = false) -> String? {
        do { _ = try ResultsMerge.checkShards(folders(infos), allowPartial: allowPartial) } catch let e as InputError { return e.message } catch {
            return "not an InputError: \(error)"
        }
        return nil
    }

    @Test func everyShardOnceMerges() throws {
        #expect(try ResultsMerge.checkShards(Self.folders([Self.info("2/3"), Self.info("1/3"), Self.info("3/3")]), allowPartial: false) == nil)
        // Folders that are not shards are merged by key, unchecked.
        #expect(try ResultsMerge.checkShards(Self.folders([Self.info(nil, config: "a"), Self.info(nil, config: "b")]), allowPartial: false) == nil)
    }

    @Test func aMissingShardIsRefusedUnlessPartialIsAllowed() throws {
        let two = [Self.info("1/3"), Self.info("3/3")]
        let message = try #require(Self.refusal(two))
        #expect(message == "report: shard(s) 2/3 missing (2 of 3 given); expected every shard 1…3 once, or --allow-partial to merge what is there")
        let notice = try #require(try ResultsMerge.checkShards(Self.folders(two), allowPartial: true))
        #expect(notice.contains("2 of 3 shards") && notice.contains("2/3 missing"))
    }

    @Test func aDuplicateShardIsRefusedEvenWhenPartial() throws {
        let message = try #require(Self.refusal([Self.info("1/2"), Self.info("2/2"), Self.info("2/2")], allowPartial: true))
        #expect(message == "d2/run.json: shard 2/2 again (also in d1); expected each shard once")
    }

    @Test func mixedRunsAreRefused() throws {
        let n = try #require(Self.refusal([Self.info("1/2"), Self.info("2/3")]))
        #expect(n.hasPrefix("d1/run.json: shard count 3 differs from 2 in d0"))
        let config = try #require(Self.refusal([Self.info("1/2", config: "aaa"), Self.info("2/2", config: "bbb")]))
        #expect(config == "d1/run.json: config_sha256 bbb differs from aaa in d0; expected shards of one config (the same file bytes)")
        let revision = try #require(Self.refusal([Self.info("1/2"), Self.info("2/2", revision: "def456-dirty")]))
        #expect(revision.contains("git_revision def456-dirty differs from abc123"))
        let study = try #require(Self.refusal([Self.info("1/2", config: nil), Self.info("2/2", config: nil, study: "t")]))
        #expect(study.contains("study t differs from s"))
    }

    @Test func unrecordedDigestsAndRevisionsAreNotCalledDifferent() throws {
        let old = [Self.info("1/3", config: nil), Self.info("2/3", config: "c1"), Self.info("3/3", revision: "unknown")]
        #expect(try ResultsMerge.checkShards(Self.folders(old), allowPartial: false) == nil)
    }

    @Test func aMalformedShardIsRefused() throws {
        #expect(Self.refusal([Self.info("4/3")]) == "d0/run.json: shard '4/3'; expected I/N with 1 ≤ I ≤ N")
    }

    /// FIPS 180-4's examples, and a message across a block boundary (56 bytes).
    @Test func sha256MatchesTheStandardsVectors() {
        #expect(SHA256.hex([UInt8]()) == "e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855")
        #expect(SHA256.hex(Array("abc".utf8)) == "ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad")
        #expect(SHA256.hex(Array("abcdbcdecdefdefgefghfghighijhijkijkljklmklmnlmnomnopnopq".utf8))
            == "248d6a61d20638b8e5c026930c3e6039a33ce45964ff2167f6ecedd419db06c1")
        #expect(SHA256.hex([UInt8](repeating: 0x61, count: 1000)) == "41edece42d63e8d9bf515a9ba6932e1c20cbc9f5a5d134645adb5db1b9737ea3")
    }
}
