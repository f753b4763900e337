import AttentionVariants
import ExactArithmetic
import Foundation
import NumberFormats
import Testing
@testable import DriftStudy
@testable import ServingScenarios

/// `scenario: reproduce`: a paper's cells as recipes, the RMSE against the Float64 run, data-
/// computed per-tensor scales, and its bad input.
@Suite struct ReproductionTests {
    static func config(_ paper: String = "paper: {fp8: 2.4e-2}", recipes: String? = nil, variants: String = "[{name: mha, head_dim: 32}]", tokens: String = "[192]") throws -> ScenarioConfig {
        try ScenarioConfig.parse("""
        scenario: reproduce
        tokens: \(tokens)
        window: 16
        inputs: float16
        input: {name: fa3, input: sparse_outliers, probability: 0.001, scale: 10}
        variants: \(variants)
        recipes: \(recipes ?? #"[{name: none, roles: "output=float32"}, {name: fp8, roles: "q=float8_e4m3fn/per-tensor/amax,k_cache=float8_e4m3fn/per-tensor/amax"}]"#)
        \(paper)
        """, file: "r.yaml", defaultName: "r")
    }

    /// The amax placeholder becomes amax / 448 in binary32 of the input the role stores, read
    /// over every position; the record's RMSE is the mean square over the window's outputs.
    @Test func perTensorAmaxAndRMSE() throws {
        let c = try Self.config(), v = c.variants[0]
        let fp8 = try Reproduction.run(variant: v, spec: c.recipes[1], seed: 1, tokens: 192, config: c)
        let probe = try #require(try VariantFactory.makeRun(v, workload: c.reproduceWorkload!, seed: 1, tokens: 192, schedule: .every, tier: .float64, recipe: .exact) as? InputAmax)
        let qScale = Float(probe.inputAmax(.q, tokens: 192)) / 448
        #expect(fp8.recipe["q"] == "float8_e4m3fn/per-tensor/fixed:\(qScale)")
        #expect(fp8.recipe["k_cache"] == "float8_e4m3fn/per-tensor/fixed:\(Float(probe.inputAmax(.k, tokens: 192)) / 448)")
        #expect(probe.inputAmax(.q, tokens: 192) > 4, "the outliers set the amax")
        let rmse = try #require(fp8.summary["rmse"]), rel = try #require(fp8.summary["output_rel_err"])
        #expect(rmse > 1e-4 && rmse < 0.1 && rel > 1e-3 && rel < 0.5, "rmse \(rmse) rel \(rel)")
        #expect(fp8.summary["paper_rmse"] == 2.4e-2 && fp8.parameters["row"] == 1)
        // Float32 compute alone: the RMSE of binary32 arithmetic, far below the fp8 cell.
        let none = try Reproduction.run(variant: v, spec: c.recipes[0], seed: 1, tokens: 192, config: c)
        #expect(try #require(none.summary["rmse"]) < 1e-5 * max(1, rmse / 1e-3))
        #expect(none.summary["paper_rmse"] == nil)
    }

    @Test(arguments: [
        ("paper: {nope: 1.0}", nil as String?, "[{name: mha, head_dim: 32}]", "r.yaml:8: paper: expected a recipe name of 'recipes', got 'nope'"),
        ("paper: {}", nil, "[{name: gated_deltanet}]", "r.yaml:6: variants: expected a softmax variant with a KV cache"),
        ("paper: {}", #"[{name: x, roles: "state=float8_e4m3fn/per-tensor/amax"}]"#, "[{name: mha, head_dim: 32}]", "r.yaml:7: recipes: 'x' for variant 'mha'"),
        ("paper: {}", #"[{name: x, roles: "rotation=hadamard"}]"#, "[{name: mha, head_dim: 48}]", "r.yaml:7: recipes: 'x' for variant 'mha'"),
    ])
    func badInput(_ paper: String, _ recipes: String?, _ variants: String, _ expected: String) {
        do {
            _ = try Self.config(paper, recipes: recipes, variants: variants)
            Issue.record("accepted")
        } catch {
            #expect("\(error)".hasPrefix(expected), "\(error)")
        }
    }

    @Test func lengthsMustExceedTheWindow() {
        #expect(throws: InputError.self) { try Self.config(tokens: "[16]") }
    }
}
