import ArgumentParser
import DriftReports
import DriftStudy
import Foundation
import NumberFormats

/// `attnprec report DIR...`: merges result folders (shards) by key and regenerates the report.
struct ReportCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "report",
        abstract: "Merge result folders by key and write report.md, plots/*.svg and results.csv.")

    @Argument(help: "Result folders (each with results.jsonl).")
    var dirs: [String]

    @Option(help: "Output folder (default: the first folder).")
    var out: String?

    func run() throws {
        guard !dirs.isEmpty else { throw InputError("report: expected at least one results folder") }
        let outDir = out ?? dirs[0]
        try OutputLocation.check(outDir, kind: .folder, flag: out == nil ? "report" : "--out")
        var lines: [String: String] = [:]
        var infos: [RunInfo] = []
        for d in dirs {
            let path = "\(d)/results.jsonl"
            guard FileManager.default.fileExists(atPath: path) else { throw InputError("\(path): no results file (expected results.jsonl from `attnprec run`)") }
            for (k, l) in try ResultsStore.readLines(path) {
                if let other = lines[k], other != l { throw InputError("\(path): record '\(k)' differs from the one in an earlier folder; expected identical duplicates") }
                lines[k] = l
            }
            infos += RunInfo.load(dir: d)
        }
        // The merged results.jsonl replaces the one --out holds: refused when that would drop
        // a record (a rerun into its own earlier output, or a merged folder, drops none).
        if let held = try ResultsFolder.held(in: outDir), let lost = held.keys.sorted().first(where: { lines[$0] == nil }) {
            let what = held.study.map { "the results of study '\($0)'" } ?? "\(held.keys.count) result record(s)"
            throw InputError("--out \(outDir): holds \(what), e.g. '\(lost)', that the merged results.jsonl would drop; expected an empty folder or one of the merged folders")
        }
        let merged = ResultsStore.joined(lines)
        let records: [StudyRecord] = try lines.keys.sorted().map { (k: String) throws -> StudyRecord in
            do { return try StudyJSON.decoder().decode(StudyRecord.self, from: Data(lines[k]!.utf8)) } catch {
                throw InputError("record '\(k)': not a study record (\(error))")
            }
        }
        if dirs.count > 1 || outDir != dirs[0] {
            try AtomicFile.write(merged, to: "\(outDir)/results.jsonl", creatingFolders: true)
            try RunInfo.write(infos, dir: outDir)
        }
        let name = infos.first?.configs.first.map { URL(fileURLWithPath: $0).deletingPathExtension().lastPathComponent } ?? "results"
        let report = try StudyReport.write(records: records, runInfo: infos, to: outDir, title: "attnprec study: \(name)")
        print("\(records.count) records from \(dirs.count) folder(s)")
        print("report: \(report)")
    }
}
