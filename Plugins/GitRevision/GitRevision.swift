import Foundation
import PackagePlugin

/// Generates `GitRevision.swift` (`enum GitRevision { static let described = "…" }`) into the
/// target it is applied to: `git describe --always --dirty --abbrev=12` of the package's
/// checkout, or "unknown" outside one (a source tarball, no git).
///
/// A prebuild command runs before every build, but scripts/git-revision.sh replaces the file only
/// when its text changes, so an unchanged revision recompiles nothing; a new commit recompiles one
/// file of the executable target and relinks it.
@main
struct GitRevisionPlugin: BuildToolPlugin {
    func createBuildCommands(context: PluginContext, target: Target) throws -> [Command] {
        let package = context.package.directoryURL
        let work = context.pluginWorkDirectoryURL
        let generated = work.appending(path: "generated")
        return [.prebuildCommand(
            displayName: "git revision of \(context.package.displayName)",
            executable: URL(fileURLWithPath: "/bin/sh"),
            arguments: [package.appending(path: "scripts/git-revision.sh").path, package.path, generated.path, work.path],
            outputFilesDirectory: generated)]
    }
}
