import ExactArithmetic
import Foundation
import NumberFormats

/// Results on disk: `results.jsonl` (one record per line, sorted by key) and `run.json`
/// (provenance). Every write is atomic (temp file + rename).
public enum ResultsStore {
    /// `AtomicFile.write`, creating missing folders.
    public static func writeAtomically(_ data: Data, to path: String) throws {
        try AtomicFile.write(data, to: path, creatingFolders: true)
    }

    /// key → line of an existing results file (empty when there is none).
    public static func readLines(_ path: String) throws -> [String: String] {
        guard let data = FileManager.default.contents(atPath: path) else { return [:] }
        var out: [String: String] = [:]
        for (i, raw) in String(decoding: data, as: UTF8.self).split(separator: "\n", omittingEmptySubsequences: true).enumerated() {
            struct Key: Decodable { let key: String }
            guard let k = try? JSONDecoder().decode(Key.self, from: Data(raw.utf8)) else {
                throw StudyInputError("\(path):\(i + 1): expected a JSON record with a 'key'")
            }
            out[k.key] = String(raw)
        }
        return out
    }

    public static func readRecords(_ path: String) throws -> [StudyRecord] {
        guard FileManager.default.fileExists(atPath: path) else { throw StudyInputError("\(path): no results file (expected results.jsonl from `attnprec run`)") }
        let lines = try readLines(path)
        let d = StudyJSON.decoder()
        return try lines.keys.sorted().map { k in
            do { return try d.decode(StudyRecord.self, from: Data(lines[k]!.utf8)) } catch {
                throw StudyInputError("\(path): record '\(k)': not a study record (\(error))")
            }
        }
    }

    public static func joined(_ lines: [String: String]) -> Data {
        Data(lines.keys.sorted().map { lines[$0]! + "\n" }.joined().utf8)
    }
}

/// Provenance of a run (`run.json`): everything that may differ between runs lives here.
public struct RunInfo: Codable, Sendable {
    public var command: String
    public var configs: [String]
    public var gitRevision: String
    public var compilerFlags: String
    public var cpu: String
    public var cores: Int
    public var jobs: Int
    public var shard: String?
    public var wallSeconds: Double
    public var started: String
    public var records: Int
    public var recordsComputed: Int
    public var groups: Int
    public var tokensStepped: Int
    /// The OpenBLAS kernel family and what chose it (`BLASSetup.selection`): Float32 gemms'
    /// low bits depend on it. Absent in run.json files written before it was recorded.
    public var blas: String?

    enum CodingKeys: String, CodingKey {
        case command, configs, cpu, cores, jobs, shard, started, records, groups, blas
        case gitRevision = "git_revision", compilerFlags = "compiler_flags", wallSeconds = "wall_seconds"
        case recordsComputed = "records_computed", tokensStepped = "tokens_stepped"
    }

    /// The provenance of a merged folder: one entry per shard or folder merged.
    struct Merged: Codable {
        var mergedFrom: [RunInfo]
        enum CodingKeys: String, CodingKey { case mergedFrom = "merged_from" }
    }

    /// The provenance in `dir/run.json` (a run's, or every merged run's); empty when absent.
    public static func load(dir: String) -> [RunInfo] {
        guard let data = FileManager.default.contents(atPath: "\(dir)/run.json") else { return [] }
        let d = StudyJSON.decoder()
        if let one = try? d.decode(RunInfo.self, from: data) { return [one] }
        return (try? d.decode(Merged.self, from: data))?.mergedFrom ?? []
    }

    /// Writes `infos` as `dir/run.json` (a single run as itself, several as `merged_from`).
    public static func write(_ infos: [RunInfo], dir: String) throws {
        guard !infos.isEmpty else { return }
        let e = StudyJSON.encoder(pretty: true)
        let data = infos.count == 1 ? try e.encode(infos[0]) : try e.encode(Merged(mergedFrom: infos))
        try ResultsStore.writeAtomically(data, to: "\(dir)/run.json")
    }

    public static var compilerFlags: String { BenchEnvironment.flags }

    public static var cpu: String { BenchEnvironment.cpu }

    public static func gitRevision(near path: String) -> String {
        let p = Process()
        p.executableURL = URL(fileURLWithPath: "/usr/bin/env")
        p.arguments = ["git", "-C", path, "describe", "--always", "--dirty", "--abbrev=12"]
        let o = Pipe()
        p.standardOutput = o
        p.standardError = FileHandle.nullDevice
        do { try p.run() } catch { return "unknown" }
        let d = o.fileHandleForReading.readDataToEndOfFile()
        p.waitUntilExit()
        let s = String(decoding: d, as: UTF8.self).trimmingCharacters(in: .whitespacesAndNewlines)
        return p.terminationStatus == 0 && !s.isEmpty ? s : "unknown"
    }
}

/// `attnprec run`: plan, run the groups over `jobs` threads, write results as they finish.
public enum Study {
    public struct Options: Sendable {
        public var out: String
        public var jobs: Int
        public var shard: (Int, Int)?
        public var resume: Bool
        public var progress: Bool
        public var command: String
        public init(out: String, jobs: Int = 1, shard: (Int, Int)? = nil, resume: Bool = false, progress: Bool = false, command: String = "attnprec run") {
            self.out = out; self.jobs = jobs; self.shard = shard; self.resume = resume; self.progress = progress; self.command = command
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

    /// Runs the study; returns the provenance written to run.json. Input errors are thrown
    /// before anything is written.
    public static func run(configs: [StudyConfig], options: Options) throws -> RunInfo {
        let start = Date()
        var groups = try StudyPlan.expand(configs)
        // The revision of the code that runs, read before this run writes anything (results
        // written into the checkout would mark it dirty).
        let revision = RunInfo.gitRevision(near: configs.first.map { URL(fileURLWithPath: $0.file).deletingLastPathComponent().path } ?? ".")
        if let (i, n) = options.shard { groups = StudyPlan.shard(groups, index: i, count: n) }
        let resultsPath = "\(options.out)/results.jsonl"
        var existing: [String: String] = [:]
        if options.resume { existing = try ResultsStore.readLines(resultsPath) }
        let wanted = Set(groups.flatMap { $0.records.map(\.key) })
        // Keep only this study's records (a resumed folder may hold records of an older config).
        existing = existing.filter { wanted.contains($0.key) }
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
            groups: groups.count, tokensStepped: shared.tokens, blas: blasCoreName)
        try ResultsStore.writeAtomically(try StudyJSON.encoder(pretty: true).encode(info), to: "\(options.out)/run.json")
        return info
    }
}
