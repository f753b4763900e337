import AttentionVariants
import ExactArithmetic
import Foundation
import HybridStacks
import NumberFormats
import Testing
@testable import DriftStudy

@Suite struct HybridStudyTests {
    static let budgets = """
        budgets:
          - name: holds
            variant: hybrid
            preset: qwen3-next
            pattern: "2*gated_deltanet, gated_attention"
            recipe: {gated_deltanet: "state=bfloat16", gated_attention: "k_cache=bfloat16,v_cache=bfloat16"}
            tokens: 48
            max_hidden_rel_err: 5.0e-2
            max_logits_kl: 1.0e-1
          - name: fails
            variant: hybrid
            preset: nemotron-h
            pattern: "mamba2, mlp, attention"
            form: chunked
            recipe: {mamba2: "state=float8_e4m3fn/per-token"}
            tokens: 32
            max_hidden_rel_err: 1.0e-7
        """

    /// A budget on a whole stack runs the stack and checks its final hidden state (and KL).
    @Test func hybridBudgetsHoldOrFail() throws {
        let file = try BudgetsFile.parse(Self.budgets, file: "b.yaml")
        #expect(file.budgets.map { $0.hybrid != nil } == [true, true])
        #expect(file.studies.isEmpty)
        let outcomes = try BudgetGate.evaluate(file, jobs: 2)
        #expect(outcomes[0].pass, "\(outcomes[0].checks)")
        #expect(outcomes[0].checks.map(\.metric) == ["hidden_rel_err", "logits_kl"])
        #expect(!outcomes[1].pass)
        #expect(outcomes[1].failureMessage?.hasPrefix("hidden_rel_err") == true, "\(outcomes[1].failureMessage ?? "")")
    }

    @Test func badHybridBudgetsNameTheFileAndLine() {
        for (bad, fragment) in [("mamba2: \"state=bfloat16\"", "not in qwen3-next"), ("gated_deltanet: \"k_cache=bfloat16\"", "k_cache")] {
            let text = Self.budgets.replacingOccurrences(of: "gated_deltanet: \"state=bfloat16\"", with: bad)
            do {
                _ = try BudgetsFile.parse(text, file: "b.yaml")
                Issue.record("no error for \(bad)")
            } catch {
                #expect("\(error)".hasPrefix("b.yaml:") && "\(error)".contains("budget 'holds'") && "\(error)".contains(fragment), "\(error)")
            }
        }
    }

    /// The study's fused delta-rule block runs give the stack the same bits as stepping the runs.
    @Test func fusedBlockRunsReproduceSteppedRuns() throws {
        var m = StackModel.qwen3Next
        m.pattern = "gated_deltanet, gated_attention"
        let shape = try StackShape(model: m, width: 1.0 / 16)
        let recipes = try [("fp32", ""), ("bf16", "state=bfloat16")].map { name, text in
            try StackRecipe.parse(name: name, text.isEmpty ? [] : [(key: "gated_deltanet", value: text)], shape: shape, form: "recurrent", where: "test")
        }
        var o = StackRunOptions(tokens: 40)
        o.attribution = false
        let stepped = try HybridRunner.records(HybridSpec(name: "q", shape: shape, recipes: recipes, options: o))
        o.blockRun = { BlockRuns.make($0, fast: true) }
        let fused = try HybridRunner.records(HybridSpec(name: "q", shape: shape, recipes: recipes, options: o))
        #expect(stepped == fused)
    }
}
