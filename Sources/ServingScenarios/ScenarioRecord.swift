import DriftStudy
import Foundation

/// One line of a scenario's `results.jsonl`: one (scenario, memory or variant, parameters,
/// recipe, seed). Like `StudyRecord`, nothing in it varies between runs (sorted keys, records
/// sorted by key), so the file is byte-identical for any `--jobs`.
///
/// `series` holds per-position metrics at `positions` (e.g. `accuracy`, `readout_rel_err`);
/// `summary` holds scalars (e.g. `exact_to`). Non-finite numbers are written as the strings
/// "NaN", "Infinity" (StudyJSON), never silently as numbers.
public struct ScenarioRecord: Codable, Sendable, Equatable {
    public var key: String
    public var scenario: String
    /// The memory (task) or variant (serving scenario) the record runs through.
    public var memory: String
    public var recipeName: String
    /// role → canonical spec ({} for the exact Float64 run).
    public var recipe: [String: String]
    /// The scenario's integer parameters (pairs, key_dim, interval …).
    public var parameters: [String: Int]
    /// Text parameters (checkpoint mode …).
    public var labels: [String: String]
    public var seed: UInt64
    public var tokens: Int
    public var positions: [Int]
    public var series: [String: [Double]]
    public var summary: [String: Double]

    enum CodingKeys: String, CodingKey {
        case key, scenario, memory, recipe, parameters, labels, seed, tokens, positions, series, summary
        case recipeName = "recipe_name"
    }

    public init(
        scenario: String, memory: String, recipeName: String, recipe: [String: String], parameters: [String: Int],
        labels: [String: String] = [:], seed: UInt64, tokens: Int
    ) {
        self.scenario = scenario
        self.memory = memory
        self.recipeName = recipeName
        self.recipe = recipe
        self.parameters = parameters
        self.labels = labels
        self.seed = seed
        self.tokens = tokens
        self.positions = []
        self.series = [:]
        self.summary = [:]
        let params = parameters.keys.sorted().map { "\($0)=\(parameters[$0]!)" } + labels.keys.sorted().map { "\($0)=\(labels[$0]!)" }
        key = ([scenario, memory] + params + ["recipe=\(recipeName)", "seed=\(seed)", "tokens=\(tokens)"]).joined(separator: "|")
    }

    /// The value of series `name` at position `p` (nil when not recorded).
    public func value(_ name: String, at p: Int) -> Double? {
        guard let s = series[name], let i = positions.firstIndex(of: p), i < s.count else { return nil }
        return s[i]
    }

    public static func line(_ r: ScenarioRecord) throws -> String {
        String(decoding: try StudyJSON.encoder().encode(r), as: UTF8.self)
    }

    /// Reads a scenario results file (sorted by key).
    public static func read(_ path: String) throws -> [ScenarioRecord] {
        let lines = try ResultsStore.readLines(path)
        let d = StudyJSON.decoder()
        return try lines.keys.sorted().map { k in
            do { return try d.decode(ScenarioRecord.self, from: Data(lines[k]!.utf8)) } catch {
                throw StudyInputError("\(path): record '\(k)': not a scenario record (\(error))")
            }
        }
    }
}
