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
        var isFolder: ObjCBool = false
        if FileManager.default.fileExists(atPath: path, isDirectory: &isFolder), isFolder.boolValue {
            throw StudyInputError("\(path): is a folder; expected a results file (results.jsonl from `attnprec run`)")
        }
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
