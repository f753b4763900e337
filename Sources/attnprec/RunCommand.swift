import ArgumentParser
import DriftReports
import DriftStudy
import Foundation
import NumberFormats
import ServingScenarios
import HybridStacks

/// `attnprec run [CONFIG.yaml ...]`: runs a study and writes results, run.json and the report.
struct RunCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "run",
        abstract: "Run a precision study (default: experiments/default.yaml) and write its report.")

    @Argument(help: "Study configs (YAML). Default: experiments/default.yaml.")
    var configs: [String] = []

    @Option(help: "Output folder (default: reports/<first config's base name>).")
    var out: String?

    @Option(parsing: .unconditional, help: "Worker threads (results are byte-identical for any N).")
    var jobs: Int = ProcessInfo.processInfo.activeProcessorCount

    @Option(parsing: .unconditional, help: "Run the deterministic slice I/N of the groups, or 'slurm' (SLURM_ARRAY_TASK_ID/COUNT).")
    var shard: String?

    @Flag(help: "Continue the results in OUT (the same study, its records all in the config): skip the records already there.")
    var resume = false

    @Flag(help: "Move a folder that holds results aside to OUT.old-N (the first free N) and start afresh.")
    var force = false

    func run() throws {
        let paths = configs.isEmpty ? [try Self.defaultConfig()] : configs
        guard jobs >= 1 else { throw InputError("--jobs: expected ≥ 1, got \(jobs)") }
        if paths.contains(where: ScenarioConfig.isScenario) { return try runScenario(paths) }
        if paths.contains(where: HybridConfig.isHybrid) { return try runHybrid(paths) }
        let shardValue = try shard.map { try StudyPlan.parseShard($0) }
        let loaded = try paths.map { try StudyConfig.load(path: $0) }
        let outDir = out ?? "reports/\(URL(fileURLWithPath: paths[0]).deletingPathExtension().lastPathComponent)"
        try OutputLocation.check(outDir, kind: .folder, flag: "--out")
        let command = (["attnprec"] + CommandLine.arguments.dropFirst()).joined(separator: " ")
        let tty = isatty(STDERR_FILENO) != 0
        var options = Study.Options(
            out: outDir, jobs: jobs, shard: shardValue, resume: resume, progress: tty, command: command, force: force, movedAside: { print($0) })
        options.revision = GitRevision.described
        let info = try Study.run(configs: loaded, options: options)
        let records = try ResultsStore.readRecords("\(outDir)/results.jsonl")
        let report = try StudyReport.write(records: records, runInfo: [info], to: outDir, title: loaded[0].title ?? "attnprec study: \(loaded[0].name)")
        print("\(info.recordsComputed) records computed, \(info.records) in \(outDir)/results.jsonl (\(String(format: "%.1f", info.wallSeconds)) s)")
        print("report: \(report)")
    }

    /// A config with a top-level `scenario:` key: the scenario runner (one config, no shards).
    func runScenario(_ paths: [String]) throws {
        guard paths.count == 1 else { throw InputError("\(paths[0]): a scenario config runs alone; expected one config, got \(paths.count)") }
        guard shard == nil && !resume else { throw InputError("\(paths[0]): --shard and --resume apply to studies, not to scenario configs") }
        let config = try ScenarioConfig.load(path: paths[0])
        let outDir = out ?? "reports/\(URL(fileURLWithPath: paths[0]).deletingPathExtension().lastPathComponent)"
        try OutputLocation.check(outDir, kind: .folder, flag: "--out")
        let command = (["attnprec"] + CommandLine.arguments.dropFirst()).joined(separator: " ")
        var options = Study.Options(out: outDir, jobs: jobs, command: command, force: force, movedAside: { print($0) })
        options.revision = GitRevision.described
        let (info, records) = try ScenarioStudy.run(config: config, options: options)
        let report = try ScenarioReport.write(records: records, runInfo: info, to: outDir, title: config.title ?? "attnprec scenario: \(config.name)")
        print("\(records.count) records in \(outDir)/results.jsonl (\(String(format: "%.1f", info.wallSeconds)) s)")
        print("report: \(report)")
    }

    /// A config with a top-level `hybrid:` key: the hybrid stacks runner (one config, no shards).
    func runHybrid(_ paths: [String]) throws {
        guard paths.count == 1 else { throw InputError("\(paths[0]): a hybrid config runs alone; expected one config, got \(paths.count)") }
        guard shard == nil && !resume else { throw InputError("\(paths[0]): --shard and --resume apply to studies, not to hybrid configs") }
        let config = try HybridConfig.load(path: paths[0], jobs: jobs)
        let outDir = out ?? "reports/\(URL(fileURLWithPath: paths[0]).deletingPathExtension().lastPathComponent)"
        try OutputLocation.check(outDir, kind: .folder, flag: "--out")
        let command = (["attnprec"] + CommandLine.arguments.dropFirst()).joined(separator: " ")
        var options = Study.Options(out: outDir, jobs: jobs, command: command, force: force, movedAside: { print($0) })
        options.revision = GitRevision.described
        let (info, records) = try HybridStudy.run(config: config, options: options) { print($0) }
        let report = try HybridReport.write(records: records, runInfo: info, to: outDir, title: config.title ?? "attnprec hybrid stacks: \(config.name)")
        print("\(records.count) records in \(outDir)/results.jsonl (\(String(format: "%.1f", info.wallSeconds)) s)")
        print("report: \(report)")
    }

    /// experiments/default.yaml in the working folder, else beside the package the binary was built from.
    static func defaultConfig() throws -> String {
        let rel = "experiments/default.yaml"
        if FileManager.default.fileExists(atPath: rel) { return rel }
        var dir = URL(fileURLWithPath: CommandLine.arguments[0]).resolvingSymlinksInPath().deletingLastPathComponent()
        for _ in 0..<6 {
            let c = dir.appendingPathComponent(rel).path
            if FileManager.default.fileExists(atPath: c) { return c }
            dir = dir.deletingLastPathComponent()
        }
        throw InputError("\(rel): not found in the working folder or beside the package; expected a config path")
    }
}
