import CBLAS
import CMPFR

/// The versions of the C libraries linked in, for `attnprec --version`.
public enum LibraryVersions {
    /// OpenBLAS's build configuration, and the kernel family in use with what chose it
    /// (`BLASSetup.selection`: its kernels decide the low bits of Float32 gemms).
    public static var blas: String {
        let config = openblas_get_config().map { String(cString: $0) } ?? "OpenBLAS (no build configuration)"
        return "\(config); kernels \(blasCoreName)"
    }

    /// MPFR's version and the GMP it runs on.
    public static var mpfr: String {
        "\(String(cString: mpfr_get_version())) (GMP \(String(cString: __gmp_version)))"
    }

    /// (name, version) lines as `BuildInfo.lines` takes them.
    public static var all: [(String, String)] { [("blas", blas), ("mpfr", mpfr)] }
}
