import ExactArithmetic
import Foundation
import NumberFormats

/// `attnprec run`: plan, run the groups over `jobs` threads, write results as they finish.
public enum Study {
    public struct Options: Sendable {
        public var out: String
        public var jobs: Int
        public var shard: (Int, Int)?
        public var resume: Bool
        public var progress: Bool
        public var command: String
        /// Move a folder holding results aside (`ResultsFolder.moveAside`) rather than refuse it.
        public var force: Bool
        /// Told where `force` moved the earlier results (one line, for the user).
        public var movedAside: (@Sendable (String) -> Void)?
        /// The running binary's git revision (`attnprec --version`), recorded in run.json; nil or
        /// "unknown": the revision of the checkout holding the config.
        public var revision: String?

        /// The revision run.json records: the binary's, else the config checkout's.
        public func revision(near path: String) -> String {
            if let r = revision, r != "unknown" { return r }
            return RunInfo.gitRevision(near: path)
        }
        public init(
            out: String, jobs: Int = 1, shard: (Int, Int)? = nil, resume: Bool = false, progress: Bool = false, command: String = "attnprec run",
            force: Bool = false, movedAside: (@Sendable (String) -> Void)? = nil
        ) {
            self.out = out; self.jobs = jobs; self.shard = shard; self.resume = resume; self.progress = progress; self.command = command
            self.force = force; self.movedAside = movedAside
        }

        /// `ResultsFolder.claim` for the study `name`, telling `movedAside` what moved where.
        public func claimFolder(study name: String, keys: Set<String>?) throws {
            if let aside = try ResultsFolder.claim(out, study: name, keys: keys, resume: resume, force: force) {
                movedAside?("moved the earlier results in '\(out)' aside to '\(aside)'")
            }
        }
    }

    final class Shared: @unchecked Sendable {
        let lock = NSLock()
        var lines: [String: String]
        var computed = 0
        var tokens = 0
        var groupsDone = 0
        init(lines: [String: String]) { self.lines = lines }
    }

    /// Runs the study; returns the provenance written to run.json. Input errors, and a folder
    /// that holds results this run may not replace (`ResultsFolder`), are thrown before
    /// anything is written.
    public static func run(configs: [StudyConfig], options: Options) throws -> RunInfo {
        let start = Date()
        var groups = try StudyPlan.expand(configs)
        // The revision of the code that runs, read before this run writes anything (results
        // written into the checkout would mark it dirty).
        let revision = options.revision(near: configs.first.map { URL(fileURLWithPath: $0.file).deletingLastPathComponent().path } ?? ".")
        // Every shard's keys: a shard resumed in a folder keeps the other shards' records.
        let studyKeys = Set(groups.flatMap { $0.records.map(\.key) })
        try options.claimFolder(study: configs.first?.name ?? "study", keys: studyKeys)
        if let (i, n) = options.shard { groups = StudyPlan.shard(groups, index: i, count: n) }
        let resultsPath = "\(options.out)/results.jsonl"
        var existing: [String: String] = [:]
        if options.resume { existing = try ResultsStore.readLines(resultsPath) }
        let todo = groups.filter { g in g.records.contains { existing[$0.key] == nil } }
        let shared = Shared(lines: existing)
        let totalTokens = todo.reduce(0) { $0 + $1.tokens }
        try AtomicFile.createFolder(options.out)
        if !options.resume || !FileManager.default.fileExists(atPath: resultsPath) {
            try ResultsStore.writeAtomically(ResultsStore.joined(existing), to: resultsPath)
        }
        let jobs = max(1, min(options.jobs, todo.count))
        let progressStart = Date()
        @Sendable func report() {
            guard options.progress else { return }
            let dt = Date().timeIntervalSince(progressStart)
            let rate = dt > 0 ? Double(shared.tokens) / dt : 0
            let eta = rate > 0 ? Double(totalTokens - shared.tokens) / rate : 0
            let line = String(format: "\r%d/%d groups, %d records, %.0f tok/s, ETA %.0f s   ", shared.groupsDone, todo.count, shared.computed, rate, eta)
            FileHandle.standardError.write(Data(line.utf8))
        }
        var failure: Error?
        do {
            try WorkQueue.run(count: todo.count, jobs: jobs) { i, left in
                let g = todo[i]
                // The last groups, when workers run out of groups, advance their runs on all threads.
                let threads = left < options.jobs ? options.jobs : 1
                shared.lock.lock()
                let missing = Set(g.records.map(\.key).filter { shared.lines[$0] == nil })
                shared.lock.unlock()
                let records = try GroupRunner.run(g, keys: missing, threads: threads) { n in
                    shared.lock.lock(); shared.tokens += n; report(); shared.lock.unlock()
                }
                let lines = try records.map { ($0.key, try StudyJSON.line($0)) }
                shared.lock.lock()
                defer { shared.lock.unlock() }
                for (k, l) in lines { shared.lines[k] = l }
                shared.computed += lines.count
                shared.groupsDone += 1
                try ResultsStore.writeAtomically(ResultsStore.joined(shared.lines), to: resultsPath)
                report()
            }
        } catch { failure = error }
        if options.progress { FileHandle.standardError.write(Data("\n".utf8)) }
        if let failure { throw failure }
        let shardText = options.shard.map { "\($0.0)/\($0.1)" }
        let fmt = ISO8601DateFormatter()
        let info = RunInfo(
            command: options.command, configs: configs.map(\.file),
            gitRevision: revision,
            compilerFlags: RunInfo.compilerFlags, cpu: RunInfo.cpu, cores: ProcessInfo.processInfo.activeProcessorCount,
            jobs: jobs, shard: shardText, wallSeconds: (Date().timeIntervalSince(start) * 100).rounded() / 100,
            started: fmt.string(from: start), records: shared.lines.count, recordsComputed: shared.computed,
            groups: groups.count, tokensStepped: shared.tokens, blas: blasCoreName, study: configs.first?.name,
            configSHA256: RunInfo.configSHA256(configs.map(\.file)), title: configs.first?.title)
        try ResultsStore.writeAtomically(try StudyJSON.encoder(pretty: true).encode(info), to: "\(options.out)/run.json")
        return info
    }
}
