import CBLAS
#if canImport(Glibc)
import Glibc
#endif

/// OpenBLAS, configured once per process before its first use (`blasSingleThreaded`).
///
/// One thread: studies already spread groups over cores (`--jobs`), the gemms of a chunk
/// (64×128 by 128×128 at most) lose more to thread hand-off than they gain, and one thread keeps
/// every result the same bits whatever the machine's core count.
///
/// The kernel family is OpenBLAS's own choice for the CPU, or the one `OPENBLAS_CORETYPE` names
/// (read by OpenBLAS when it loads; attnprec never changes it). It decides the speed and the low
/// bits of Float32 gemms (their accumulation order): on this project's AMD Zen 5 machine
/// OpenBLAS 0.3.21 picks Cooperlake (AVX-512, sgemm 512³ ≈ 225 Gflop/s on one thread), while
/// the environment there sets `OPENBLAS_CORETYPE=Haswell` (AVX2, ≈ 117 Gflop/s). `selection`
/// says which and why; `bench kernels` prints it.
public enum BLASSetup {
    /// The kernel family in use and what chose it.
    public nonisolated(unsafe) private(set) static var selection = "not configured"

    static func configure() {
        openblas_set_num_threads(1)
        let core = openblas_get_corename().map { String(cString: $0) } ?? "unknown"
        if let forced = getenv("OPENBLAS_CORETYPE") {
            selection = "\(core) (OPENBLAS_CORETYPE=\(String(cString: forced)))"
        } else {
            selection = "\(core) (OpenBLAS's detection)"
        }
    }
}
