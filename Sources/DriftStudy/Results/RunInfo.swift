import ExactArithmetic
import Foundation
import NumberFormats

/// Provenance of a run (`run.json`): everything that may differ between runs lives here.
public struct RunInfo: Codable, Sendable {
    public var command: String
    public var configs: [String]
    public var gitRevision: String
    public var compilerFlags: String
    public var cpu: String
    public var cores: Int
    public var jobs: Int
    public var shard: String?
    public var wallSeconds: Double
    public var started: String
    public var records: Int
    public var recordsComputed: Int
    public var groups: Int
    public var tokensStepped: Int
    /// The OpenBLAS kernel family and what chose it (`BLASSetup.selection`): Float32 gemms'
    /// low bits depend on it. Absent in run.json files written before it was recorded.
    public var blas: String?
    /// The study's `name:` (`ResultsFolder`'s identity of the folder). Absent in run.json files
    /// written before it was recorded.
    public var study: String?
    /// SHA-256 of the config file's bytes (`SHA256`; several configs: their digests joined by
    /// `+`): `report` refuses to merge shards of different configs. Absent in run.json files
    /// written before it was recorded (then unknown: never called different).
    public var configSHA256: String?
    /// The config's `title:`, kept so that a merged report keeps it. Absent when the config has
    /// none, and in run.json files written before it was recorded.
    public var title: String?

    enum CodingKeys: String, CodingKey {
        case command, configs, cpu, cores, jobs, shard, started, records, groups, blas, study, title
        case configSHA256 = "config_sha256"
        case gitRevision = "git_revision", compilerFlags = "compiler_flags", wallSeconds = "wall_seconds"
        case recordsComputed = "records_computed", tokensStepped = "tokens_stepped"
    }

    /// Every field given (the scenario runner writes its own run.json).
    public init(
        command: String, configs: [String], gitRevision: String, compilerFlags: String, cpu: String, cores: Int, jobs: Int,
        shard: String?, wallSeconds: Double, started: String, records: Int, recordsComputed: Int, groups: Int,
        tokensStepped: Int, blas: String?, study: String? = nil, configSHA256: String? = nil, title: String? = nil
    ) {
        self.command = command; self.configs = configs; self.gitRevision = gitRevision
        self.compilerFlags = compilerFlags; self.cpu = cpu; self.cores = cores; self.jobs = jobs
        self.shard = shard; self.wallSeconds = wallSeconds; self.started = started; self.records = records
        self.recordsComputed = recordsComputed; self.groups = groups; self.tokensStepped = tokensStepped; self.blas = blas
        self.study = study; self.configSHA256 = configSHA256; self.title = title
    }

    /// `configSHA256` of the config files at `paths` (nil when one cannot be read).
    public static func configSHA256(_ paths: [String]) -> String? {
        var digests: [String] = []
        for p in paths {
            guard let data = FileManager.default.contents(atPath: p) else { return nil }
            digests.append(SHA256.hex(data))
        }
        return digests.isEmpty ? nil : digests.joined(separator: "+")
    }

    /// The provenance of a merged folder: one entry per shard or folder merged.
    struct Merged: Codable {
        var mergedFrom: [RunInfo]
        enum CodingKeys: String, CodingKey { case mergedFrom = "merged_from" }
    }

    /// The provenance in `dir/run.json` (a run's, or every merged run's); empty when absent.
    public static func load(dir: String) -> [RunInfo] {
        guard let data = FileManager.default.contents(atPath: "\(dir)/run.json") else { return [] }
        let d = StudyJSON.decoder()
        if let one = try? d.decode(RunInfo.self, from: data) { return [one] }
        return (try? d.decode(Merged.self, from: data))?.mergedFrom ?? []
    }

    /// Writes `infos` as `dir/run.json` (a single run as itself, several as `merged_from`).
    public static func write(_ infos: [RunInfo], dir: String) throws {
        guard !infos.isEmpty else { return }
        let e = StudyJSON.encoder(pretty: true)
        let data = infos.count == 1 ? try e.encode(infos[0]) : try e.encode(Merged(mergedFrom: infos))
        try ResultsStore.writeAtomically(data, to: "\(dir)/run.json")
    }

    public static var compilerFlags: String { BenchEnvironment.flags }

    public static var cpu: String { BenchEnvironment.cpu }

    public static func gitRevision(near path: String) -> String {
        let p = Process()
        p.executableURL = URL(fileURLWithPath: "/usr/bin/env")
        p.arguments = ["git", "-C", path, "describe", "--always", "--dirty", "--abbrev=12"]
        let o = Pipe()
        p.standardOutput = o
        p.standardError = FileHandle.nullDevice
        do { try p.run() } catch { return "unknown" }
        let d = o.fileHandleForReading.readDataToEndOfFile()
        p.waitUntilExit()
        let s = String(decoding: d, as: UTF8.self).trimmingCharacters(in: .whitespacesAndNewlines)
        return p.terminationStatus == 0 && !s.isEmpty ? s : "unknown"
    }
}
