import Foundation
import Testing
@testable import DriftStudy

/// Budgets files (the CI gate): parsing, and keys shared with results.
@Suite struct BudgetsFileTests {
    /// A tiny budget: linear attention, K = V = 16, bf16 inputs, a short certification.
    static func file(_ budgets: String, inputs: String = "bfloat16") -> String {
        """
        inputs: \(inputs)
        reference: {tier: float64, certify_tokens: 16, bits: 64, double_precision_tokens: 8}
        sampling: {per_octave: 8}
        budgets:
        \(budgets)
        """
    }

    static let linearBF16 = """
          - name: linear-bf16
            variant: linear
            key_dim: 16
            value_dim: 16
            recipe: {state: bfloat16}
            workload: {inputs: gaussian, seed: 0}
            tokens: 300
            max_output_rel_err: 0.5
        """

    @Test func parsesTheIssueExample() throws {
        let text = """
        budgets:
          - name: qwen3-next-gdn-bf16-state
            variant: gated_deltanet
            preset: qwen3-next        # optional; shapes and gate schedule
            recipe: {state: bfloat16}
            workload: {inputs: gaussian, seed: 0}
            tokens: 32768
            max_output_rel_err: 2.0e-2
            max_state_rel_err: 5.0e-2   # optional
            max_slope: 0.6              # optional, log–log growth
        """
        let f = try BudgetsFile.parse(text, file: "b.yaml")
        let b = try #require(f.budgets.first)
        #expect(b.name == "qwen3-next-gdn-bf16-state")
        #expect(b.variant.name == "gated_deltanet" && b.variant.presetName == "qwen3-next")
        #expect(b.tokens == 32768 && b.seeds == [0])
        #expect(b.maxOutputRelErr == 2e-2 && b.maxStateRelErr == 5e-2 && b.maxSlope == 0.6)
        #expect(b.keys == ["variant=gated_deltanet;preset=qwen3-next;recipe=state=bfloat16;workload=input=gaussian,gates=default,seed=0;tokens=32768"])
    }

    /// A budget and a study that describe the same record give the same key (DESIGN.md §9),
    /// whichever recipe form the budget uses.
    @Test(arguments: ["{state: bfloat16}", "bfloat16", "\"state=bfloat16\"", "{name: x, store: bfloat16}"])
    func keysMatchTheStudy(recipe: String) throws {
        let study = try StudyFixture.config()
        let studyKeys = Set(try StudyPlan.expand([study]).flatMap { $0.records.map(\.key) })
        let text = Self.file("""
              - name: same
                variant: linear
                key_dim: 16
                value_dim: 16
                recipe: \(recipe)
                workload: {inputs: sparse_outliers, probability: 0.01, scale: 10}
                tokens: 300
                max_output_rel_err: 0.5
            """)
        let b = try #require(try BudgetsFile.parse(text, file: "b.yaml").budgets.first)
        #expect(b.keys.count == 1)
        #expect(studyKeys.contains(b.keys[0]), "\(b.keys[0])")
    }

    /// A study variant with the same preset gives the budget's key.
    @Test func studyPresetKeyMatchesTheBudget() throws {
        let study = try StudyConfig.parse("""
        tokens: [32768]
        variants: [{name: gated_deltanet, preset: qwen3-next}]
        recipes: [bfloat16]
        """, file: "s.yaml", defaultName: "s")
        let keys = try StudyPlan.expand([study]).flatMap { $0.records.map(\.key) }
        #expect(keys == ["variant=gated_deltanet;preset=qwen3-next;recipe=state=bfloat16;workload=input=gaussian,gates=default,seed=0;tokens=32768"])
        #expect(throws: StudyInputError.self) {
            try StudyConfig.parse("variants: [{name: mha, preset: qwen3-next}]\nrecipes: [bfloat16]\n", file: "s.yaml", defaultName: "s")
        }
    }

    /// Each bad input is one line naming the file, the line and the budget.
    @Test(arguments: [
        ("  - name: a\n    variant: linear\n    recipe: {state: [bfloat16\n    tokens: 64\n", "b.yaml:8: budget 'a': invalid YAML"),
        ("  - name: a\n    variant: linaer\n    recipe: bfloat16\n    tokens: 64\n    max_output_rel_err: 1\n", "b.yaml:6: budget 'a': variant: unknown variant 'linaer'"),
        ("  - name: a\n    variant: linear\n    recipe: {state: e4m3/sideways}\n    tokens: 64\n    max_output_rel_err: 1\n", "b.yaml:7: budget 'a': recipe.state: unknown part 'sideways'"),
        ("  - name: a\n    variant: linear\n    recipe: bfloat16\n    tokens: -4\n    max_output_rel_err: 1\n", "b.yaml:8: budget 'a': tokens: expected an integer in 1..."),
        ("  - name: a\n    variant: linear\n    recipe: bfloat16\n    tokens: 64\n", "b.yaml:5: budget 'a': max_output_rel_err: expected a limit"),
        ("  - name: a\n    variant: linear\n    recipe: bfloat16\n    tokens: 64\n    max_output_rel_err: -1\n", "b.yaml:9: budget 'a': max_output_rel_err: expected a positive number"),
        ("  - name: a\n    variant: mha\n    recipe: bfloat16\n    tokens: 64\n    max_output_rel_err: 1\n    max_state_rel_err: 1\n", "b.yaml:10: budget 'a': max_state_rel_err"),
        ("  - name: a\n    variant: mha\n    recipe: {state: bfloat16}\n    tokens: 64\n    max_output_rel_err: 1\n", "b.yaml:7: budget 'a': recipe 'state=bfloat16' for variant 'mha'"),
        ("  - name: a\n    variant: linear\n    recipe: bfloat16\n    tokens: 64\n    max_output_rel_err: 1\n    colour: red\n", "b.yaml:10: budget 'a': budget: unknown key 'colour'"),
        ("  - name: a\n    variant: gqa\n    preset: qwen3-next\n    recipe: bfloat16\n    tokens: 64\n    max_output_rel_err: 1\n", "b.yaml:6: budget 'a': variant: preset: unknown 'qwen3-next' for variant 'gqa'"),
        ("  - variant: linear\n    recipe: bfloat16\n    tokens: 64\n    max_output_rel_err: 1\n", "b.yaml:5: budget #1: name: expected a name"),
        ("  - name: a\n    variant: linear\n    recipe: bfloat16\n    tokens: 64\n    seeds: [0, 0]\n    max_output_rel_err: 1\n", "b.yaml:9: budget 'a': seeds: expected distinct seeds"),
    ])
    func badInputIsOneLineNamingTheBudget(budget: String, message: String) throws {
        let text = Self.file(budget)
        do {
            _ = try BudgetsFile.parse(text, file: "b.yaml")
            Issue.record("no error for \(budget)")
        } catch let e as StudyInputError {
            #expect(e.description.hasPrefix(message), "\(e.description)")
            #expect(!e.description.contains("\n"))
        }
    }

    @Test func repeatedNamesAndEmptyFiles() throws {
        let twice = Self.file(Self.linearBF16 + "\n" + Self.linearBF16)
        #expect(throws: StudyInputError.self) { try BudgetsFile.parse(twice, file: "b.yaml") }
        #expect(throws: StudyInputError.self) { try BudgetsFile.parse("budgets: []\n", file: "b.yaml") }
        #expect(throws: StudyInputError.self) { try BudgetsFile.parse("", file: "b.yaml") }
    }
}
