import Foundation
#if canImport(Glibc)
import Glibc
#else
import Darwin
#endif

/// Where a command will write, checked before it computes anything: a path given for a file
/// or a folder must be one that `AtomicFile` can write into, so that a bad `--out`, `--json`,
/// `--junit` or `--summary` is refused at once (exit 2, one line) instead of after minutes of
/// work, and nothing is created by the check.
///
/// The check walks up to the nearest folder that exists and proves it writable by creating a
/// file in it and removing it (permission bits say nothing to root, and nothing about `/proc`
/// or a read-only file system). Whatever is missing below it is what `AtomicFile` creates.
///
/// Edge Cases: a later failure (the disk fills up while a run computes) is still possible;
/// `AtomicFile` turns it into one `InputError` line and leaves the target as it was.
public enum OutputLocation {
    /// What the path names.
    public enum Kind: Sendable {
        /// A file written whole (`AtomicFile.write`): it may exist, but not as a folder.
        case file
        /// A folder written into: it may exist, but not as a file.
        case folder
        /// A file appended to (GitHub's step summary): it may exist as anything but a folder.
        case appended
    }

    /// Throws an `InputError` naming `flag` and `path` when `path` cannot be written as a `kind`.
    public static func check(_ path: String, kind: Kind, flag: String) throws {
        func refuse(_ why: String) -> InputError { InputError("\(flag) \(path): \(why)") }
        guard !path.isEmpty else { throw InputError("\(flag): expected a path, got ''") }
        var isFolder: ObjCBool = false
        if FileManager.default.fileExists(atPath: path, isDirectory: &isFolder) {
            switch (kind, isFolder.boolValue) {
            case (.file, true), (.appended, true): throw refuse("is a folder; expected a file path")
            case (.appended, false): return
            case (.folder, false): throw refuse("is a file; expected a folder")
            case (.folder, true): try probe(path, refuse)
            case (.file, false):
                // AtomicFile renames over the target: never over a device or a pipe.
                var info = stat()
                guard stat(path, &info) == 0, (info.st_mode & S_IFMT) == S_IFREG else { throw refuse("is not a regular file; expected a file path") }
                try probe(parent(of: path), refuse)
            }
            return
        }
        // The nearest existing folder above a path that does not exist yet.
        var above = parent(of: path)
        while !FileManager.default.fileExists(atPath: above, isDirectory: &isFolder) {
            let next = parent(of: above)
            if next == above { break }
            above = next
        }
        guard isFolder.boolValue else { throw refuse("'\(above)' is a file; expected a folder on the way") }
        try probe(above, refuse)
    }

    /// The folder holding `path` ("." for a bare name).
    static func parent(of path: String) -> String {
        let folder = AtomicFile.folder(of: path)
        return folder.isEmpty ? "." : folder
    }

    /// Creates and removes a file in `folder`.
    static func probe(_ folder: String, _ refuse: (String) -> InputError) throws {
        let name = (folder as NSString).appendingPathComponent(".attnprec-probe-\(getpid())")
        var fd = open(name, O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC, 0o600)
        if fd < 0 && errno == EEXIST {
            // Left by a killed process that had this id: it is ours to remove.
            unlink(name)
            fd = open(name, O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC, 0o600)
        }
        guard fd >= 0 else { throw refuse("cannot write (no file can be created in '\(folder)': \(String(cString: strerror(errno))))") }
        close(fd)
        unlink(name)
    }
}
