import Foundation
import NumberFormats
import Testing

@Suite struct AtomicFileTests {
    static func folder() throws -> String {
        let d = FileManager.default.temporaryDirectory.appendingPathComponent("atomicfile-\(UUID().uuidString)").path
        try FileManager.default.createDirectory(atPath: d, withIntermediateDirectories: true)
        return d
    }

    static func contents(_ d: String) throws -> [String] { try FileManager.default.contentsOfDirectory(atPath: d).sorted() }

    @Test func writesAndReplacesLeavingNoTemporaryFile() throws {
        let d = try Self.folder()
        defer { try? FileManager.default.removeItem(atPath: d) }
        try AtomicFile.write(Data("one".utf8), to: "\(d)/a.txt")
        try AtomicFile.write(Data("two".utf8), to: "\(d)/a.txt")
        #expect(FileManager.default.contents(atPath: "\(d)/a.txt") == Data("two".utf8))
        #expect(try Self.contents(d) == ["a.txt"])
        try AtomicFile.write(Data(), to: "\(d)/deep/er/b.txt", creatingFolders: true)
        #expect(FileManager.default.contents(atPath: "\(d)/deep/er/b.txt") == Data())
    }

    /// A failure is one line naming the path; the target and its folder are left as they were.
    @Test func failureNamesThePathAndKeepsTheOldFile() throws {
        let d = try Self.folder()
        defer { try? FileManager.default.removeItem(atPath: d) }
        #expect(throws: InputError("\(d)/missing/a.txt: cannot write (No such file or directory)")) {
            try AtomicFile.write(Data("x".utf8), to: "\(d)/missing/a.txt")
        }
        try AtomicFile.write(Data("old".utf8), to: "\(d)/a.txt")
        try FileManager.default.createDirectory(atPath: "\(d)/b.txt", withIntermediateDirectories: true)
        // The second file's rename fails (a folder is in the way): the first is already in place,
        // nothing else is left behind.
        #expect(throws: InputError.self) {
            try AtomicFile.write([.init(path: "\(d)/a.txt", data: Data("new".utf8)), .init(path: "\(d)/b.txt", data: Data("b".utf8))])
        }
        #expect(try Self.contents(d) == ["a.txt", "b.txt"])
        // A write that fails before any rename changes no target.
        #expect(throws: InputError.self) {
            try AtomicFile.write([.init(path: "\(d)/a.txt", data: Data("newer".utf8)), .init(path: "\(d)/missing/c.txt", data: Data())])
        }
        #expect(FileManager.default.contents(atPath: "\(d)/a.txt") == Data("new".utf8))
        #expect(try Self.contents(d) == ["a.txt", "b.txt"])
        #expect(throws: InputError("\(d)/a.txt/sub: cannot create the folder (Not a directory)")) {
            try AtomicFile.createFolder("\(d)/a.txt/sub")
        }
    }
}
