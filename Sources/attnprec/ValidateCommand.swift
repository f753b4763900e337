import ArgumentParser
import DriftReports
import DriftStudy
import Foundation
import NumberFormats

/// `attnprec validate BUDGETS.yaml`: the CI gate. Recomputes every budget, prints a table, and
/// exits 0 when all hold, 1 when any fails (NaN or Inf anywhere fails), 2 on bad input.
struct ValidateCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "validate",
        abstract: "CI gate: recompute each error budget; exit 0 all hold, 1 any fails, 2 bad input.",
        discussion: """
            The markdown summary goes to --summary FILE and is appended to $GITHUB_STEP_SUMMARY \
            when that is set (GitHub Actions).
            """)

    @Argument(help: "Budgets file (YAML; see the README's \"CI gate\").")
    var budgets: String

    @Option(help: "Write JUnit XML here (testsuites/testsuite/testcase/failure).")
    var junit: String?

    @Option(help: "Write the markdown summary here.")
    var summary: String?

    @Option(parsing: .unconditional, help: "Worker threads (the verdicts and the table are the same for any N).")
    var jobs: Int = ProcessInfo.processInfo.activeProcessorCount

    func run() throws {
        let outcomes: [BudgetOutcome]
        let seconds: Double
        guard jobs >= 1 else { throw InputError("--jobs: expected ≥ 1, got \(jobs)") }
        let file = try BudgetsFile.load(path: budgets)
        for (flag, path) in [("--junit", junit), ("--summary", summary)] { if let path { try Self.checkWritable(path, flag: flag) } }
        let start = Date()
        do {
            outcomes = try BudgetGate.evaluate(file, jobs: jobs)
        } catch let e as InputError {
            throw e
        } catch {
            throw InputError("\(budgets): \(error)")
        }
        seconds = Date().timeIntervalSince(start)
        print(GateReport.table(outcomes, file: budgets), terminator: "")
        if let junit {
            try AtomicFile.write(Data(GateReport.junit(outcomes, file: budgets, totalSeconds: seconds).utf8), to: junit, creatingFolders: true)
        }
        let markdown = GateReport.markdown(outcomes, file: budgets)
        if let summary { try AtomicFile.write(Data(markdown.utf8), to: summary, creatingFolders: true) }
        if let step = ProcessInfo.processInfo.environment["GITHUB_STEP_SUMMARY"], !step.isEmpty {
            try Self.append(markdown, to: step)
        }
        FileHandle.standardError.write(Data(String(format: "validate: %.1f s with %d job(s)\n", seconds, jobs).utf8))
        if outcomes.contains(where: { !$0.pass }) { throw ExitCode(1) }
    }

    /// An output path must not be a folder, and its folder must exist or be creatable.
    static func checkWritable(_ path: String, flag: String) throws {
        var isDir: ObjCBool = false
        if FileManager.default.fileExists(atPath: path, isDirectory: &isDir), isDir.boolValue {
            throw InputError("\(flag) \(path): is a folder; expected a file path")
        }
        let parent = URL(fileURLWithPath: path).deletingLastPathComponent().path
        if FileManager.default.fileExists(atPath: parent, isDirectory: &isDir) {
            if !isDir.boolValue { throw InputError("\(flag) \(path): '\(parent)' is not a folder") }
            if !FileManager.default.isWritableFile(atPath: parent) { throw InputError("\(flag) \(path): folder '\(parent)' is not writable") }
        }
    }

    /// Appends (GitHub's step summary is shared by every step of a job).
    static func append(_ text: String, to path: String) throws {
        if !FileManager.default.fileExists(atPath: path) {
            guard FileManager.default.createFile(atPath: path, contents: nil) else { throw InputError("GITHUB_STEP_SUMMARY \(path): cannot create") }
        }
        guard let h = FileHandle(forWritingAtPath: path) else { throw InputError("GITHUB_STEP_SUMMARY \(path): cannot open for appending") }
        defer { try? h.close() }
        try h.seekToEnd()
        try h.write(contentsOf: Data(text.utf8))
    }
}
