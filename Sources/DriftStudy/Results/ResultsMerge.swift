import Foundation
import NumberFormats

/// `attnprec report DIR...`'s merge: result folders joined by record key, after checking that
/// folders which are shards of a run (run.json's `shard` "I/N") make up the whole run.
public enum ResultsMerge {
    /// The merged records (key → JSON line), every folder's provenance, and the notice a
    /// partial merge puts in its report.
    public struct Merged: Sendable {
        public var lines: [String: String]
        public var infos: [RunInfo]
        public var notice: String?
    }

    /// Merges `dirs` (each with results.jsonl). Throws `InputError` (nothing read into the
    /// output) for a missing results file, shards that do not make up one whole run
    /// (`checkShards`), or a record that two folders hold differently.
    public static func merge(_ dirs: [String], allowPartial: Bool) throws -> Merged {
        var folders: [(dir: String, infos: [RunInfo])] = []
        for d in dirs {
            let path = "\(d)/results.jsonl"
            guard FileManager.default.fileExists(atPath: path) else { throw InputError("\(path): no results file (expected results.jsonl from `attnprec run`)") }
            folders.append((d, RunInfo.load(dir: d)))
        }
        let notice = try checkShards(folders, allowPartial: allowPartial)
        var lines: [String: String] = [:]
        for d in dirs {
            let path = "\(d)/results.jsonl"
            for (k, l) in try ResultsStore.readLines(path) {
                if let other = lines[k], other != l { throw InputError("\(path): record '\(k)' differs from the one in an earlier folder; expected identical duplicates") }
                lines[k] = l
            }
        }
        return Merged(lines: lines, infos: folders.flatMap(\.infos), notice: notice)
    }

    /// Checks the shards among `folders`: all of one run (the same N, config digest, git
    /// revision and study; an unrecorded digest or an `unknown` revision never counts as
    /// different) and each shard 1…N present exactly once. A missing shard is refused unless
    /// `allowPartial`, which returns the notice naming what is missing; nil when nothing is.
    /// Folders that are not shards are not checked (any folders may be merged by key).
    public static func checkShards(_ folders: [(dir: String, infos: [RunInfo])], allowPartial: Bool) throws -> String? {
        var shards: [(dir: String, info: RunInfo, i: Int, n: Int)] = []
        for (dir, infos) in folders {
            for info in infos {
                guard let text = info.shard else { continue }
                let parts = text.split(separator: "/").compactMap { Int($0) }
                guard parts.count == 2, parts[1] >= 1, (1...parts[1]).contains(parts[0]) else {
                    throw InputError("\(dir)/run.json: shard '\(text)'; expected I/N with 1 ≤ I ≤ N")
                }
                shards.append((dir, info, parts[0], parts[1]))
            }
        }
        guard let first = shards.first else { return nil }
        func same(_ field: String, _ value: (RunInfo) -> String?, _ expected: String) throws {
            guard let a = shards.first(where: { value($0.info) != nil }), let av = value(a.info) else { return }
            if let b = shards.first(where: { value($0.info).map { $0 != av } ?? false }) {
                throw InputError("\(b.dir)/run.json: \(field) \(value(b.info)!) differs from \(av) in \(a.dir); expected \(expected)")
            }
        }
        try same("shard count", { "\($0.shard!.split(separator: "/").last!)" }, "shards of one run (the same N)")
        try same("study", \.study, "shards of one study")
        try same("config_sha256", \.configSHA256, "shards of one config (the same file bytes)")
        try same("git_revision", { $0.gitRevision == "unknown" ? nil : $0.gitRevision }, "shards of one build (the same revision)")
        let n = first.n
        var seen: [Int: String] = [:]
        for s in shards {
            if let earlier = seen[s.i] { throw InputError("\(s.dir)/run.json: shard \(s.i)/\(n) again (also in \(earlier)); expected each shard once") }
            seen[s.i] = s.dir
        }
        let missing = (1...n).filter { seen[$0] == nil }
        guard !missing.isEmpty else { return nil }
        let list = missing.map { "\($0)/\(n)" }.joined(separator: ", ")
        guard allowPartial else {
            throw InputError("report: shard(s) \(list) missing (\(seen.count) of \(n) given); expected every shard 1…\(n) once, or --allow-partial to merge what is there")
        }
        return "Partial merge (--allow-partial): \(seen.count) of \(n) shards; shard(s) \(list) missing, so their records are absent from this report."
    }
}
