import Foundation

/// What this binary was built with and runs on: recorded beside every benchmark and every
/// run (`run.json`), and read by kernels choosing a register layout.
public enum BenchEnvironment {
    /// Whether this binary's vector code may use 32 registers of 512 bits: built with
    /// `-target-cpu native` (ATTNPREC_NATIVE) on a Linux x86-64 CPU reporting AVX-512F.
    /// Kernels pick register-hungry layouts only then (the results are the same bits).
    public static let nativeAVX512: Bool = {
        #if ATTNPREC_NATIVE && arch(x86_64) && os(Linux)
        guard let text = try? String(contentsOfFile: "/proc/cpuinfo", encoding: .utf8),
              let flags = text.split(separator: "\n").first(where: { $0.hasPrefix("flags") })
        else { return false }
        return flags.split(separator: " ").contains("avx512f")
        #else
        return false
        #endif
    }()

    /// The CPU model, from /proc/cpuinfo (else the architecture).
    public static var cpu: String {
        if let text = try? String(contentsOfFile: "/proc/cpuinfo", encoding: .utf8),
           let line = text.split(separator: "\n").first(where: { $0.hasPrefix("model name") }),
           let v = line.split(separator: ":", maxSplits: 1).last {
            return v.trimmingCharacters(in: .whitespaces)
        }
        #if arch(arm64)
        return "arm64"
        #else
        return "x86_64"
        #endif
    }

    /// How this binary was compiled (the Makefile defines ATTNPREC_NATIVE with -target-cpu native,
    /// and ATTNPREC_PORTABLE with `make portable`'s -march=x86-64-v3).
    public static var flags: String {
        var f: [String] = []
        #if DEBUG
            f.append("-Onone (debug)")
        #else
            f.append("-O (release)")
        #endif
        #if ATTNPREC_NATIVE
            f.append("-target-cpu native")
        #elseif ATTNPREC_PORTABLE
            f.append("-march=x86-64-v3")
        #endif
        return f.joined(separator: " ")
    }
}
