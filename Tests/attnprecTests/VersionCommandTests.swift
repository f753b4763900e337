import CLITestSupport
import Foundation
import NumberFormats
import Testing

/// `attnprec --version` / `attnprec version`, and (when ATTNPREC_PORTABLE_BIN names a
/// `make portable` binary) that the portable binary prints the same results as this build's.
@Suite struct VersionCommandTests {
    static let keys = ["git revision", "build flags", "target", "cpu features compiled for", "cpu features of this cpu",
                       "cpu", "blas", "mpfr", "swift runtime"]

    /// Each line after the first as (key, value).
    static func fields(_ out: String) -> [(String, String)] {
        out.split(separator: "\n").dropFirst().map { line in
            let parts = line.split(separator: ":", maxSplits: 1)
            return (String(parts[0]), parts.count > 1 ? String(parts[1].dropFirst()) : "")
        }
    }

    @Test func versionLines() throws {
        let flag = try CLI.run(["--version"]), command = try CLI.run(["version"])
        #expect(flag.code == 0 && command.code == 0, "\(flag.err)\(command.err)")
        #expect(flag.out == command.out)
        #expect(flag.out.split(separator: "\n").first == "attnprec \(BuildInfo.version)")
        let f = Self.fields(flag.out)
        #expect(f.map(\.0) == Self.keys, "\(flag.out)")
        let value = Dictionary(f, uniquingKeysWith: { a, _ in a })
        #expect(value["build flags"] == BenchEnvironment.flags)
        #expect(value["blas"]?.hasPrefix("OpenBLAS") == true, "\(value["blas"] ?? "")")
        #expect(value["mpfr"]?.contains(#/^[0-9]+\.[0-9]+\.[0-9]+.* \(GMP [0-9]+\.[0-9]+/#) == true, "\(value["mpfr"] ?? "")")
        #expect(value["swift runtime"]?.hasPrefix("shared (/") == true || value["swift runtime"]?.hasPrefix("static") == true)
        // The features the binary was compiled for are features of the machine that runs it
        // (the tests run on the build machine).
        #expect(value["cpu features of this cpu"]?.contains("missing") == false)
    }

    static let root = URL(fileURLWithPath: #filePath).deletingLastPathComponent().deletingLastPathComponent().deletingLastPathComponent().path

    /// `program args…`: exit status and stdout.
    static func output(_ program: String, _ args: [String]) throws -> (code: Int32, out: String) {
        let p = Process()
        p.executableURL = URL(fileURLWithPath: program)
        p.arguments = args
        let o = Pipe()
        p.standardOutput = o
        p.standardError = FileHandle.nullDevice
        try p.run()
        let out = String(decoding: o.fileHandleForReading.readDataToEndOfFile(), as: UTF8.self)
        p.waitUntilExit()
        return (p.terminationStatus, out)
    }

    /// What scripts/git-revision.sh should find in the checkout.
    static func described() throws -> String {
        let r = try output("/usr/bin/env", ["git", "-C", root, "describe", "--always", "--dirty", "--abbrev=12"])
        let s = r.out.trimmingCharacters(in: .whitespacesAndNewlines)
        return r.code == 0 && !s.isEmpty ? s : "unknown"
    }

    /// -dirty aside: a file edited between the build and the test run.
    static func clean(_ s: String) -> String { s.hasSuffix("-dirty") ? String(s.dropLast(6)) : s }

    /// The revision generated at build time is a commit of this checkout ("unknown" outside
    /// one). Not necessarily HEAD: a commit may land between the build and the test run.
    @Test func gitRevisionIsACommitOfTheCheckout() throws {
        let out = try CLI.run(["--version"]).out
        let revision = Self.clean(Self.fields(out).first { $0.0 == "git revision" }?.1 ?? "")
        if try Self.described() == "unknown" {
            #expect(revision == "unknown")
        } else {
            #expect(revision.contains(#/^[0-9a-f]{12}$|-g[0-9a-f]{12}$/#), "\(revision)")
            let commit = try Self.output("/usr/bin/env", ["git", "-C", Self.root, "rev-parse", "--verify", "--quiet", revision + "^{commit}"])
            #expect(commit.code == 0, "\(revision) is no commit of \(Self.root)")
        }
    }

    /// The plugin's script: "unknown" outside a git checkout; in one, the revision, and a second
    /// run leaves the file untouched (no recompilation).
    @Test func gitRevisionScript() throws {
        let tmp = try CLI.tempDir()
        defer { try? FileManager.default.removeItem(atPath: tmp) }
        let script = Self.root + "/scripts/git-revision.sh", file = tmp + "/out/GitRevision.swift"
        try FileManager.default.createDirectory(atPath: tmp + "/plain", withIntermediateDirectories: true)
        #expect(try Self.output("/bin/sh", [script, tmp + "/plain", tmp + "/out", tmp + "/work"]).code == 0)
        #expect(try String(contentsOfFile: file, encoding: .utf8).contains(#"static let described = "unknown""#))
        #expect(try Self.output("/bin/sh", [script, Self.root, tmp + "/out", tmp + "/work"]).code == 0)
        let text = try String(contentsOfFile: file, encoding: .utf8)
        let value = text.firstMatch(of: #/described = "([^"]*)"/#).map { String($0.1) } ?? ""
        #expect(Self.clean(value) == Self.clean(try Self.described()), "\(text)")
        let past = Date(timeIntervalSince1970: 1_000_000)
        try FileManager.default.setAttributes([.modificationDate: past], ofItemAtPath: file)
        #expect(try Self.output("/bin/sh", [script, Self.root, tmp + "/out", tmp + "/work"]).code == 0)
        let date = try FileManager.default.attributesOfItem(atPath: file)[.modificationDate] as? Date
        #expect(date == past)
        #expect(try FileManager.default.contentsOfDirectory(atPath: tmp + "/work").isEmpty)
    }

    @Test func cpuFeaturesAndRuntimeParsing() {
        let cpuinfo = "processor\t: 0\nflags\t\t: fpu sse4_2 avx avx2 fma avx512f avx512_bf16 sha_ni\nbogomips\t: 1\n"
        #expect(BuildInfo.cpuFeatures(cpuinfo: cpuinfo) == ["sse4_2", "avx", "avx2", "fma", "avx512f", "avx512_bf16"])
        #expect(BuildInfo.cpuFeatures(cpuinfo: "processor\t: 0\n") == nil)
        #if os(Linux)
        let shared = "7f00-7f10 r-xp 00000000 08:01 42    /opt/swift/usr/lib/swift/linux/libswiftCore.so\n"
        #expect(BuildInfo.swiftRuntime(maps: "5500-5600 r-xp 0 08:01 7 /usr/local/bin/attnprec\n" + shared)
                == "shared (/opt/swift/usr/lib/swift/linux/libswiftCore.so)")
        #expect(BuildInfo.swiftRuntime(maps: "5500-5600 r-xp 0 08:01 7 /usr/local/bin/attnprec\n").hasPrefix("static"))
        #endif
    }

    static let portable = ProcessInfo.processInfo.environment["ATTNPREC_PORTABLE_BIN"]

    /// The portable binary (ATTNPREC_PORTABLE_BIN) on the golden study: results.jsonl byte-identical
    /// to this build's, both under OPENBLAS_CORETYPE=Haswell (the chunked forms' gemms are
    /// OpenBLAS's); its Swift runtime is linked in.
    @Test(.enabled(if: portable != nil, "ATTNPREC_PORTABLE_BIN names no portable binary"))
    func portableBinaryPrintsTheSameResults() throws {
        let portable = try #require(Self.portable)
        let work = try CLI.tempDir()
        defer { try? FileManager.default.removeItem(atPath: work) }
        var outputs: [Data] = []
        for (name, binary) in [("native", CLI.binary), ("portable", portable)] {
            let r = try Self.run(binary, ["run", "study.yaml", "--out", "\(work)/\(name)"], cwd: GoldenTests.folder)
            #expect(r.code == 0, "\(name): \(r.err)")
            outputs.append(try Data(contentsOf: URL(fileURLWithPath: "\(work)/\(name)/results.jsonl")))
        }
        #expect(!outputs[0].isEmpty && outputs[0] == outputs[1], "the portable binary's results.jsonl differs from this build's")
        let version = try Self.run(portable, ["--version"], cwd: work)
        #expect(version.out.contains("\nswift runtime: static"), "\(version.out)")
    }

    static func run(_ binary: String, _ args: [String], cwd: String) throws -> (code: Int32, out: String, err: String) {
        let p = Process()
        p.executableURL = URL(fileURLWithPath: binary)
        p.arguments = args
        p.currentDirectoryURL = URL(fileURLWithPath: cwd)
        var env = ProcessInfo.processInfo.environment
        env["OPENBLAS_CORETYPE"] = "Haswell"
        p.environment = env
        let o = Pipe(), e = Pipe()
        p.standardOutput = o
        p.standardError = e
        try p.run()
        let out = o.fileHandleForReading.readDataToEndOfFile(), err = e.fileHandleForReading.readDataToEndOfFile()
        p.waitUntilExit()
        return (p.terminationStatus, String(decoding: out, as: UTF8.self), String(decoding: err, as: UTF8.self))
    }
}
