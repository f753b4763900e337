import Foundation
import NumberFormats
#if canImport(Glibc)
import Glibc
#else
import Darwin
#endif

/// The rule that no run replaces results it was not asked to replace.
///
/// A results folder belongs to the study that wrote it, identified by its `name:` (default:
/// the config file's base name), which `run.json` records as `study` (folders written before
/// it was recorded: the first config's base name). A run may write into a folder that holds
/// no results; otherwise:
/// - `resume`: continues a folder of the same study whose record keys are all keys of the
///   new config (so a config may grow — a variant added — and be resumed);
/// - `force`: moves the folder aside to the first free `DIR.old-N` beside it and starts
///   afresh; nothing is ever deleted;
/// - neither: refused, saying which study is there and how to proceed.
///
/// Every refusal is an `InputError` of one line (exit 2), thrown before anything is computed.
public enum ResultsFolder {
    /// The results a folder holds.
    public struct Held: Sendable, Equatable {
        /// The study that wrote them; nil when unknown (a run stopped before its first run.json).
        public var study: String?
        public var keys: Set<String>
        /// Whether a run finished there (its run.json exists).
        public var finished: Bool
    }

    /// What `dir` holds: nil when it holds no record and no run.json.
    public static func held(in dir: String) throws -> Held? {
        let keys = Set(try ResultsStore.readLines("\(dir)/results.jsonl").keys)
        let finished = FileManager.default.fileExists(atPath: "\(dir)/run.json")
        guard finished || !keys.isEmpty else { return nil }
        let info = RunInfo.load(dir: dir).first
        let study = info?.study ?? info?.configs.first.map { URL(fileURLWithPath: $0).deletingPathExtension().lastPathComponent }
        return Held(study: study, keys: keys, finished: finished)
    }

    /// Makes `dir` ready for the study `name` with the record keys `keys` (nil: results that
    /// cannot be resumed, a scenario's). Returns the folder the earlier results were moved to
    /// (with `force`), or nil when nothing was moved.
    public static func claim(_ dir: String, study name: String, keys: Set<String>?, resume: Bool, force: Bool) throws -> String? {
        if resume && force {
            throw InputError("--resume and --force: expected one of them (--resume continues the results in '\(dir)', --force moves them aside)")
        }
        if force { return try moveAside(dir) }
        guard let held = try held(in: dir) else { return nil }
        let holding = "'\(dir)' holds \(held.keys.count) record(s) of \(held.study.map { "study '\($0)'" } ?? "an unfinished run")"
        if let other = held.study, other != name {
            throw InputError("\(holding), not of study '\(name)'; expected a folder of its own: use another --out, or --force to move them aside")
        }
        guard resume, let keys else {
            let resuming = keys == nil ? "" : "--resume to continue them, "
            throw InputError("\(holding)\(held.finished ? " (finished)" : ""); use \(resuming)--force to move them aside, or another --out")
        }
        if let stray = held.keys.subtracting(keys).min() {
            let n = held.keys.subtracting(keys).count
            throw InputError("\(holding), \(n) of them not in this config (first: '\(stray)'); --resume continues only a subset of the config's records: use --force to move them aside, or another --out")
        }
        return nil
    }

    /// Renames `dir` to the first free `DIR.old-N` beside it; nil when there is nothing to move
    /// (no such folder, or one without results.jsonl and run.json).
    public static func moveAside(_ dir: String) throws -> String? {
        let fm = FileManager.default
        guard fm.fileExists(atPath: "\(dir)/results.jsonl") || fm.fileExists(atPath: "\(dir)/run.json") else { return nil }
        var base = dir
        while base.count > 1 && base.hasSuffix("/") { base.removeLast() }
        let absolute = URL(fileURLWithPath: base).standardizedFileURL.path
        let here = URL(fileURLWithPath: fm.currentDirectoryPath).standardizedFileURL.path
        if here == absolute || here.hasPrefix(absolute + "/") {
            throw InputError("--force: '\(dir)' holds the working folder; expected a results folder that can be moved aside")
        }
        var n = 1
        while fm.fileExists(atPath: "\(base).old-\(n)") || (try? fm.destinationOfSymbolicLink(atPath: "\(base).old-\(n)")) != nil { n += 1 }
        let aside = "\(base).old-\(n)"
        guard rename(base, aside) == 0 else {
            throw InputError("--force: cannot move '\(dir)' aside to '\(aside)' (\(String(cString: strerror(errno))))")
        }
        return aside
    }
}
