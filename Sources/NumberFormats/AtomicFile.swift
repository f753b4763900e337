import Foundation
#if canImport(Glibc)
import Glibc
#else
import Darwin
#endif

/// Files written so that a reader finds the old contents or the new, never a part: the bytes
/// go to a temporary file in the target's folder (`.NAME.tmp-PID`), which is then renamed over
/// the target; on a failure the temporary file is removed and the target is left as it was.
/// Every result, report, tensor and JSON file the package writes goes through here.
///
/// Errors are `InputError`s of one line naming the path: `PATH: cannot write (REASON)`.
public enum AtomicFile {
    /// A file to write, for `write(_:)`.
    public struct File: Sendable {
        public let path: String
        public let data: Data
        public init(path: String, data: Data) {
            self.path = path
            self.data = data
        }
    }

    /// Writes `data` to `path`; with `creatingFolders`, missing folders on the way are made first.
    public static func write(_ data: Data, to path: String, creatingFolders: Bool = false) throws {
        try write([File(path: path, data: data)], creatingFolders: creatingFolders)
    }

    /// Writes several files: each goes to its temporary file, and only when every one is
    /// written are they renamed into place (a failed write leaves every target as it was).
    public static func write(_ files: [File], creatingFolders: Bool = false) throws {
        var temporaries: [(String, String)] = []
        defer { for (temporary, _) in temporaries { unlink(temporary) } }
        for f in files {
            let folder = Self.folder(of: f.path)
            if creatingFolders && !folder.isEmpty { try createFolder(folder) }
            let temporary = temporaryPath(for: f.path)
            temporaries.append((temporary, f.path))
            try writeWhole(f.data, to: temporary, reportedAs: f.path)
        }
        while !temporaries.isEmpty {
            let (temporary, path) = temporaries.removeFirst()
            try commit(temporary, to: path)
        }
    }

    /// Makes `folder` and the missing folders above it (nothing when it exists).
    public static func createFolder(_ folder: String) throws {
        do { try FileManager.default.createDirectory(atPath: folder, withIntermediateDirectories: true) } catch {
            throw InputError("\(folder): cannot create the folder (\(reason(error)))")
        }
    }

    /// The temporary file beside `path` (for writers that stream into it, then `commit`).
    public static func temporaryPath(for path: String) -> String {
        let folder = Self.folder(of: path)
        let name = ".\((path as NSString).lastPathComponent).tmp-\(getpid())"
        return folder.isEmpty ? name : (folder as NSString).appendingPathComponent(name)
    }

    /// The folder part of `path` ("" for a bare name, "/" for a name at the root), as
    /// `NSString.deletingLastPathComponent` gives it, which swift-corelibs-foundation traps on
    /// for a one-character name ("x", "o/").
    public static func folder(of path: String) -> String {
        var p = Substring(path)
        while p.count > 1 && p.hasSuffix("/") { p = p.dropLast() }
        guard let slash = p.lastIndex(of: "/") else { return "" }
        var head = p[..<slash]
        while head.count > 1 && head.hasSuffix("/") { head = head.dropLast() }
        return head.isEmpty ? "/" : String(head)
    }

    /// Renames a written temporary file over `path`; on failure removes it and throws.
    public static func commit(_ temporary: String, to path: String) throws {
        guard rename(temporary, path) == 0 else {
            let why = String(cString: strerror(errno))
            unlink(temporary)
            throw InputError("\(path): cannot write (\(why))")
        }
    }

    /// The POSIX reason of a Foundation file error, in the words `strerror` uses; never
    /// Foundation's own sentence (which names no flag and may span lines).
    public static func reason(_ error: Error) -> String {
        let ns = error as NSError
        // On Linux the underlying error casts to Error, not to NSError.
        if let u = ns.userInfo[NSUnderlyingErrorKey] as? Error, (u as NSError).domain == NSPOSIXErrorDomain {
            return String(cString: strerror(Int32((u as NSError).code)))
        }
        if ns.domain == NSPOSIXErrorDomain { return String(cString: strerror(Int32(ns.code))) }
        let posix: Int32
        switch ns.code {
        case NSFileNoSuchFileError, NSFileReadNoSuchFileError: posix = ENOENT
        case NSFileReadNoPermissionError, NSFileWriteNoPermissionError: posix = EACCES
        case NSFileWriteFileExistsError: posix = EEXIST
        case NSFileWriteOutOfSpaceError: posix = ENOSPC
        case NSFileWriteVolumeReadOnlyError: posix = EROFS
        case NSFileWriteInvalidFileNameError, NSFileReadInvalidFileNameError: posix = EINVAL
        default: return "file system error \(ns.code)"
        }
        return String(cString: strerror(posix))
    }

    static func writeWhole(_ data: Data, to file: String, reportedAs path: String) throws {
        let fd = open(file, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0o666)
        guard fd >= 0 else { throw InputError("\(path): cannot write (\(String(cString: strerror(errno))))") }
        var failure: Int32 = 0
        data.withUnsafeBytes { (bytes: UnsafeRawBufferPointer) in
            var done = 0
            while done < bytes.count {
                let n = systemWrite(fd, bytes.baseAddress! + done, bytes.count - done)
                if n < 0 {
                    if errno == EINTR { continue }
                    failure = errno
                    return
                }
                done += n
            }
        }
        if close(fd) != 0 && failure == 0 { failure = errno }
        if failure != 0 { throw InputError("\(path): cannot write (\(String(cString: strerror(failure))))") }
    }
}

private func systemWrite(_ fd: Int32, _ bytes: UnsafeRawPointer, _ count: Int) -> Int {
    #if canImport(Glibc)
    Glibc.write(fd, bytes, count)
    #else
    Darwin.write(fd, bytes, count)
    #endif
}
