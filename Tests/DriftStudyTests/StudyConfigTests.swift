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

    @Test func missingFile() {
        #expect(throws: StudyInputError.self) { try StudyConfig.load(path: "/nonexistent/x.yaml") }
    }

    @Test func shards() throws {
        let a = try StudyPlan.parseShard("2/3")
        #expect(a.0 == 2)
        #expect(a.1 == 3)
        let env = ["SLURM_ARRAY_TASK_ID": "4", "SLURM_ARRAY_TASK_COUNT": "4", "SLURM_ARRAY_TASK_MIN": "1"]
        let b = try StudyPlan.parseShard("slurm", environment: env)
        #expect(b.0 == 4)
        #expect(b.1 == 4)
        #expect(throws: StudyInputError.self) { try StudyPlan.parseShard("3/2") }
        #expect(throws: StudyInputError.self) { try StudyPlan.parseShard("slurm", environment: [:]) }
    }
}
