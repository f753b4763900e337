import Foundation
import Testing
@testable import DriftStudy
@testable import ServingScenarios

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

    // Softmax: the chunked prefill (FlashAttention-2 blocks) hands its KV caches to the decode form.

    static func kvConfig(_ recipes: String, variants: String = "[{name: mha, head_dim: 16}, {name: gqa, head_dim: 16}, {name: swa, head_dim: 16}]") throws -> ScenarioConfig {
        try ScenarioConfig.parse("""
        scenario: handoff
        tokens: [128]
        continuation: 128
        variants: \(variants)
        recipes: \(recipes)
        """, file: "h.yaml", defaultName: "h")
    }

    @Test func softmaxFullPrecisionHandoffReproducesTheExactRun() throws {
        let c = try Self.kvConfig("[bfloat16]")
        for v in c.variants {
            let r = try Handoff.runKV(variant: v, recipeName: TaskRunner.exactName, recipe: .exact, tier: .float64, seed: 1, config: c)
            #expect(r.positions.last == 255 && r.positions.contains(127) && r.positions.contains(128))
            for name in ["handoff_err", "decode_only_err", "prefill_only_err"] {
                let s = try #require(r.series[name])
                #expect(s.count == r.positions.count && s.allSatisfy { $0 <= 1e-12 }, "\(v.name) \(name): \(s.max()!)")
            }
            #expect(r.summary["handoff_state_err"] == 0)
        }
    }

    /// The decode form reads the entries the prefill appended: after the handoff the run is the
    /// decode-only run bit for bit (a handoff that re-rounded or lost entries would differ).
    @Test func softmaxHandoffSharesTheCache() throws {
        let c = try Self.kvConfig(#"[{name: e4m3, store: "float8_e4m3fn/per-token"}]"#)
        for v in c.variants {
            let recipe = try c.recipe(c.recipes[0], for: v, roles: try Handoff.handoffRoles(v))
            let r = try Handoff.runKV(variant: v, recipeName: "e4m3", recipe: recipe, tier: .float32, seed: 1, config: c)
            let s = r.summary
            #expect(s["end_handoff"] == s["end_decode_only"] && s["end_handoff"]! > 1e-3, "\(v.name)")
            let after = try #require(r.series["handoff_err"]).enumerated().filter { r.positions[$0.offset] >= 128 }.map(\.element)
            let decode = try #require(r.series["decode_only_err"]).enumerated().filter { r.positions[$0.offset] >= 128 }.map(\.element)
            #expect(after == decode)
            #expect(try #require(s["handoff_state_err"]) > 1e-2)
            #expect(try #require(s["jump"]) > 0.5 && s["jump"]! < 2, "\(v.name) \(s["jump"]!)")
        }
    }

    @Test func softmaxBadRecipesAreRejected() {
        do {
            _ = try Self.kvConfig(#"[{name: x, roles: "chunk_state=bfloat16"}]"#, variants: "[mha]")
            Issue.record("accepted chunk_state for mha")
        } catch {
            #expect("\(error)".hasPrefix("h.yaml:5: recipes: 'x' for variant 'mha'") && !"\(error)".contains("\n"), "\(error)")
        }
        do {
            _ = try Self.kvConfig(#"[{name: x, store: "bfloat16/per-head"}]"#, variants: "[mha]")
            Issue.record("accepted a per-head cache")
        } catch {
            #expect("\(error)".hasPrefix("h.yaml:5: recipes: 'x' for variant 'mha'"), "\(error)")
        }
    }
}
