import Foundation
import Testing
@testable import DriftStudy

@Suite struct StudyConfigTests {
    @Test func parsesTheSweepAndExcludes() throws {
        let c = try StudyFixture.config()
        #expect(c.tokens == [300])
        #expect(c.variants.count == 3)
        #expect(c.recipes.count == 3)
        #expect(c.workloads.count == 2)
        let groups = try StudyPlan.expand([c])
        // 3 variant instances × 2 workloads; mha loses one recipe to the exclude.
        #expect(groups.count == 6)
        let total: Int = groups.map { $0.records.count }.reduce(0, +)
        #expect(total == 16)
        let ids: [String] = groups.map { $0.id }
        #expect(ids == ids.sorted())
        let key = groups[0].records[0].key
        #expect(key.hasPrefix("variant="))
        #expect(key.contains(";tokens=300"))
        #expect(key.contains("seed=0"))
    }

    /// Each bad input names file:line, the key and what was expected.
    @Test(arguments: [
        ("name: x\nvariants: [linear]\nrecipes: [bfloat16]\ncolour: red\n", "small.yaml:4: the config: unknown key 'colour'; expected one of"),
        ("variants: [linear]\nrecipes: [bfloat16/sideways]\n", "small.yaml:2: recipes: unknown part 'sideways'"),
        ("variants: [linear]\nrecipes: [bfloat16]\ntokens: many\n", "small.yaml:3: tokens: expected a list"),
        ("variants: [linear]\nrecipes: [bfloat16]\ntokens: [abc]\n", "small.yaml:3: tokens: expected an integer, got 'abc'"),
        ("variants:\n  - {name: linear, head_size: 3}\nrecipes: [bfloat16]\n", "small.yaml:2: variants: unknown key 'head_size'"),
        ("variants: [nosuch]\nrecipes: [bfloat16]\n", "small.yaml:1: variants: unknown variant 'nosuch'"),
        ("variants: [linear]\nrecipes:\n  - {name: c, roles: \"k_cache=bfloat16\"}\n", "small.yaml:3: recipe 'c' for variant 'linear'"),
        ("variants: [linear]\nrecipes: [bfloat16]\nworkloads: [uniform]\n", "small.yaml:3: workloads: expected one of"),
        ("recipes: [bfloat16]\n", "small.yaml:1: variants: expected a list of variants"),
        ("variants: [linear\n", "small.yaml: invalid YAML"),
        ("variants:\n  - {name: mha, decay: 0.9}\nrecipes: [bfloat16]\n", "small.yaml:2: variants: decay: only 'linear'"),
        ("variants:\n  - {name: gated_deltanet, preset: qwen3}\nrecipes: [bfloat16]\n", "small.yaml:2: variants: preset: unknown 'qwen3' for variant 'gated_deltanet'; presets of 'gated_deltanet': qwen3-next"),
        ("variants:\n  - {name: linear, preset: qwen3-next}\nrecipes: [bfloat16]\n", "small.yaml:2: variants: preset: unknown 'qwen3-next' for variant 'linear'; variant 'linear' has no presets"),
        ("variants:\n  - {name: gated_deltanet, preset: qwen3-next, head: 32}\nrecipes: [bfloat16]\n", "small.yaml:2: variants: head: preset 'qwen3-next' has 32 value heads"),
        ("variants:\n  - {name: lightning, layer: 80}\nrecipes: [bfloat16]\n", "small.yaml:2: variants: layer: lightning (MiniMax-01) has 80 layers"),
        ("variants:\n  - {name: mha, head: 1}\nrecipes: [bfloat16]\n", "small.yaml:2: variants: head: variant 'mha' does not take it"),
        ("variants: [linear]\nrecipes:\n  - {name: x, store: bfloat16, variants: [linar]}\n", "small.yaml:3: recipes.variants: expected variant names"),
    ])
    func badInputNamesFileLineAndExpectation(text: String, message: String) throws {
        do {
            _ = try StudyPlan.expand([try StudyConfig.parse(text, file: "small.yaml", defaultName: "small")])
            Issue.record("accepted: \(text)")
        } catch let e as StudyInputError {
            #expect(e.description.hasPrefix(message), "\(e.description)")
            #expect(!e.description.contains("\n"))
        }
    }

    /// Presets set public shapes and gates; they and head/layer are part of the record key.
    @Test func presetsAndRecipeScopes() throws {
        let text = """
        tokens: [64]
        variants:
          - {name: gated_deltanet, preset: qwen3-next, head: 3}
          - {name: lightning, preset: minimax-01, head: 5, layer: 40}
          - {name: gqa, preset: llama3-8b}
          - linear
        recipes:
          - bfloat16
          - {name: fp8-kv, store: float8_e4m3fn/per-token, variants: [gqa]}
        """
        let groups = try StudyPlan.expand([try StudyConfig.parse(text, file: "p.yaml", defaultName: "p")])
        let keys = groups.flatMap { $0.records.map(\.key) }
        #expect(keys.contains { $0.contains("variant=gated_deltanet;preset=qwen3-next,head=3;") })
        #expect(keys.contains { $0.contains("variant=lightning;preset=minimax-01,head=5,layer=40;") })
        #expect(keys.filter { $0.contains("float8") }.count == 1)
        #expect(keys.filter { $0.contains("variant=gqa;preset=llama3-8b;") }.count == 2)
        // The preset's shapes reach the run: Qwen3-Next K = V = 128; Llama-3 32 query heads × 128.
        let gdn = groups.first { $0.variant.name == "gated_deltanet" }!
        let run = try VariantFactory.makeRun(gdn.variant, workload: gdn.workload, seed: 0, tokens: 64, schedule: VariantFactory.schedule(tokens: 64, perOctave: 4), tier: .float64, recipe: gdn.inputs)
        #expect(run.stateCount == 128 * 128)
        let gqa = groups.first { $0.variant.name == "gqa" }!
        let g = try VariantFactory.makeRun(gqa.variant, workload: gqa.workload, seed: 0, tokens: 64, schedule: VariantFactory.schedule(tokens: 64, perOctave: 4), tier: .float64, recipe: gqa.inputs)
        #expect(g.outputCount == 4 * 128)  // one KV head of Llama-3's 8, with its 4 query heads
        // Different heads of a preset have different gates: different outputs.
        var other = gdn.variant
        other.head = 4
        let a = run, b = try VariantFactory.makeRun(other, workload: gdn.workload, seed: 0, tokens: 64, schedule: VariantFactory.schedule(tokens: 64, perOctave: 4), tier: .float64, recipe: gdn.inputs)
        for _ in 0..<8 { a.step(); b.step() }
        var sa = [Double](repeating: 0, count: a.stateCount), sb = sa
        sa.withUnsafeMutableBufferPointer { a.readState(into: $0) }
        sb.withUnsafeMutableBufferPointer { b.readState(into: $0) }
        #expect(sa != sb)
    }

    @Test func missingFile() {
        #expect(throws: StudyInputError.self) { try StudyConfig.load(path: "/nonexistent/x.yaml") }
    }

    @Test func shards() throws {
        let a = try StudyPlan.parseShard("2/3")
        #expect(a.0 == 2)
        #expect(a.1 == 3)
        let env = ["SLURM_ARRAY_TASK_ID": "3", "SLURM_ARRAY_TASK_COUNT": "4", "SLURM_ARRAY_TASK_MIN": "0", "SLURM_ARRAY_TASK_MAX": "3"]
        let b = try StudyPlan.parseShard("slurm", environment: env)
        #expect(b.0 == 4)
        #expect(b.1 == 4)
        // Arrays that are not exactly 0…N−1: `--array=1` (the whole sweep as 1 of 1), `1-4`,
        // `0-4:2` (shards left unrun) are refused.
        for bad in [["1", "1", "1", "1", nil], ["4", "4", "1", "4", nil], ["4", "3", "0", "4", "2"]] {
            var e = ["SLURM_ARRAY_TASK_ID": bad[0]!, "SLURM_ARRAY_TASK_COUNT": bad[1]!, "SLURM_ARRAY_TASK_MIN": bad[2]!, "SLURM_ARRAY_TASK_MAX": bad[3]!]
            if let step = bad[4] { e["SLURM_ARRAY_TASK_STEP"] = step }
            #expect(throws: StudyInputError.self) { try StudyPlan.parseShard("slurm", environment: e) }
        }
        #expect(throws: StudyInputError.self) { try StudyPlan.parseShard("3/2") }
        #expect(throws: StudyInputError.self) { try StudyPlan.parseShard("slurm", environment: [:]) }
    }
}
