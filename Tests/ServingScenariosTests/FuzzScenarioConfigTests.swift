import CLITestSupport
import Foundation
import NumberFormats
import Testing
@testable import ServingScenarios

/// Seeded mutation fuzzing of the scenario configs: a value or a one-line InputError, quickly.
@Suite struct FuzzScenarioConfigTests {
    @Test func fuzzScenarioConfigs() {
        let root = URL(fileURLWithPath: #filePath).deletingLastPathComponent().deletingLastPathComponent().deletingLastPathComponent()
        let seeds = Fuzz.yamlFiles("experiments/scenarios", root: root)
        #expect(!seeds.isEmpty)
        let report = Fuzz.run("scenario config", seed: 7, seeds: seeds, tokens: Fuzz.yamlTokens, ciSeconds: 3) { b in
            guard let t = String(bytes: b, encoding: .utf8) else { return .refused }
            return Fuzz.verdict({ _ = try ScenarioConfig.parse(t, file: "fuzz.yaml", defaultName: "fuzz") }) { ($0 as? InputError)?.message }
        }
        #expect(report.problems.isEmpty, "\(report.problems)")
    }
}
