import Foundation
import AttentionVariants
import ExactArithmetic
import NumberFormats
import Testing
@testable import DriftStudy

@Suite struct BlockRunsTests {
    static let config = """
    name: fused
    tokens: [700]
    inputs: bfloat16
    reference: {tier: float64, certify_tokens: 16, bits: 64, double_precision_tokens: 8}
    sampling: {per_octave: 4}
    variants:
      - {name: gated_deltanet, key_dim: 16, value_dim: 32}
      - {name: gated_deltanet, key_dim: 8, value_dim: 16, head: 3}
      - {name: deltanet, key_dim: 16, value_dim: 16}
      - {name: kda, key_dim: 16, value_dim: 16}
      - {name: linear, key_dim: 16, value_dim: 16}
      - {name: mha, head_dim: 16}
    recipes:
      - bfloat16
      - {name: fp32, store: float32}
      - {name: e4m3, store: float8_e4m3fn}
      - {name: e5m2-bf16beta, roles: "state=float8_e5m2,beta=bfloat16,decay=bfloat16"}
      - {name: bf16-sr, store: bfloat16/stochastic}
      - {name: e4m3-token, store: float8_e4m3fn/per-token}
    workloads:
      - gaussian
      - {name: outliers, input: sparse_outliers, probability: 0.01, scale: 10}
    exclude:
      - {variant: mha, recipe: e5m2-bf16beta}
      - {variant: linear, recipe: e5m2-bf16beta}
    """

    /// The study's records are the same bits with the fused kernels and two threads as with
    /// the generic runs stepped on one thread.
    @Test func fastPathsAndThreadsDoNotChangeABit() throws {
        let groups = try StudyPlan.expand([try StudyConfig.parse(Self.config, file: "fused.yaml", defaultName: "fused")])
        var compared = 0
        for g in groups {
            let slow = try GroupRunner.run(g, fastPaths: false, threads: 1).map { try StudyJSON.line($0) }
            let fast = try GroupRunner.run(g, fastPaths: true, threads: 2).map { try StudyJSON.line($0) }
            #expect(slow == fast, "\(g.variant.name) \(g.workload.name)")
            compared += slow.count
        }
        #expect(compared > 40)
    }

    /// Which runs take a fused kernel: binary32 GDN/DeltaNet with an element-format nearest-even
    /// state store (or none), and their binary64 references; not KDA, stochastic or scaled stores.
    @Test func fusedRunsAreTheOnesExpected() throws {
        let groups = try StudyPlan.expand([try StudyConfig.parse(Self.config, file: "fused.yaml", defaultName: "fused")])
        var fusedF32 = 0, fusedF64 = 0
        for g in groups where g.workload.name == "gaussian" {
            let schedule = VariantFactory.schedule(tokens: g.tokens, perOctave: g.perOctave)
            let ref = try VariantFactory.makeRun(g.variant, workload: g.workload, seed: g.seed, tokens: g.tokens, schedule: schedule, tier: .float64, recipe: g.inputs)
            let delta = g.variant.name == "gated_deltanet" || g.variant.name == "deltanet"
            if BlockRuns.make(ref, fast: true) is FusedDeltaFloat64Run { fusedF64 += 1; #expect(delta) } else { #expect(!delta) }
            for p in g.records {
                let run = try VariantFactory.makeRun(g.variant, workload: g.workload, seed: g.seed, tokens: g.tokens, schedule: schedule, tier: .float32, recipe: p.recipe)
                let expected = delta && !["bf16-sr", "e4m3-token"].contains(p.recipeName)
                let fused = BlockRuns.make(run, fast: true) is FusedDeltaFloat32Run
                #expect(fused == expected, "\(g.variant.name) \(p.recipeName)")
                if fused { fusedF32 += 1 }
                #expect(!(BlockRuns.make(run, fast: false) is FusedDeltaFloat32Run))
            }
        }
        #expect(fusedF64 == 3 && fusedF32 == 12)
    }

    /// The binary64 fused kernel against the generic Float64 decode, state and output bit for bit,
    /// with V a multiple of 16 (two vectors per sweep) and of 8 only (one), across blocks.
    @Test func float64FusedEqualsGeneric() throws {
        for (K, V, kind) in [(128, 128, DeltaKind.gatedDeltaNet), (32, 24, .gatedDeltaNet), (16, 16, .deltanet)] {
            let c = DeltaRuleConfig(kind: kind, keyDim: K, valueDim: V, seed: 5)
            let generic = try DeltaRuleDecode(config: c, backend: Float64Backend())
            let fused = try #require(FusedDeltaFloat64Run(try DeltaRuleDecode(config: c, backend: Float64Backend())))
            var out = [Double](repeating: 0, count: BlockRuns.maxBlock * V)
            var o = [Double](repeating: 0, count: V), s1 = [Double](repeating: 0, count: K * V), s2 = s1
            var sameOut = true
            for n in [1, 7, 256, 36] {
                fused.prepare(n)
                out.withUnsafeMutableBufferPointer { fused.compute(n, outputs: $0.baseAddress!, everyOutput: true) }
                for i in 0..<n {
                    generic.step()
                    o.withUnsafeMutableBufferPointer { generic.readOutput(into: $0) }
                    sameOut = sameOut && (0..<V).allSatisfy { out[i * V + $0].bitPattern == o[$0].bitPattern }
                }
                s1.withUnsafeMutableBufferPointer { generic.readState(into: $0) }
                s2.withUnsafeMutableBufferPointer { fused.readState(into: $0) }
                #expect(s1.map(\.bitPattern) == s2.map(\.bitPattern), "K=\(K) V=\(V) block \(n)")
            }
            #expect(sameOut, "K=\(K) V=\(V)")
            #expect(o.contains { $0 != 0 })
        }
    }
}
