import CLITestSupport
import Foundation
import Testing
#if canImport(Glibc)
import Glibc
#endif

/// Issue 17's Slurm scripts (experiments/slurm/) and `report`'s shard checks. The scripts'
/// refusals are checked with the environment Slurm would give them; `realCluster` runs them on
/// a one-node Slurm cluster (scripts/local-slurm.sh) when ATTNPREC_SLURM_TEST=1 (`.ci/run` sets
/// it and installs slurm-wlm and munge), and then fails rather than skips without Slurm.
@Suite(.serialized) struct SlurmTests {
    static let repo = URL(fileURLWithPath: #filePath).deletingLastPathComponent().deletingLastPathComponent().deletingLastPathComponent().path

    /// Six groups (3 variants × 2 seeds) of 256 tokens: a whole run takes about a second.
    static let study = """
        name: tiny
        title: "Tiny sharded study"
        tokens: [256]
        seeds: [0, 1]
        inputs: bfloat16
        reference: {tier: float64, certify_tokens: 16, bits: 64, double_precision_tokens: 8}
        sampling: {per_octave: 4}
        variants:
          - {name: linear, key_dim: 8, value_dim: 8}
          - {name: gated_deltanet, key_dim: 8, value_dim: 8}
          - {name: mha, head_dim: 8}
        recipes: [{name: bf16, store: bfloat16}]
        workloads: [gaussian]

        """

    struct Outcome { let code: Int32; let out: String; let err: String }

    /// `argv` in `cwd` with `environment` changes (nil removes), killed after `limit` seconds.
    static func sh(_ argv: [String], in cwd: String, environment: [String: String?] = [:], limit: Double = 30) throws -> Outcome {
        let p = Process()
        p.executableURL = URL(fileURLWithPath: "/usr/bin/env")
        p.arguments = argv
        p.currentDirectoryURL = URL(fileURLWithPath: cwd)
        var env = ProcessInfo.processInfo.environment
        for (k, v) in environment { env[k] = v }
        p.environment = env
        let outPath = "\(cwd)/.sh-out-\(UUID().uuidString)", errPath = "\(cwd)/.sh-err-\(UUID().uuidString)"
        FileManager.default.createFile(atPath: outPath, contents: nil)
        FileManager.default.createFile(atPath: errPath, contents: nil)
        defer { try? FileManager.default.removeItem(atPath: outPath); try? FileManager.default.removeItem(atPath: errPath) }
        p.standardInput = FileHandle.nullDevice
        p.standardOutput = try FileHandle(forWritingTo: URL(fileURLWithPath: outPath))
        p.standardError = try FileHandle(forWritingTo: URL(fileURLWithPath: errPath))
        try p.run()
        let deadline = Date().addingTimeInterval(limit)
        while p.isRunning && Date() < deadline { usleep(20_000) }
        if p.isRunning { kill(p.processIdentifier, SIGKILL) }
        p.waitUntilExit()
        let read = { (path: String) in String(decoding: FileManager.default.contents(atPath: path) ?? Data(), as: UTF8.self) }
        return Outcome(code: p.terminationStatus, out: read(outPath), err: read(errPath))
    }

    /// A folder holding tiny.yaml.
    static func folder() throws -> String {
        let dir = try CLI.tempDir()
        try Data(study.utf8).write(to: URL(fileURLWithPath: "\(dir)/tiny.yaml"))
        return dir
    }

    static func script(_ name: String) -> String { "\(repo)/experiments/slurm/\(name)" }

    /// What Slurm sets in array task `id` of `--array` with these ids.
    static func arrayTask(_ id: Int, min: Int, max: Int, count: Int) -> [String: String?] {
        ["SLURM_ARRAY_JOB_ID": "41", "SLURM_ARRAY_TASK_ID": "\(id)", "SLURM_ARRAY_TASK_MIN": "\(min)", "SLURM_ARRAY_TASK_MAX": "\(max)",
         "SLURM_ARRAY_TASK_COUNT": "\(count)", "SLURM_CPUS_ON_NODE": "1", "ATTNPREC": CLI.binary, "ATTNPREC_REPO": repo]
    }

    static func oneLine(_ o: Outcome, code: Int32 = 2, _ fragment: String) {
        #expect(o.code == code, "\(o.err)")
        #expect(o.err.split(separator: "\n").count == 1 && o.err.contains(fragment), "\(o.err)")
    }

    @Test func sweepOutsideAnArraySaysSoInOneLine() throws {
        let dir = try Self.folder()
        defer { try? FileManager.default.removeItem(atPath: dir) }
        let o = try Self.sh(["bash", Self.script("sweep.sbatch"), "tiny.yaml"], in: dir, environment: ["SLURM_ARRAY_TASK_ID": nil, "SLURM_ARRAY_TASK_COUNT": nil])
        Self.oneLine(o, "sweep.sbatch: not a Slurm array task")
    }

    /// `--array=1` alone and `--array=0-4:2` would run the whole sweep or skip a shard.
    @Test func sweepRefusesAnArrayThatIsNotZeroToNMinusOne() throws {
        let dir = try Self.folder()
        defer { try? FileManager.default.removeItem(atPath: dir) }
        let one = try Self.sh(["bash", Self.script("sweep.sbatch"), "tiny.yaml"], in: dir, environment: Self.arrayTask(1, min: 1, max: 1, count: 1))
        Self.oneLine(one, "expected --array=0-0")
        let stepped = try Self.sh(["bash", Self.script("sweep.sbatch"), "tiny.yaml"], in: dir, environment: Self.arrayTask(2, min: 0, max: 4, count: 3))
        Self.oneLine(stepped, "has 3 task(s) with ids 0…4; expected --array=0-2")
        #expect(!FileManager.default.fileExists(atPath: "\(dir)/reports/shards/tiny-41"))
    }

    @Test func aMissingBinaryNamesAllThreePlaces() throws {
        let dir = try Self.folder()
        defer { try? FileManager.default.removeItem(atPath: dir) }
        // A checkout without a release build, and a PATH without attnprec.
        try FileManager.default.createDirectory(atPath: "\(dir)/repo/experiments/slurm", withIntermediateDirectories: true)
        try FileManager.default.copyItem(atPath: Self.script("lib.sh"), toPath: "\(dir)/repo/experiments/slurm/lib.sh")
        var env = Self.arrayTask(0, min: 0, max: 0, count: 1)
        env["ATTNPREC"] = nil; env["ATTNPREC_REPO"] = "\(dir)/repo"; env["PATH"] = "/usr/bin:/bin"
        let o = try Self.sh(["bash", Self.script("sweep.sbatch"), "tiny.yaml"], in: dir, environment: env)
        Self.oneLine(o, "sweep.sbatch: no attnprec binary: expected $ATTNPREC, attnprec on PATH")
        #expect(o.err.contains("\(dir)/repo/.build/release/attnprec"))
        let submit = try Self.sh(["bash", Self.script("submit.sh"), "tiny.yaml", "0"], in: dir)
        Self.oneLine(submit, "submit.sh: N: expected a shard count ≥ 1, got '0'")
    }

    /// Each array task runs its shard into reports/shards/<name>-<array job>/<task>.
    @Test func sweepTasksRunTheirShards() throws {
        let dir = try Self.folder()
        defer { try? FileManager.default.removeItem(atPath: dir) }
        for task in 0..<2 {
            let o = try Self.sh(["bash", Self.script("sweep.sbatch"), "tiny.yaml"], in: dir, environment: Self.arrayTask(task, min: 0, max: 1, count: 2), limit: 120)
            #expect(o.code == 0, "\(o.err)")
            let info = try String(contentsOfFile: "\(dir)/reports/shards/tiny-41/\(task)/run.json", encoding: .utf8)
            #expect(info.contains("\"shard\" : \"\(task + 1)/2\"") && info.contains("\"config_sha256\""), "\(info)")
        }
    }
}

/// The repository's own scripts on a real one-node Slurm cluster.
extension SlurmTests {
    static let wanted = ProcessInfo.processInfo.environment["ATTNPREC_SLURM_TEST"] == "1"

    /// Starts the cluster, submits 3 shards and the merge with submit.sh, waits for the merge,
    /// and compares the merged results.jsonl with one process's, byte for byte. The daemons are
    /// stopped by PID whatever happens.
    @Test(.enabled(if: wanted, "set ATTNPREC_SLURM_TEST=1 (and install slurm-wlm, munge) to run Slurm"))
    func realCluster() throws {
        let dir = try Self.folder()
        defer { try? FileManager.default.removeItem(atPath: dir) }
        let cluster = "\(dir)/cluster"
        defer { _ = try? Self.sh(["bash", "\(Self.repo)/scripts/local-slurm.sh", "stop", cluster], in: dir) }
        let start = try Self.sh(["bash", "\(Self.repo)/scripts/local-slurm.sh", "start", cluster], in: dir, limit: 40)
        try #require(start.code == 0, "local-slurm.sh start: \(start.err)")
        let env: [String: String?] = ["SLURM_CONF": "\(cluster)/slurm.conf", "ATTNPREC": CLI.binary]
        let submit = try Self.sh(["bash", Self.script("submit.sh"), "tiny.yaml", "3", "merged"], in: dir, environment: env)
        try #require(submit.code == 0, "submit.sh: \(submit.err)")
        // "array job A: ..." and "merge job M ...".
        let ids = submit.out.split(separator: "\n").filter { $0.hasPrefix("array job ") || $0.hasPrefix("merge job ") }
            .map { $0.dropFirst(10).prefix(while: \.isNumber) }.joined(separator: ",")
        try #require(ids.split(separator: ",").count == 2, "submit.sh printed: \(submit.out)")
        var queued = true
        let deadline = Date().addingTimeInterval(75)
        while queued && Date() < deadline {
            usleep(500_000)
            let q = try Self.sh(["squeue", "-h", "-j", ids], in: dir, environment: env)
            queued = q.code != 0 || !q.out.trimmingCharacters(in: .whitespacesAndNewlines).isEmpty
        }
        let logs = (try? FileManager.default.contentsOfDirectory(atPath: "\(dir)/reports/shards"))?.filter { $0.hasSuffix(".log") }.sorted()
            .map { "\($0): " + ((try? String(contentsOfFile: "\(dir)/reports/shards/\($0)", encoding: .utf8)) ?? "") }.joined(separator: "\n") ?? ""
        try #require(!queued, "jobs \(ids) still queued after 75 s; \(logs)")
        try #require(FileManager.default.fileExists(atPath: "\(dir)/merged/results.jsonl"), "no merged results; \(logs)")
        let single = try CLI.run(["run", "tiny.yaml", "--out", "single", "--jobs", "1"], cwd: dir)
        try #require(single.code == 0, "\(single.err)")
        #expect(FileManager.default.contents(atPath: "\(dir)/merged/results.jsonl") == FileManager.default.contents(atPath: "\(dir)/single/results.jsonl"))
        let report = try String(contentsOfFile: "\(dir)/merged/report.md", encoding: .utf8)
        let reproduction = try String(contentsOfFile: "\(dir)/merged/reproduction.md", encoding: .utf8)
        #expect(report.hasPrefix("# Tiny sharded study\n") && reproduction.contains("(shard 3/3)"))
    }
}
