import DriftStudy
import ExactArithmetic
import Foundation
import NumberFormats

/// `attnprec run SCENARIO.yaml`: runs every record of a scenario config over `jobs` threads and
/// writes `results.jsonl` (sorted by key, byte-identical for any `jobs`) and `run.json`
/// atomically. Input errors are thrown before anything is written.
public enum ScenarioStudy {
    public static func run(config c: ScenarioConfig, options: Study.Options) throws -> (RunInfo, [ScenarioRecord]) {
        let start = Date()
        // Read before anything is written (results inside the checkout would mark it dirty).
        let revision = options.revision(near: URL(fileURLWithPath: c.file).deletingLastPathComponent().path)
        let work = try plan(c)
        try options.claimFolder(study: c.name, keys: nil)
        final class Box: @unchecked Sendable {
            let lock = NSLock()
            var records: [[ScenarioRecord]?]
            init(_ n: Int) { records = Array(repeating: nil, count: n) }
        }
        let box = Box(work.count)
        let jobs = max(1, min(options.jobs, work.count))
        try WorkQueue.run(count: work.count, jobs: jobs) { i, _ in
            let r = try work[i].1()
            box.lock.lock(); box.records[i] = r; box.lock.unlock()
        }
        let records = box.records.flatMap { $0! }.sorted { $0.key < $1.key }
        var lines: [String: String] = [:]
        for r in records {
            guard lines[r.key] == nil else { throw StudyInputError("\(c.file): two records share the key '\(r.key)'; expected unique entries") }
            lines[r.key] = try ScenarioRecord.line(r)
        }
        try AtomicFile.createFolder(options.out)
        try ResultsStore.writeAtomically(ResultsStore.joined(lines), to: "\(options.out)/results.jsonl")
        let info = RunInfo(
            command: options.command, configs: [c.file],
            gitRevision: revision,
            compilerFlags: RunInfo.compilerFlags, cpu: RunInfo.cpu, cores: ProcessInfo.processInfo.activeProcessorCount,
            jobs: jobs, shard: nil, wallSeconds: (Date().timeIntervalSince(start) * 100).rounded() / 100,
            started: ISO8601DateFormatter().string(from: start), records: records.count, recordsComputed: records.count,
            groups: work.count, tokensStepped: records.reduce(0) { $0 + $1.tokens }, blas: blasCoreName, study: c.name)
        try ResultsStore.writeAtomically(try StudyJSON.encoder(pretty: true).encode(info), to: "\(options.out)/run.json")
        return (info, records)
    }

    /// The work of a config, as (identifier, work) pairs in a fixed order; an item makes one
    /// record or several that share runs (the KV prefix cache's).
    static func plan(_ c: ScenarioConfig) throws -> [(String, @Sendable () throws -> [ScenarioRecord])] {
        let single: [(String, @Sendable () throws -> ScenarioRecord)]
        switch c.kind {
        case .mqar, .counter, .needle: single = try TaskRunner.plan(c)
        case .prefixCache: return try PrefixCache.plan(c)
        case .handoff: single = try Handoff.plan(c)
        case .gates: single = try GatePrecision.plan(c)
        case .speculative: single = try Speculative.plan(c)
        case .delethink: single = try Delethink.plan(c)
        case .reproduce: single = try Reproduction.plan(c)
        case .pCast: single = try PCast.plan(c)
        }
        return single.map { key, work in (key, { [try work()] }) }
    }
}
