import Foundation
#if canImport(Glibc)
import Glibc
#else
import Darwin
#endif

/// Runs of the binary that a test bounds in time or ends itself (the bad-input corpus, the
/// kill/resume tests). Output goes to files, not pipes, so a chatty or stuck process cannot
/// block the test on a full pipe.
extension CLI {
    /// What one run did.
    public struct Outcome: Sendable {
        /// The exit status, or the number of the signal that ended the process.
        public let code: Int32
        /// Whether a signal ended it (a crash, or the kill of a run past its limit).
        public let signalled: Bool
        /// Whether it ran past the limit and was killed.
        public let timedOut: Bool
        public let out: String
        public let err: String
        public let seconds: Double
    }

    /// `attnprec args…` in `cwd`, without the environment variables in `unset`; killed after
    /// `limit` seconds.
    public static func run(_ args: [String], in cwd: String, unsetting unset: [String] = [], limit: Double) throws -> Outcome {
        let logs = try tempDir()
        defer { try? FileManager.default.removeItem(atPath: logs) }
        let outPath = logs + "/stdout", errPath = logs + "/stderr"
        for path in [outPath, errPath] { FileManager.default.createFile(atPath: path, contents: nil) }
        let start = Date()
        let p = try launch(args, in: cwd, unsetting: unset, stdout: outPath, stderr: errPath)
        let deadline = start.addingTimeInterval(limit)
        while p.isRunning && Date() < deadline { usleep(2000) }
        let timedOut = p.isRunning
        if timedOut { kill(p.processIdentifier, SIGKILL) }
        p.waitUntilExit()
        let read = { (path: String) in String(decoding: FileManager.default.contents(atPath: path) ?? Data(), as: UTF8.self) }
        return Outcome(code: p.terminationStatus, signalled: p.terminationReason == .uncaughtSignal, timedOut: timedOut,
                       out: read(outPath), err: read(errPath), seconds: Date().timeIntervalSince(start))
    }

    /// Starts `attnprec args…` in `cwd` and returns at once (stdout and stderr to the given
    /// files, else discarded): a test waits for it or kills it (`kill(p.processIdentifier, SIGKILL)`).
    public static func launch(_ args: [String], in cwd: String, unsetting unset: [String] = [], stdout: String? = nil, stderr: String? = nil) throws -> Process {
        let p = Process()
        p.executableURL = URL(fileURLWithPath: binary)
        p.arguments = args
        p.currentDirectoryURL = URL(fileURLWithPath: cwd)
        p.environment = ProcessInfo.processInfo.environment.filter { !unset.contains($0.key) }
        p.standardInput = FileHandle.nullDevice
        p.standardOutput = try stdout.map { try FileHandle(forWritingTo: URL(fileURLWithPath: $0)) } ?? FileHandle.nullDevice
        p.standardError = try stderr.map { try FileHandle(forWritingTo: URL(fileURLWithPath: $0)) } ?? FileHandle.nullDevice
        try p.run()
        return p
    }
}
