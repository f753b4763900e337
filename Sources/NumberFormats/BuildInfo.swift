import CBuildFeatures
import Foundation

/// What this binary is and was built with, for `attnprec --version`: the version, the build's
/// target CPU and the features its code may use beside those this CPU has, and whether the
/// Swift runtime is linked in. The git revision (generated into the executable at build time)
/// and the libraries' versions (ExactArithmetic's `LibraryVersions`) come in as lines.
public enum BuildInfo {
    /// attnprec's version.
    public static let version = "0.2.0"

    /// The x86-64 features reported, as /proc/cpuinfo spells them, in the order of the bits of
    /// `attnprec_compiled_features` (CBuildFeatures).
    public static let featureNames = ["sse4_2", "popcnt", "avx", "avx2", "fma", "bmi2", "f16c",
                                      "avx512f", "avx512bw", "avx512vl", "avx512dq", "avx512_bf16", "avx512_fp16"]

    /// The features this build's Swift code was compiled for (empty off x86-64).
    public static var compiledFeatures: [String] {
        #if arch(x86_64)
        let bits = attnprec_compiled_features()
        return featureNames.indices.filter { bits & (1 << UInt32($0)) != 0 }.map { featureNames[$0] }
        #else
        return []
        #endif
    }

    /// Which of `featureNames` this CPU reports (nil where /proc/cpuinfo cannot be read).
    public static func cpuFeatures(cpuinfo: String? = try? String(contentsOfFile: "/proc/cpuinfo", encoding: .utf8)) -> [String]? {
        guard let text = cpuinfo,
              let line = text.split(separator: "\n").first(where: { $0.hasPrefix("flags") }),
              let list = line.split(separator: ":", maxSplits: 1).last
        else { return nil }
        let present = Set(list.split(separator: " ").map(String.init))
        return featureNames.filter(present.contains)
    }

    /// The build's target: the Makefile's `release`/`build` targets define ATTNPREC_NATIVE,
    /// `make portable` ATTNPREC_PORTABLE.
    public static var target: String {
        #if ATTNPREC_NATIVE
        return "native (-target-cpu native: the build machine's CPU)"
        #elseif ATTNPREC_PORTABLE
        return "portable (x86-64-v3)"
        #else
        return "default (the compiler's baseline CPU)"
        #endif
    }

    /// "static" when the Swift runtime is linked into the binary, else "shared (PATH)": whether
    /// libswiftCore.so is mapped (`maps`: a /proc/PID/maps text, default this process's).
    public static func swiftRuntime(maps: String? = nil) -> String {
        #if os(Linux)
        guard let maps = maps ?? procFile("/proc/self/maps") else { return "unknown (/proc/self/maps unreadable)" }
        if let line = maps.split(separator: "\n").first(where: { $0.hasSuffix("/libswiftCore.so") || $0.contains("/libswiftCore.so ") }),
           let path = line.split(separator: " ", omittingEmptySubsequences: true).last {
            return "shared (\(path))"
        }
        return "static (linked into the binary)"
        #else
        return "shared (the system's)"
        #endif
    }

    /// A /proc file read to its end: Foundation's `String(contentsOfFile:)` stops after the first
    /// read there (a file of size 0 to stat), which ends a process's maps after about 4 KB.
    static func procFile(_ path: String) -> String? {
        let fd = open(path, O_RDONLY)
        guard fd >= 0 else { return nil }
        defer { close(fd) }
        var bytes: [UInt8] = [], chunk = [UInt8](repeating: 0, count: 65536)
        while true {
            let n = chunk.withUnsafeMutableBytes { read(fd, $0.baseAddress, $0.count) }
            guard n > 0 else { return n == 0 ? String(decoding: bytes, as: UTF8.self) : nil }
            bytes += chunk[0..<n]
        }
    }

    /// The `--version` text: one `key: value` line per item after the first, in a fixed order.
    /// `libraries`: (name, version) pairs such as ("blas", …), ("mpfr", …).
    public static func lines(gitRevision: String, libraries: [(String, String)]) -> [String] {
        let compiled = compiledFeatures
        var here = "unknown (no /proc/cpuinfo)"
        if let present = cpuFeatures() {
            let missing = compiled.filter { !present.contains($0) }
            here = (present.isEmpty ? "none listed" : present.joined(separator: " "))
                + (missing.isEmpty ? "" : " (missing: \(missing.joined(separator: " ")))")
        }
        return ["attnprec \(version)",
                "git revision: \(gitRevision)",
                "build flags: \(BenchEnvironment.flags)",
                "target: \(target)",
                "cpu features compiled for: \(compiled.isEmpty ? "none listed" : compiled.joined(separator: " "))",
                "cpu features of this cpu: \(here)",
                "cpu: \(BenchEnvironment.cpu)"]
            + libraries.map { "\($0.0): \($0.1)" }
            + ["swift runtime: \(swiftRuntime())"]
    }
}
