import AttentionVariants
import ExactArithmetic
import Foundation
import Testing
import Workloads
@testable import DriftStudy

/// docs/ARCHITECTURE.md's "adding a variant", kept true: a variant defined and registered here,
/// outside the package, runs through a study, a budget and replay like a built-in one.
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

    /// Replay reads linear attention's q, k, v (and an optional initial state).
    var replayTensors: [ReplayTensorSpec]? { LinearDefinition().replayTensors }

    /// One decayed linear-attention head per head of the tensors.
    func replayPlan(_ x: ReplayTensors) throws -> ReplayPlan {
        var c = LinearAttentionConfig(keyDim: x.K, valueDim: x.V, gates: .constant(0.9))
        c.replay = x.inputs
        let base = c
        return ReplayPlan(tokens: x.T, inputs: x.views, outputShape: [x.T, x.H, x.V], stateShape: [x.H, x.K, x.V], roles: LinearAttentionConfig.roles) { tier, recipe in
            try (0..<x.H).map { h in
                var c = base
                c.head = h
                return try LinearDefinition.makeDecode(config: c, tier: tier, recipe: recipe)
            }
        }
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

    /// Replay of the inputs a study of the toy generated gives back the study's errors bit for
    /// bit: the registered variant's own plan runs through `Replay.run`.
    @Test func registeredVariantReplays() throws {
        let config = try StudyFixture.config("""
            name: toy-replay
            tokens: [120]
            seeds: [5]
            reference: {tier: float64, certify_tokens: 8, bits: 64, double_precision_tokens: 4}
            variants: [toy_linear]
            recipes:
              - {name: bf16, store: bfloat16}
            workloads: [gaussian]
            """)
        let study = try StudyFixture.tempDir()
        _ = try Study.run(configs: [config], options: Study.Options(out: study, jobs: 1))
        let record = try #require(try ResultsStore.readRecords("\(study)/results.jsonl").first)
        let inputs = try StudyFixture.tempDir(), out = try StudyFixture.tempDir() + "/out"
        for name in ["q", "k", "v"] {
            try ReplayTests.dump(inputs, name, seed: 5, stream: name, T: 120, H: 1, D: 8)
        }
        #expect(Replay.supported.contains("toy_linear"))
        let result = try Replay.run(Replay.Options(variant: "toy_linear", inputs: inputs, recipes: ["state=bfloat16"], out: out))
        #expect(result.outputShape == [120, 1, 8] && result.stateShape == [1, 8, 8])
        #expect(record.positions.map { result.series[0].outputRelErr[$0] } == record.outputRelErr)
        #expect(result.reference.pass == true)
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
