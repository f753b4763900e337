import CBLAS
#if canImport(Glibc)
import Glibc
#endif

/// OpenBLAS, configured once per process before its first use (`blasSingleThreaded`).
///
/// - One thread: studies already spread groups over cores (`--jobs`), the gemms of a chunk
///   (64×128 by 128×128 at most) lose more to thread hand-off than they gain, and one thread
///   keeps every result the same bits whatever the machine's core count.
/// - The kernel family: OpenBLAS picks its kernels from the CPU it recognises, and 0.3.21 (Debian
///   12) does not know AMD Zen 5 and runs the AVX2 Haswell kernels there, half the AVX-512
///   speed (sgemm 512³ on one thread: 117 against 226 Gflop/s on this project's machine). When
///   the CPU has AVX-512 F/BW/DQ/VL/CD, the library was built with runtime dispatch
///   (DYNAMIC_ARCH, as Debian's is), the chosen family has no AVX-512 kernels and the user has
///   not set `OPENBLAS_CORETYPE` (which always wins), the SkylakeX kernels are selected: the
///   selection OpenBLAS itself makes for the AVX-512 AMD CPUs it knows (Zen 4). The kernel
///   family decides the low bits of Float32 gemm results (its accumulation order), so a
///   machine always takes the same one; `blasCoreName` reports it, and bench output names it.
public enum BLASSetup {
    /// Families with AVX-512 kernels (OpenBLAS's `gotoblas_corename` spellings).
    static let avx512Families: Set<String> = ["SkylakeX", "Cooperlake", "SapphireRapids"]

    /// What `configure` did, for reports and benchmarks.
    public nonisolated(unsafe) private(set) static var selection = "not configured"

    static func configure() {
        openblas_set_num_threads(1)
        let detected = currentCoreName()
        if let forced = getenv("OPENBLAS_CORETYPE") {
            selection = "\(detected) (OPENBLAS_CORETYPE=\(String(cString: forced)))"
            return
        }
        guard !avx512Families.contains(detected), cpuHasAVX512(), let quit = symbol("gotoblas_dynamic_quit"),
              let initialise = symbol("gotoblas_dynamic_init")
        else {
            selection = "\(detected) (OpenBLAS's detection)"
            return
        }
        reinitialise(coreType: "SkylakeX", quit: quit, initialise: initialise)
        let now = currentCoreName()
        if now == "SkylakeX" {
            selection = "SkylakeX (selected by attnprec on an AVX-512 CPU that OpenBLAS detected as \(detected))"
        } else {
            // Not available in this build: back to OpenBLAS's own choice.
            reinitialise(coreType: nil, quit: quit, initialise: initialise)
            selection = "\(currentCoreName()) (OpenBLAS's detection; SkylakeX unavailable)"
        }
    }

    typealias Hook = @convention(c) () -> Void

    static func reinitialise(coreType: String?, quit: Hook, initialise: Hook) {
        if let coreType { setenv("OPENBLAS_CORETYPE", coreType, 1) }
        quit()
        initialise()
        if coreType != nil { unsetenv("OPENBLAS_CORETYPE") }
    }

    static func symbol(_ name: String) -> Hook? {
        guard let handle = dlopen(nil, RTLD_NOW), let s = dlsym(handle, name) else { return nil }
        return unsafeBitCast(s, to: Hook.self)
    }

    static func currentCoreName() -> String {
        guard let name = openblas_get_corename() else { return "unknown" }
        return String(cString: name)
    }

    /// AVX-512 F, BW, DQ, VL and CD (what OpenBLAS's SkylakeX kernels use), from the kernel's
    /// CPU flags (which also reflect whether the OS saves the 512-bit registers).
    static func cpuHasAVX512() -> Bool {
        #if os(Linux) && arch(x86_64)
        guard let file = fopen("/proc/cpuinfo", "r") else { return false }
        defer { fclose(file) }
        var line: UnsafeMutablePointer<CChar>? = nil
        var capacity = 0
        defer { free(line) }
        while getline(&line, &capacity, file) > 0 {
            let text = String(cString: line!)
            guard text.hasPrefix("flags") else { continue }
            let flags = Set(text.split(whereSeparator: { $0 == " " || $0 == "\t" || $0 == "\n" }).map(String.init))
            return ["avx512f", "avx512bw", "avx512dq", "avx512vl", "avx512cd"].allSatisfy(flags.contains)
        }
        return false
        #else
        return false
        #endif
    }
}
