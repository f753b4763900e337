import Foundation
import NumberFormats
import Testing

/// `OutputLocation.check`: every unwritable output refused in one line naming the flag and the
/// path, and nothing created or left behind by the check.
@Suite struct OutputLocationTests {
    static func refusal(_ path: String, _ kind: OutputLocation.Kind, flag: String = "--out") -> String? {
        do { try OutputLocation.check(path, kind: kind, flag: flag) } catch let e as InputError { return e.message } catch { return "\(error)" }
        return nil
    }

    @Test func writablePlacesPassAndNothingIsCreated() throws {
        let d = try AtomicFileTests.folder()
        defer { try? FileManager.default.removeItem(atPath: d) }
        try Data("x".utf8).write(to: URL(fileURLWithPath: "\(d)/file"))
        #expect(Self.refusal("\(d)/file", .file) == nil)
        #expect(Self.refusal("\(d)/new.json", .file) == nil)
        #expect(Self.refusal("\(d)/deep/er/new.json", .file) == nil)
        #expect(Self.refusal(d, .folder) == nil)
        #expect(Self.refusal("\(d)/deep/er", .folder) == nil)
        #expect(Self.refusal("\(d)/file", .appended) == nil)
        #expect(try AtomicFileTests.contents(d) == ["file"])
    }

    @Test(arguments: [
        ("file", OutputLocation.Kind.folder, "is a file; expected a folder"),
        ("file/sub", .folder, "is a file; expected a folder on the way"),
        ("file/sub/deeper.json", .file, "is a file; expected a folder on the way"),
        ("", .file, "is a folder; expected a file path"),
        ("", .appended, "is a folder; expected a file path"),
    ])
    func wrongKindsAreRefused(_ name: String, _ kind: OutputLocation.Kind, _ why: String) throws {
        let d = try AtomicFileTests.folder()
        defer { try? FileManager.default.removeItem(atPath: d) }
        try Data("x".utf8).write(to: URL(fileURLWithPath: "\(d)/file"))
        let path = name.isEmpty ? d : "\(d)/\(name)"
        let message = try #require(Self.refusal(path, kind, flag: "--json"))
        #expect(message.hasPrefix("--json \(path): ") && message.contains(why), "\(message)")
        #expect(try AtomicFileTests.contents(d) == ["file"])
    }

    /// Root ignores permission bits; /proc and /sys refuse new files to everyone.
    @Test func unwritablePlacesAreRefused() throws {
        for path in ["/proc/attnprec-x", "/proc/attnprec-x/sub/report", "/sys/attnprec.json"] {
            let message = try #require(Self.refusal(path, .file))
            #expect(message.hasPrefix("--out \(path): cannot write (no file can be created in '/"), "\(message)")
            #expect(message.split(separator: "\n").count == 1)
        }
        #expect(Self.refusal("/dev/null", .file)?.contains("is not a regular file") == true)
        #expect(Self.refusal("", .folder) == "--out: expected a path, got ''")
    }

    /// NSString's deletingLastPathComponent traps on "x" and "o/" in swift-corelibs-foundation.
    @Test(arguments: [("x", ""), ("o/", ""), ("ab", ""), ("a/b", "a"), ("a//b/", "a"), ("/x", "/"), ("/", "/"), ("/a/b.json", "/a"), (".", "")])
    func folderOfAPath(_ path: String, _ folder: String) {
        #expect(AtomicFile.folder(of: path) == folder)
    }

    @Test func oneCharacterNamesAreChecked() throws {
        #expect(Self.refusal("x", .file) == nil)
        #expect(Self.refusal("o/", .folder) == nil)
        #expect(!FileManager.default.fileExists(atPath: "x") && !FileManager.default.fileExists(atPath: "o"))
    }
}
