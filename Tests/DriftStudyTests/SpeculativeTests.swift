import Foundation
import Testing
@testable import DriftStudy

/// Speculative decoding: snapshot/rollback is neutral at full precision; a narrow snapshot
/// format adds state error and flips accept decisions.
@Suite struct SpeculativeTests {
    static func config(drafts: String = "[3]", recipes: String = #"[{name: snap, roles: "state=float32,snapshot=bfloat16"}]"#) throws -> ScenarioConfig {
        try ScenarioConfig.parse("""
        scenario: speculative
        tokens: [600]
        drafts: \(drafts)
        variants: [{name: gated_deltanet, key_dim: 16, value_dim: 16}, {name: linear, key_dim: 16, value_dim: 16}]
        recipes: \(recipes)
        """, file: "s.yaml", defaultName: "s")
    }

    @Test func fullPrecisionRollbackReproducesTheExactRun() throws {
        let c = try Self.config()
        for v in c.variants {
            let r = try Speculative.run(variant: v, recipeName: TaskRunner.exactName, recipe: .exact, tier: .float64, draft: 3, seed: 4, config: c)
            let s = try #require(r.series["state_err"])
            #expect(!s.isEmpty && s.allSatisfy { $0 <= 1e-12 }, "\(v.name): \(s.max()!)")
            #expect(r.summary["disagree_cycles"] == 0 && r.summary["disagree_positions"] == 0)
            // Cycles advance by the accepted length plus one (at most the draft length).
            let cycles = try #require(r.summary["cycles"]), acc = try #require(r.summary["mean_accepted"])
            #expect(cycles >= 200 && cycles <= 600 && acc >= 0 && acc <= 3)
        }
    }

    @Test func aNarrowSnapshotAddsStateError() throws {
        let c = try Self.config()
        let v = c.variants[1]
        let recipe = try c.recipe(c.recipes[0], roles: try VariantFactory.roles(v) + [.snapshot])
        let r = try Speculative.run(variant: v, recipeName: "snap", recipe: recipe, tier: .float32, draft: 3, seed: 4, config: c)
        let s = r.summary
        #expect(try #require(s["ratio"]) > 100)
        for k in ["disagree_cycles", "disagree_positions"] { #expect(s[k]! >= 0 && s[k]! <= 1) }
    }

    @Test(arguments: [
        ("[0]", "s.yaml:3: drafts: expected a draft length ≥ 1 token, got 0"),
        ("[4, -2]", "s.yaml:3: drafts: expected a draft length ≥ 1 token, got -2"),
        ("[]", "s.yaml:3: drafts: expected a non-empty list"),
    ])
    func badDrafts(_ drafts: String, _ expected: String) {
        do {
            _ = try Self.config(drafts: drafts)
            Issue.record("accepted \(drafts)")
        } catch {
            #expect("\(error)".hasPrefix(expected), "\(error)")
        }
    }
}
