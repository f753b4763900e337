import AttentionVariants
import ExactArithmetic
import Foundation
import Testing
@testable import DriftStudy

/// docs/ARCHITECTURE.md's "adding a variant", kept true: a variant defined and registered here,
/// outside the package, runs through a study and a budget like a built-in one.
struct ToyLinearDefinition: VariantDefinition {
    var name: String { "toy_linear" }
    var family: VariantFamily { .linear }
    var forms: [String] { ["recurrent"] }
    var roles: [Role] { LinearAttentionConfig.roles }
    var math: String { "S_t = 0.9 S_{t−1} + k_t v_tᵀ, o_t = S_tᵀ (q_t/√K), K = V = 8" }
    var capabilities: VariantCapabilities { .stateCheckpoint }

    func instance(_ p: VariantParameters) throws -> any VariantInstance {
        ToyLinearInstance(config: LinearAttentionConfig(keyDim: 8, valueDim: 8, seed: p.seed, distribution: p.distribution, gates: .constant(0.9)))
    }
}

struct ToyLinearInstance: VariantInstance {
    let config: LinearAttentionConfig
    func makeRun(form: String, tier: BackendTier, recipe: Recipe) throws -> SteppedRun {
        try LinearDefinition.makeRun(config: config, form: form, tier: tier, recipe: recipe)
    }
    var stateShape: (rows: Int, cols: Int)? { (8, 8) }
    var constantDecay: Double? { 0.9 }
}

@Suite(.serialized) struct ToyVariantTests {
    init() { VariantRegistry.register(ToyLinearDefinition()) }

    static let study = """
        name: toy
        tokens: [200]
        inputs: bfloat16
        reference: {tier: float64, certify_tokens: 16, bits: 64, double_precision_tokens: 8}
        sampling: {per_octave: 8}
        variants:
          - toy_linear
          - {name: linear, key_dim: 8, value_dim: 8, decay: 0.9}
        recipes:
          - bfloat16
        workloads:
          - gaussian
        """

    @Test func registeredVariantRunsThroughAStudy() throws {
        #expect(try VariantRegistry.named("toy_linear").family == .linear)
        #expect(VariantRegistry.names(with: .stateCheckpoint).contains("toy_linear"))
        let dir = try StudyFixture.tempDir()
        _ = try Study.run(configs: [try StudyConfig.parse(Self.study, file: "toy.yaml", defaultName: "toy")], options: Study.Options(out: dir, jobs: 1))
        let records = try ResultsStore.readRecords("\(dir)/results.jsonl")
        let toy = try #require(records.first { $0.variant == "toy_linear" })
        let linear = try #require(records.first { $0.variant == "linear" })
        // The toy is linear attention with K = V = 8 and decay 0.9: the same numbers, and the
        // theory of a constant decay from its instance.
        #expect(toy.outputRelErr == linear.outputRelErr)
        #expect(toy.stateRelErr == linear.stateRelErr)
        #expect(toy.theory.law == "saturation" && toy.theory.decay == 0.9)
        let bf16State: Double = 8 * 8 * 2
        #expect(toy.summary.stateBytes == bf16State)
    }

    @Test func registeredVariantRunsThroughABudget() throws {
        let text = """
            inputs: bfloat16
            reference: {tier: float64, certify_tokens: 16, bits: 64, double_precision_tokens: 8}
            sampling: {per_octave: 8}
            budgets:
              - name: toy-bf16
                variant: toy_linear
                recipe: {state: bfloat16}
                workload: {inputs: gaussian, seed: 0}
                tokens: 200
                max_output_rel_err: 0.5
            """
        let outcomes = try BudgetGate.evaluate(try BudgetsFile.parse(text, file: "toy-budgets.yaml"))
        let o = try #require(outcomes.first)
        #expect(o.pass)
        #expect(o.records.first?.variant == "toy_linear")
    }

    @Test func unknownOverridesAreRejectedByTheDefinition() throws {
        var v = StudyConfig.VariantSpec(name: "toy_linear")
        v.keyDim = 16
        #expect(throws: StudyInputError.self) { try VariantFactory.check(v) }
        v = StudyConfig.VariantSpec(name: "toy_linear")
        v.form = "chunked"
        #expect(throws: StudyInputError.self) { try VariantFactory.check(v) }
    }
}
