import ExactArithmetic
import Foundation
import HybridStacks
import NumberFormats

/// `attnprec run HYBRIDS.yaml`: runs every stack of a hybrid config (each stack's streams in
/// parallel over `jobs` threads; the same bytes for any `jobs`) and writes `results.jsonl`
/// (sorted by key) and `run.json` atomically. Input errors are thrown before anything is written.
public enum HybridStudy {
    public static func run(config c: HybridConfig, options: Study.Options, progress: ((String) -> Void)? = nil) throws -> (RunInfo, [HybridRecord]) {
        let start = Date()
        let revision = options.revision(near: URL(fileURLWithPath: c.file).deletingLastPathComponent().path)
        try options.claimFolder(study: c.name, keys: nil)
        var records: [HybridRecord] = []
        for var spec in c.specs {
            spec.options.jobs = options.jobs
            spec.options.blockRun = { BlockRuns.make($0, fast: true) }
            let t0 = Date()
            records += try HybridRunner.records(spec)
            progress?(String(format: "%@ (%d layers, %@ width) over %d tokens: %.1f s", spec.name, spec.shape.layers.count,
                             StackShape.text(spec.shape.width), spec.options.tokens, Date().timeIntervalSince(t0)))
        }
        records.sort { $0.key < $1.key }
        var lines: [String: String] = [:]
        for r in records {
            guard lines[r.key] == nil else { throw StudyInputError("\(c.file): two records share the key '\(r.key)'; expected unique entries") }
            lines[r.key] = try HybridRecord.line(r)
        }
        try AtomicFile.createFolder(options.out)
        try ResultsStore.writeAtomically(ResultsStore.joined(lines), to: "\(options.out)/results.jsonl")
        let info = RunInfo(
            command: options.command, configs: [c.file], gitRevision: revision,
            compilerFlags: RunInfo.compilerFlags, cpu: RunInfo.cpu, cores: ProcessInfo.processInfo.activeProcessorCount,
            jobs: options.jobs, shard: nil, wallSeconds: (Date().timeIntervalSince(start) * 100).rounded() / 100,
            started: ISO8601DateFormatter().string(from: start), records: records.count, recordsComputed: records.count,
            groups: c.specs.count, tokensStepped: c.specs.reduce(0) { $0 + $1.options.tokens }, blas: blasCoreName, study: c.name,
            configSHA256: RunInfo.configSHA256([c.file]), title: c.title)
        try ResultsStore.writeAtomically(try StudyJSON.encoder(pretty: true).encode(info), to: "\(options.out)/run.json")
        return (info, records)
    }
}
