import Foundation
import NumberFormats

/// The scratch folder beside `--out` that replay writes into, moved into `--out` at the end, so a
/// replay leaves all its files or none: dropped unfinished, the folder is removed.
final class ReplayScratch {
    let out: String
    let path: String
    private var finished = false

    init(out: String) throws {
        self.out = out
        let outURL = URL(fileURLWithPath: out).standardizedFileURL
        path = outURL.deletingLastPathComponent().appendingPathComponent(".\(outURL.lastPathComponent).partial-\(getpid())").path
        do { try FileManager.default.createDirectory(atPath: path, withIntermediateDirectories: true) } catch {
            throw StudyInputError("\(out): cannot create (\(AtomicFile.reason(error)))")
        }
    }

    /// The path of `name` in the scratch folder.
    func file(_ name: String) -> String { path + "/" + name }

    /// Moves every file into `out` (replacing files of the same name).
    func moveIntoPlace() throws {
        let fm = FileManager.default
        do {
            try fm.createDirectory(atPath: out, withIntermediateDirectories: true)
            for name in try fm.contentsOfDirectory(atPath: path).sorted() {
                let dst = (out as NSString).appendingPathComponent(name)
                if fm.fileExists(atPath: dst) { try fm.removeItem(atPath: dst) }
                try fm.moveItem(atPath: path + "/" + name, toPath: dst)
            }
        } catch { throw StudyInputError("\(out): cannot write (\(AtomicFile.reason(error)))") }
        finished = true
        try? fm.removeItem(atPath: path)
    }

    deinit {
        if !finished { try? FileManager.default.removeItem(atPath: path) }
    }
}
