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
        // Every output is checked before the budgets are computed: a bad path is exit 2, never
        // a gate that reads as failed after minutes of work.
        let step = ProcessInfo.processInfo.environment["GITHUB_STEP_SUMMARY"].flatMap { $0.isEmpty ? nil : $0 }
        for (flag, path) in [("--junit", junit), ("--summary", summary)] { if let path { try OutputLocation.check(path, kind: .file, flag: flag) } }
        if let step { try OutputLocation.check(step, kind: .appended, flag: "GITHUB_STEP_SUMMARY") }
        let conformJobs = try ConformanceGate.load(file)  // every kernel file read and checked first
        let start = Date()
        do {
            outcomes = file.budgets.isEmpty ? [] : try BudgetGate.evaluate(file, jobs: jobs)
        } catch let e as InputError {
            throw e
        } catch {
            throw InputError("\(budgets): \(error)")
        }
        let conformance = ConformanceGate.evaluate(conformJobs)
        seconds = Date().timeIntervalSince(start)
        if !file.budgets.isEmpty { print(GateReport.table(outcomes, file: budgets), terminator: "") }
        print(ConformanceGate.table(conformance), terminator: "")
        let markdown = (file.budgets.isEmpty ? "### attnprec validate `\(budgets)`\n" : GateReport.markdown(outcomes, file: budgets)) + ConformanceGate.markdown(conformance)
        var files: [AtomicFile.File] = []
        if let junit {
            let budgetsXML = file.budgets.isEmpty ? nil : GateReport.junit(outcomes, file: budgets, totalSeconds: seconds)
            let xml = budgetsXML.map { ConformanceGate.junit(merging: $0, conformance, file: budgets) } ?? ConformanceGate.junitAlone(conformance, file: budgets, seconds: seconds)
            files.append(.init(path: junit, data: Data(xml.utf8)))
        }
        if let summary { files.append(.init(path: summary, data: Data(markdown.utf8))) }
        // Both or neither: each is written to its temporary file before either is renamed.
        try AtomicFile.write(files, creatingFolders: true)
        if let step { try Self.append(markdown, to: step) }
        FileHandle.standardError.write(Data(String(format: "validate: %.1f s with %d job(s)\n", seconds, jobs).utf8))
        if outcomes.contains(where: { !$0.pass }) || conformance.contains(where: { !$0.pass }) { throw ExitCode(1) }
    }

    /// Appends (GitHub's step summary is shared by every step of a job).
    static func append(_ text: String, to path: String) throws {
        if !FileManager.default.fileExists(atPath: path) {
            guard FileManager.default.createFile(atPath: path, contents: nil) else { throw InputError("GITHUB_STEP_SUMMARY '\(path)': cannot create") }
        }
        guard let h = FileHandle(forWritingAtPath: path) else { throw InputError("GITHUB_STEP_SUMMARY '\(path)': cannot open for appending") }
        defer { try? h.close() }
        do {
            try h.seekToEnd()
            try h.write(contentsOf: Data(text.utf8))
        } catch {
            throw InputError("GITHUB_STEP_SUMMARY '\(path)': cannot append (\(AtomicFile.reason(error)))")
        }
    }
}
