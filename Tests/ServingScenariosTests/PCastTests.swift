import AttentionVariants
import ExactArithmetic
import Foundation
import NumberFormats
import Testing
@testable import DriftStudy
@testable import ServingScenarios

/// P-collapse (arXiv 2606.06521): the measured underflow of non-sink P in the softmax kernel's
/// blocked path against the prediction, forward and reverse; the normal-law helpers; bad input.
@Suite struct PCastTests {
    static func config(_ recipes: String = #"[{name: S256, roles: "p=float8_e4m3fn/per-tensor/fixed:0.00390625"}]"#, tokens: Int = 512,
                       orders: String = "[forward, reverse]") throws -> ScenarioConfig {
        try ScenarioConfig.parse("""
        scenario: p_cast
        tokens: [\(tokens)]
        queries: 16
        block: 64
        sink_tokens: 4
        value_dim: 16
        sink_strengths: [12]
        orders: \(orders)
        sink_values: [1, 0]
        recipes: \(recipes)
        """, file: "p.yaml", defaultName: "p")
    }

    @Test func normalLaw() {
        #expect(MPFR.normalCDF(0) == 0.5)
        #expect(abs(MPFR.normalCDF(1.959963984540054) - 0.975) < 1e-15)
        #expect(MPFR.normalCDF(-38) > 0 && MPFR.normalCDF(-38) < 1e-300)
        #expect(abs(PCast.expectedMaximum(of: 1)) < 1e-9)
        #expect(abs(PCast.expectedMaximum(of: 2) - 1 / Double.pi.squareRoot()) < 1e-7)
        #expect(abs(PCast.expectedMaximum(of: 4) - 1.0293753730) < 1e-6)
    }

    /// Δ = 12, S = 256: forward, every non-sink value sees the sink's max and about 2/3 flush to
    /// zero (the prediction over the sink maximum within 20%); in reverse only the sink block's.
    @Test func forwardCollapsesReverseDoesNot() throws {
        let c = try Self.config(), recipe = try c.recipe(c.recipes[0], roles: [.p])
        func run(_ order: PCast.Order, sinkValues: Double = 1) throws -> ScenarioRecord {
            try PCast.run(spec: c.recipes[0], recipe: recipe, delta: 12, sinkValues: sinkValues, order: order, seed: 3, tokens: 512, config: c)
        }
        let forward = try run(.forward), reverse = try run(.reverse)
        let f = try #require(forward.summary["underflow_fraction"]), pf = try #require(forward.summary["predicted_over_max"])
        let r = try #require(reverse.summary["underflow_fraction"]), pr = try #require(reverse.summary["predicted_over_max"])
        #expect(forward.summary["nonzero_counted"] == Double((496..<512).reduce(0) { $0 + $1 + 1 - 4 }))
        #expect(abs(f / pf - 1) < 0.2, "forward \(f) predicted \(pf)")
        #expect(abs(r / pr - 1) < 0.3 && r < f / 5, "reverse \(r) predicted \(pr)")
        #expect(abs(try #require(forward.summary["predicted"]) - 0.7098) < 1e-3)
        // With zero sink values the output is the non-sink keys' alone: the collapse shows there.
        let fz = try #require(try run(.forward, sinkValues: 0).summary["output_rel_err"])
        let rz = try #require(try run(.reverse, sinkValues: 0).summary["output_rel_err"])
        #expect(fz > 2 * rz, "forward \(fz) reverse \(rz)")
    }

    @Test(arguments: [
        (#"[{name: x, roles: "state=bfloat16"}]"#, "p.yaml:10: recipes"),
        (#"[{name: x, roles: "p=float8_e4m3fn"}]"#, "p.yaml:10: recipes: 'x': expected only p, a float format with a fixed scale"),
        (#"[{name: x, roles: "p=int8/per-tensor/fixed:0.01"}]"#, "p.yaml:10: recipes: 'x': expected only p, a float format with a fixed scale"),
    ])
    func badRecipes(_ recipes: String, _ expected: String) {
        do {
            _ = try Self.config(recipes)
            Issue.record("accepted \(recipes)")
        } catch {
            #expect("\(error)".hasPrefix(expected), "\(error)")
        }
    }

    @Test func badShapesAndOrders() {
        #expect(throws: InputError.self) { try Self.config(tokens: 64) }
        #expect(throws: InputError.self) { try Self.config(tokens: 100_000) }
        #expect(throws: InputError.self) { try Self.config(orders: "[sideways]") }
    }
}
