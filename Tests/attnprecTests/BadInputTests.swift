import CLITestSupport
import Foundation
import Testing

/// Issue 16's bad-input corpus (`BadInputs/corpus.jsonl`, written by
/// `scripts/make-bad-inputs.py`): every case runs the built binary in a fresh folder holding
/// the case's files, and must exit with its code (2), print exactly one line on stderr holding
/// each of its message fragments and nothing on stdout, show no Foundation error text, and
/// leave the folder as it found it (no file written, none changed).
///
/// Cases marked `pending` misbehave on main until the fixes under way merge: they run as known
/// issues, so one that starts passing fails the test until the corpus is re-recorded.
@Suite struct BadInputTests {
    struct Case: Decodable, Sendable, CustomTestStringConvertible {
        let id: String
        let args: [String]
        let files: [String: String]
        let binary: [String: String]
        let exit: Int32
        let fragments: [String]
        let pending: Bool?
        var testDescription: String { id }
    }

    static let corpusPath = URL(fileURLWithPath: #filePath).deletingLastPathComponent()
        .appendingPathComponent("BadInputs/corpus.jsonl").path

    static func load() throws -> [Case] {
        let text = try String(contentsOfFile: corpusPath, encoding: .utf8)
        return try text.split(separator: "\n").map { try JSONDecoder().decode(Case.self, from: Data($0.utf8)) }
    }

    /// Empty when the file is lost or unreadable: `corpusIsThere` then fails.
    static let cases: [Case] = (try? load()) ?? []

    static let foundationText = ["NSCocoaErrorDomain", "couldn’t be completed", "could not be completed"]

    @Test func corpusIsThere() throws {
        let cases = try Self.load()
        #expect(cases.count >= 250, "\(Self.corpusPath) holds \(cases.count) cases")
        #expect(Set(cases.map(\.id)).count == cases.count, "duplicate case ids")
        #expect(cases.allSatisfy { !$0.fragments.isEmpty && $0.exit == 2 })
    }

    @Test(arguments: cases) func badInput(_ c: Case) throws {
        let found = try Self.problems(c)
        if c.pending == true {
            withKnownIssue("\(c.id): fixed by issue 16's work under way; re-record the corpus once merged") {
                for p in found { Issue.record("\(c.id): \(p)") }
            }
        } else {
            for p in found { Issue.record("\(c.id): \(p)") }
        }
    }

    /// What is wrong with the binary's answer to `c` (nothing: an empty list).
    static func problems(_ c: Case) throws -> [String] {
        let dir = try CLI.tempDir()
        defer { try? FileManager.default.removeItem(atPath: dir) }
        for (name, text) in c.files { try write(Data(text.utf8), dir + "/" + name) }
        for (name, base64) in c.binary {
            try write(try #require(Data(base64Encoded: base64), "\(c.id): \(name) is not base64"), dir + "/" + name)
        }
        let before = try snapshot(dir)
        let r = try CLI.run(c.args, in: dir, unsetting: ["GITHUB_STEP_SUMMARY"], limit: 60)
        let err = r.err.replacingOccurrences(of: dir + "/", with: "").replacingOccurrences(of: dir, with: ".")
        var found: [String] = []
        if r.timedOut { found.append("still running after 60 s") }
        if r.signalled || r.code != c.exit { found.append("exit \(r.signalled ? "by signal " : "")\(r.code), expected \(c.exit)") }
        let lines = err.split(separator: "\n", omittingEmptySubsequences: false).count - 1
        if lines != 1 || !err.hasSuffix("\n") { found.append("\(lines) lines on stderr, expected 1: \(err.prefix(300))") }
        if !r.out.isEmpty { found.append("stdout not empty: \(r.out.prefix(200))") }
        found += foundationText.filter { err.contains($0) }.map { "Foundation error text '\($0)': \(err)" }
        let message = err.hasPrefix("attnprec: ") ? String(err.dropFirst(10)) : err
        found += c.fragments.filter { !message.contains($0) }.map { "message lacks '\($0)': \(message)" }
        let after = try snapshot(dir)
        if after != before {
            let changed = Set(before.keys).symmetricDifference(after.keys).union(before.keys.filter { after[$0] != nil && after[$0] != before[$0] })
            found.append("the folder changed: \(changed.sorted().joined(separator: ", "))")
        }
        return found
    }

    static func write(_ data: Data, _ path: String) throws {
        let folder = (path as NSString).deletingLastPathComponent
        try FileManager.default.createDirectory(atPath: folder, withIntermediateDirectories: true)
        try data.write(to: URL(fileURLWithPath: path))
    }

    /// Every entry below `dir`: relative path → contents (empty for a folder), so names, sizes
    /// and bytes are all compared.
    static func snapshot(_ dir: String) throws -> [String: Data] {
        let fm = FileManager.default
        var out: [String: Data] = [:]
        guard let walk = fm.enumerator(atPath: dir) else { throw CocoaError(.fileReadUnknown) }
        for case let rel as String in walk {
            var isFolder: ObjCBool = false
            _ = fm.fileExists(atPath: dir + "/" + rel, isDirectory: &isFolder)
            out[isFolder.boolValue ? rel + "/" : rel] = isFolder.boolValue ? Data() : (fm.contents(atPath: dir + "/" + rel) ?? Data([0xFF]))
        }
        return out
    }
}
