import Foundation
import Testing
@testable import DriftStudy
@testable import ServingScenarios

/// Gate precision: α stored in bf16 loses decays close to 1; log α does not.
@Suite struct GatePrecisionTests {
    static func config(_ variants: String = "[{name: gla, key_dim: 16, value_dim: 16}, {name: gated_deltanet, key_dim: 16, value_dim: 16}]",
                       recipes: String = #"[{name: decay, roles: "decay=bfloat16"}, {name: beta, roles: "beta=bfloat16"}]"#) throws -> ScenarioConfig {
        try ScenarioConfig.parse("""
        scenario: gates
        tokens: [1024]
        variants: \(variants)
        recipes: \(recipes)
        """, file: "g.yaml", defaultName: "g")
    }

    @Test func alphaInBF16LosesWhatLogAlphaKeeps() throws {
        let c = try Self.config()
        let gla = c.variants[0]
        let recipe = try c.recipe(c.recipes[0], roles: try VariantFactory.roles(gla))
        let alpha = try GatePrecision.run(variant: gla, recipeName: "decay", recipe: recipe, form: .alpha, seed: 0, config: c)
        let log = try GatePrecision.run(variant: gla, recipeName: "decay", recipe: recipe, form: .log, seed: 0, config: c)
        let ea = try #require(alpha.summary["err_at_T"]), el = try #require(log.summary["err_at_T"])
        #expect(ea > 10 * el, "alpha \(ea) log \(el)")
        #expect(el > 0 && el < 1e-2)
        #expect(alpha.summary["non_finite"] == 0)
        let s = try #require(alpha.series["output_rel_err"])
        #expect(s.count == alpha.positions.count && alpha.positions.first == 0)
    }

    @Test func recipesApplyOnlyWhereTheRoleExists() throws {
        let c = try Self.config()
        let keys = try GatePrecision.plan(c).map(\.0)
        // β exists for Gated DeltaNet, not for GLA: 2 forms × (decay for both + beta for GDN).
        #expect(keys.count == 6)
        #expect(!keys.contains { $0.hasPrefix("gla|beta") })
        #expect(keys.contains { $0.hasPrefix("gated_deltanet|beta") })
    }

    @Test func badInput() {
        do {
            _ = try Self.config("[{name: gla, key_dim: 16, value_dim: 16}]", recipes: #"[{name: b, roles: "beta=bfloat16"}]"#)
            Issue.record("accepted beta for gla only")
        } catch {
            #expect("\(error)".hasPrefix("g.yaml:4: recipes: 'b' names a role none of the variants has"), "\(error)")
        }
        do {
            _ = try Self.config("[deltanet]")
            Issue.record("accepted deltanet")
        } catch {
            #expect("\(error)".hasPrefix("g.yaml:3: variants: expected a gated variant"), "\(error)")
        }
    }
}
