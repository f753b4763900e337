import Foundation
import Testing
@testable import DriftStudy

/// Chunked prefill → decode handoff: neutral at full precision; rounding shows up where the
/// decode form starts storing every token.
@Suite struct HandoffTests {
    static func config(tokens: String = "[128]", recipes: String = #"[{name: bf16, roles: "state=bfloat16"}]"#) throws -> ScenarioConfig {
        try ScenarioConfig.parse("""
        scenario: handoff
        tokens: \(tokens)
        continuation: 64
        variants: [{name: gated_deltanet, key_dim: 16, value_dim: 16}, {name: linear, key_dim: 16, value_dim: 16}, {name: deltanet, key_dim: 16, value_dim: 16}]
        recipes: \(recipes)
        """, file: "h.yaml", defaultName: "h")
    }

    @Test func fullPrecisionHandoffReproducesTheExactRun() throws {
        let c = try Self.config()
        for v in c.variants {
            let r = try Handoff.run(variant: v, recipeName: TaskRunner.exactName, recipe: .exact, tier: .float64, seed: 1, config: c)
            #expect(r.positions.last == 191 && r.positions.contains(127) && r.positions.contains(128))
            for name in ["handoff_err", "decode_only_err", "prefill_only_err"] {
                let s = try #require(r.series[name])
                #expect(s.count == r.positions.count && s.allSatisfy { $0 <= 1e-12 }, "\(v.name) \(name): \(s.max()!)")
            }
            #expect(try #require(r.summary["handoff_state_err"]) <= 1e-12)
        }
    }

    @Test func bf16StateShowsAfterTheHandoffAndMatchesDecodeOnlyLater() throws {
        let c = try Self.config()
        let v = c.variants[0]
        let recipe = try c.recipe(c.recipes[0], roles: try Handoff.handoffRoles(v))
        let r = try Handoff.run(variant: v, recipeName: "bf16", recipe: recipe, tier: .float32, seed: 1, config: c)
        let s = r.summary
        #expect(try #require(s["handoff_state_err"]) > 1e-4)
        #expect(try #require(s["after"]) > 1e-4)
        // Once decoding, the handoff run rounds like decode-only: the same order of error.
        let end = try #require(s["end_handoff"]), decodeOnly = try #require(s["end_decode_only"])
        #expect(end > decodeOnly / 10 && end < decodeOnly * 10)
    }

    @Test(arguments: [
        ("[100]", "h.yaml:2: tokens: expected one prefill length P, a multiple of the chunk size 64"),
        ("[64, 128]", "h.yaml:2: tokens: expected one prefill length P"),
    ])
    func badPrefill(_ tokens: String, _ expected: String) {
        do {
            _ = try Self.config(tokens: tokens)
            Issue.record("accepted \(tokens)")
        } catch {
            #expect("\(error)".hasPrefix(expected), "\(error)")
        }
    }
}
