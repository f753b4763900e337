import ArgumentParser
import DriftReports
import DriftStudy
import Foundation
import NumberFormats
import ServingScenarios

/// `attnprec report DIR...`: merges result folders (shards) by key and regenerates the report.
struct ReportCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "report",
        abstract: "Merge result folders by key and write report.md, plots/*.svg and results.csv (or redraw a replay folder's report).",
        discussion: "Folders that are shards of one run (run.json's shard I/N) must be every shard 1…N once, of one config and git revision.")

    @Argument(help: "Result folders (each with results.jsonl), or one replay folder (errors.json).")
    var dirs: [String]

    @Option(help: "Output folder (default: the first folder).")
    var out: String?

    @Flag(help: "Merge the shards given even when some of 1…N are missing (the report says which).")
    var allowPartial = false

    func run() throws {
        guard !dirs.isEmpty else { throw InputError("report: expected at least one results folder") }
        let outDir = out ?? dirs[0]
        try OutputLocation.check(outDir, kind: .folder, flag: out == nil ? "report" : "--out")
        let fm = FileManager.default
        if dirs.count == 1, fm.fileExists(atPath: "\(dirs[0])/errors.json"), !fm.fileExists(atPath: "\(dirs[0])/results.jsonl") {
            return try replay(dirs[0], outDir: outDir)
        }
        let merged = try ResultsMerge.merge(dirs, allowPartial: allowPartial)
        let lines = merged.lines, infos = merged.infos
        // The merged results.jsonl replaces the one --out holds: refused when that would drop
        // a record (a rerun into its own earlier output, or a merged folder, drops none).
        if let held = try ResultsFolder.held(in: outDir), let lost = held.keys.sorted().first(where: { lines[$0] == nil }) {
            let what = held.study.map { "the results of study '\($0)'" } ?? "\(held.keys.count) result record(s)"
            throw InputError("--out \(outDir): holds \(what), e.g. '\(lost)', that the merged results.jsonl would drop; expected an empty folder or one of the merged folders")
        }
        if lines.values.contains(where: HybridReport.isHybrid(line:)) { return try hybrid(lines, infos: infos, outDir: outDir) }
        if lines.values.contains(where: { $0.contains("\"scenario\":") }) { return try scenario(lines, infos: infos, outDir: outDir) }
        let records: [StudyRecord] = try lines.keys.sorted().map { (k: String) throws -> StudyRecord in
            do { return try StudyJSON.decoder().decode(StudyRecord.self, from: Data(lines[k]!.utf8)) } catch {
                throw InputError("record '\(k)': not a study record (\(error))")
            }
        }
        if dirs.count > 1 || outDir != dirs[0] {
            try AtomicFile.write(ResultsStore.joined(lines), to: "\(outDir)/results.jsonl", creatingFolders: true)
            try RunInfo.write(infos, dir: outDir)
        }
        let name = infos.first?.configs.first.map { URL(fileURLWithPath: $0).deletingPathExtension().lastPathComponent } ?? "results"
        let title = infos.lazy.compactMap(\.title).first ?? "attnprec study: \(name)"
        let report = try StudyReport.write(records: records, runInfo: infos, to: outDir, title: title, notice: merged.notice)
        print("\(records.count) records from \(dirs.count) folder(s)\(merged.notice == nil ? "" : " (a partial merge: see the report)")")
        print("report: \(report)")
    }

    /// Hybrid records (`"variant":"hybrid"`): merged into `outDir` when that is another folder,
    /// and their report written there.
    func hybrid(_ lines: [String: String], infos: [RunInfo], outDir: String) throws {
        let records = try HybridReport.records(lines: lines)
        if dirs.count > 1 || outDir != dirs[0] {
            try AtomicFile.write(ResultsStore.joined(lines), to: "\(outDir)/results.jsonl", creatingFolders: true)
            try RunInfo.write(infos, dir: outDir)
        }
        let title = infos.lazy.compactMap(\.title).first ?? "attnprec hybrid stacks: \(infos.lazy.compactMap(\.study).first ?? URL(fileURLWithPath: dirs[0]).lastPathComponent)"
        let report = try HybridReport.write(records: records, runInfo: infos.first, to: outDir, title: title)
        print("\(records.count) hybrid records from \(dirs.count) folder(s)")
        print("report: \(report)")
    }

    /// A replay folder (`errors.json`, no results): its report redrawn into `outDir`.
    func replay(_ dir: String, outDir: String) throws {
        let result = try ReplayReport.load(dir: dir)
        let report = try ReplayReport.write(result, to: outDir)
        print("replay of \(result.variant): \(result.series.count) series")
        print("report: \(report)")
    }

    /// Scenario records (a `scenario` key): merged into `outDir` when that is another folder (or
    /// several folders are given), and their report written there, titled from the config when
    /// that is at hand.
    func scenario(_ lines: [String: String], infos: [RunInfo], outDir: String) throws {
        if dirs.count > 1 || outDir != dirs[0] {
            try AtomicFile.write(ResultsStore.joined(lines), to: "\(outDir)/results.jsonl", creatingFolders: true)
            try RunInfo.write(infos, dir: outDir)
        }
        let records = try ScenarioRecord.read("\(outDir)/results.jsonl")
        let info = infos.first
        let config = info?.configs.first.flatMap { try? ScenarioConfig.load(path: $0) }
        let title = config?.title ?? "attnprec scenario: \(config?.name ?? URL(fileURLWithPath: dirs[0]).lastPathComponent)"
        let report = try ScenarioReport.write(records: records, runInfo: info, to: outDir, title: title)
        print("\(records.count) scenario records from \(dirs.count) folder(s)")
        print("report: \(report)")
    }
}
