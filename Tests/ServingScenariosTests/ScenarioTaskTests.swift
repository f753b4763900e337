import Foundation
import Testing
@testable import DriftStudy
@testable import ServingScenarios

/// MQAR and the counter (DESIGN.md §6): full precision recalls and counts exactly; storage
/// formats lose recall where their rounding says they should.
@Suite struct ScenarioTaskTests {
    static func mqarConfig(_ extra: String = "", recipes: String = "[{name: e5m2, store: float8_e5m2}, {name: bf16, store: bfloat16}]") throws -> ScenarioConfig {
        let text = """
        scenario: mqar
        tokens: [16, 128, 1024]
        memories: [deltanet, linear]
        key_dim: 16
        value_dim: 16
        codebook: 16
        pairs: [4, 15]
        recipes: \(recipes)
        \(extra)
        """
        return try ScenarioConfig.parse(text, file: "t.yaml", defaultName: "t")
    }

    @Test func mqarFullPrecisionRecallsEverythingAtEveryLength() throws {
        let c = try Self.mqarConfig()
        for memory in TaskMemory.Kind.allCases {
            for pairs in c.pairs {
                let r = try TaskRunner.mqar(memory: memory, pairs: pairs, seed: 3, recipeName: TaskRunner.exactName, recipe: .exact, tier: .float64, config: c)
                let acc = try #require(r.series["accuracy"])
                #expect(acc.count == r.positions.count && acc.count > 3)
                #expect(acc.allSatisfy { $0 == 1 }, "\(memory) \(pairs) pairs: \(acc)")
                #expect(r.positions.first == pairs && r.positions.last == 1024)
                for L in c.tokens { #expect(r.summary["accuracy_at_\(L)"] == 1) }
                #expect(r.summary["first_loss_length"] == nil)
                // The readout is the stored codeword up to Float64 rounding of the distractors.
                #expect(try #require(r.series["readout_rel_err"]).allSatisfy { $0 < 1e-12 })
            }
        }
    }

    @Test func mqarLosesRecallInLowPrecisionAndAccuracyIsAFraction() throws {
        let c = try Self.mqarConfig()
        let recipes = try TaskRunner.recipes(c)
        #expect(recipes.map(\.name) == [TaskRunner.exactName, "e5m2", "bf16"])
        let e5m2 = recipes[1]
        let r = try TaskRunner.mqar(memory: .deltanet, pairs: 15, seed: 0, recipeName: e5m2.name, recipe: e5m2.recipe, tier: e5m2.tier, config: c)
        let acc = try #require(r.series["accuracy"])
        #expect(acc.allSatisfy { $0 >= 0 && $0 <= 1 })
        // Decisions over 15 pairs: every accuracy is a multiple of 1/15.
        #expect(acc.allSatisfy { abs($0 * 15 - ($0 * 15).rounded()) < 1e-9 })
        #expect(acc.contains { $0 < 1 }, "e5m2 (3 significand bits) should lose pairs within 1024 tokens: \(acc)")
        #expect(r.summary["first_loss_length"] != nil)
        // The readout error grows with the number of stores.
        let e = try #require(r.series["readout_rel_err"])
        #expect(e.last! > e.first!)
    }

    @Test func needleIsRecalledAtFullPrecisionAndLostInE5M2() throws {
        let c = try ScenarioConfig.parse("""
        scenario: needle
        tokens: [64, 1024]
        key_dim: 16
        value_dim: 16
        codebook: 16
        depths: [0, 50, 100]
        trials: 6
        recipes: [float8_e5m2]
        """, file: "n.yaml", defaultName: "n")
        let rs = try TaskRunner.recipes(c)
        for memory in TaskMemory.Kind.allCases {
            for depth in c.depths {
                let exact = try TaskRunner.needle(memory: memory, depth: depth, seed: 1, recipeName: rs[0].name, recipe: rs[0].recipe, tier: rs[0].tier, config: c)
                #expect(exact.positions == [64, 1024] && exact.series["accuracy"] == [1, 1], "\(memory) \(depth)")
            }
        }
        let lossy = try TaskRunner.needle(memory: .deltanet, depth: 0, seed: 1, recipeName: rs[1].name, recipe: rs[1].recipe, tier: rs[1].tier, config: c)
        let acc = try #require(lossy.series["accuracy"])
        #expect(acc.allSatisfy { $0 >= 0 && $0 <= 1 } && acc.last! < 1, "\(acc)")
    }

    @Test func counterStopsWhereTheSignificandEnds() throws {
        let c = try ScenarioConfig.parse("scenario: counter\ntokens: [300, 3000]\nrecipes: [bfloat16, float16, float32, float8_e4m3fn]\n", file: "c.yaml", defaultName: "c")
        let rs = try TaskRunner.recipes(c)
        var exactTo: [String: Double] = [:]
        for (name, recipe, tier) in rs {
            let r = try TaskRunner.counter(seed: 0, recipeName: name, recipe: recipe, tier: tier, config: c)
            exactTo[name] = r.summary["exact_to"]
            let a = try #require(r.summary["accuracy_at_300"])
            #expect(a >= 0 && a <= 1)
        }
        #expect(exactTo == [TaskRunner.exactName: 3000, "float32": 3000, "float16": 2048, "bfloat16": 256, "float8_e4m3fn": 16])
    }

    /// Bad input names the file, line and key.
    @Test(arguments: [
        ("scenario: mqar\ntokens: [64]\nkey_dim: 16\npairs: [16]\nrecipes: [bfloat16]\n", "t.yaml:4: pairs: expected at most key_dim − 1 = 15"),
        ("scenario: mqar\ntokens: [64]\nkey_dim: 12\npairs: [4]\nrecipes: [bfloat16]\n", "t.yaml:3: key_dim: expected a power of two"),
        ("scenario: mqar\ntokens: [8]\npairs: [16]\nrecipes: [bfloat16]\n", "t.yaml:2: tokens: expected lengths of at least the largest pair count (16), got 8"),
        ("scenario: mqar\ntokens: [64]\npairs: [4]\nmemories: [lstm]\nrecipes: [bfloat16]\n", "t.yaml:4: memories: expected one of deltanet, linear, got 'lstm'"),
        ("scenario: recall\ntokens: [64]\n", "t.yaml:1: scenario: expected one of"),
        ("scenario: needle\ntokens: [64]\ndepths: [50, 101]\nrecipes: [bfloat16]\n", "t.yaml:3: depths: expected an integer in 0...100, got 101"),
        ("scenario: counter\ntokens: [64]\nrecipes: [{name: x, roles: \"k_cache=bfloat16\"}]\n", "t.yaml:3: recipes: recipe: role 'k_cache' does not exist"),
        ("scenario: counter\ntokens: [64]\nrecipes: [bfloat16]\npairs: [3]\n", "t.yaml:4: the counter scenario: unknown key 'pairs'"),
        ("scenario: counter\ntokens: [64]\nrecipes: [{name: exact-float64, store: bfloat16}]\n", "t.yaml:3: recipes: expected no recipe named 'exact-float64'"),
    ])
    func badInput(_ text: String, _ expected: String) {
        do {
            _ = try ScenarioConfig.parse(text, file: "t.yaml", defaultName: "t")
            Issue.record("accepted: \(text)")
        } catch {
            #expect("\(error)".hasPrefix(expected), "\(error)")
            #expect(!"\(error)".contains("\n"))
        }
    }
}
