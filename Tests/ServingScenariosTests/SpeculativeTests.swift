import AttentionVariants
import ExactArithmetic
import Foundation
import NumberFormats
import Testing
@testable import DriftStudy
@testable import ServingScenarios

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

    // KV-cache variants: the rollback truncates the cache.

    static func kvConfig(_ recipes: String, variants: String = "[{name: mha, head_dim: 16}, {name: gqa, head_dim: 16}, {name: swa, head_dim: 16}]") throws -> ScenarioConfig {
        try ScenarioConfig.parse("""
        scenario: speculative
        tokens: [300]
        drafts: [3]
        variants: \(variants)
        recipes: \(recipes)
        """, file: "s.yaml", defaultName: "s")
    }

    @Test func softmaxFullPrecisionRollbackReproducesTheExactRun() throws {
        let c = try Self.kvConfig("[bfloat16]")
        for v in c.variants {
            let r = try Speculative.runKV(variant: v, recipeName: TaskRunner.exactName, recipe: .exact, tier: .float64, draft: 3, seed: 4, config: c)
            let s = try #require(r.series["output_err"])
            #expect(!s.isEmpty && s.allSatisfy { $0 <= 1e-12 }, "\(v.name): \(s.max()!)")
            #expect(r.summary["disagree_cycles"] == 0 && r.summary["rollback_output_delta"] == 0)
            let cycles = try #require(r.summary["cycles"])
            #expect(cycles >= 100 && cycles <= 300)
        }
    }

    /// A per-token-quantized cache (stochastic rounding too: its bits depend on the position
    /// only) re-appends identical codes after a rollback: the speculative run holds the same
    /// bytes and reads the same outputs as the run that never drafted.
    @Test func softmaxRollbackIsExactlyNeutral() throws {
        let c = try Self.kvConfig(#"[{name: e4m3, store: "float8_e4m3fn/per-token"}, {name: sr, store: "bfloat16/stochastic"}]"#)
        for v in c.variants {
            for spec in c.recipes {
                let recipe = try c.recipe(spec, for: v, roles: try Speculative.speculativeRoles(v))
                let r = try Speculative.runKV(variant: v, recipeName: spec.name, recipe: recipe, tier: .float32, draft: 3, seed: 4, config: c)
                #expect(r.summary["rollback_output_delta"] == 0 && r.summary["rollback_bytes_delta"] == 0, "\(v.name) \(spec.name)")
                #expect(r.series["state_err"] == r.series["baseline_state_err"])
                #expect(r.summary["final_state_err"]! > 1e-3, "\(v.name) \(spec.name)")
                #expect(r.summary["final_output_err"]! > 1e-4)
            }
        }
    }

    /// A cache format that overflows to NaN (a fixed scale far too small, IEEE overflow):
    /// every stored NaN is counted, rolled back or kept, with its first position; a drafted
    /// output that is not finite is counted too. A finite format adds neither key.
    @Test func softmaxNonFiniteStoresAreCounted() throws {
        let c = try Self.kvConfig(#"[{name: nan, store: "float8_e4m3fn/per-token/fixed:0.001/ieee"}, {name: e4m3, store: "float8_e4m3fn/per-token"}]"#, variants: "[{name: mha, head_dim: 16}]")
        let v = c.variants[0]
        let bad = try Speculative.runKV(variant: v, recipeName: "nan", recipe: try c.recipe(c.recipes[0], for: v, roles: try Speculative.speculativeRoles(v)),
                                        tier: .float32, draft: 3, seed: 4, config: c)
        #expect(try #require(bad.summary["non_finite_stored"]) > 300 * 16)
        #expect(bad.summary["first_non_finite"] == 0)
        #expect(try #require(bad.summary["non_finite_drafted"]) > 0)
        let good = try Speculative.runKV(variant: v, recipeName: "e4m3", recipe: try c.recipe(c.recipes[1], for: v, roles: try Speculative.speculativeRoles(v)),
                                         tier: .float32, draft: 3, seed: 4, config: c)
        #expect(good.summary["non_finite_stored"] == nil && good.summary["first_non_finite"] == nil && good.summary["non_finite_drafted"] == nil)
    }

    /// The cache after a rollback is the cache of a run that decoded only the kept tokens:
    /// same bytes, same error sums, same outputs; and appending after the rollback overwrites
    /// the dropped entries (a stale entry would be read at its position).
    @Test func truncatedCacheEqualsTheShorterRun() throws {
        var config = SoftmaxAttentionConfig(headDim: 16, valueDim: 16)
        config.evaluation = EvaluationSchedule(dense: 0, perOctave: 0, stride: 0, last: nil)
        let f = try FormatSpec.parse("float8_e4m3fn/per-token")
        var recipe = Recipe()
        recipe[.kCache] = f
        recipe[.vCache] = f
        let a = try SoftmaxDecode(config: config, backend: Float32Backend(), recipe: recipe)
        let b = try SoftmaxDecode(config: config, backend: Float32Backend(), recipe: recipe)
        for _ in 0..<40 { a.step() }
        a.rollback(to: 25)
        #expect(a.position == 24)
        for _ in 0..<25 { b.step() }
        #expect(a.cacheBytes == b.cacheBytes && a.cacheRelativeError == b.cacheRelativeError)
        for _ in 0..<10 { a.step(); b.step() }
        a.evaluate(34); b.evaluate(34)
        var oa = [Double](repeating: 0, count: 16), ob = oa
        oa.withUnsafeMutableBufferPointer { a.readOutput(into: $0) }
        ob.withUnsafeMutableBufferPointer { b.readOutput(into: $0) }
        #expect(oa == ob)
        // A different row appended at a dropped position is what is read back there.
        var rows = try QuantizedRows(spec: f, role: "k_cache", width: 4, seed: 0, head: 0)
        for x in [1.0, 2.0, 3.0] { [x, x, x, x].withUnsafeBufferPointer { rows.append($0) } }
        rows.truncate(to: 1)
        [-8.0, 8, 8, 8].withUnsafeBufferPointer { rows.append($0) }
        var out = [Double](repeating: 0, count: 4)
        out.withUnsafeMutableBufferPointer { rows.read(row: 1, into: $0) }
        #expect(rows.count == 2 && out == [-8, 8, 8, 8])
    }

    @Test func softmaxBadRecipesAreRejected() {
        do {
            _ = try Self.kvConfig(#"[{name: snap, roles: "k_cache=bfloat16,snapshot=bfloat16"}]"#, variants: "[mha]")
            Issue.record("accepted a snapshot role for mha")
        } catch {
            #expect("\(error)".hasPrefix("s.yaml:5: recipes: 'snap' for variant 'mha'") && !"\(error)".contains("\n"), "\(error)")
        }
        do {
            _ = try Self.kvConfig(#"[{name: kivi, roles: "k_cache=int4/group:32"}]"#, variants: "[mha]")
            Issue.record("accepted a group:N cache")
        } catch {
            #expect("\(error)".hasPrefix("s.yaml:5: recipes: 'kivi' for variant 'mha': a group:N cache cannot drop drafted entries"), "\(error)")
        }
    }
}
