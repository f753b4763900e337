import ArgumentParser
import ExactArithmetic
import NumberFormats

/// `attnprec version` and `attnprec --version`: one `key: value` line per item (BuildInfo).
struct VersionCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "version",
        abstract: "Version, git revision, build flags, CPU features, BLAS, MPFR, Swift runtime (also --version).")

    func run() { Self.printReport() }

    /// GitRevision is generated at build time by the GitRevision plugin.
    static func printReport() {
        for line in BuildInfo.lines(gitRevision: GitRevision.described, libraries: LibraryVersions.all) { print(line) }
    }
}
