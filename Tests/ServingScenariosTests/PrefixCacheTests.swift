import AttentionVariants
import Foundation
import Testing
@testable import DriftStudy
@testable import ServingScenarios

/// Prefix caching: resuming through a full-precision checkpoint is neutral; a checkpoint in
/// the state's own format is idempotent; a narrower one adds error.
@Suite struct PrefixCacheTests {
    static func config(_ recipes: String, intervals: String = "[16, 64]", variants: String = "[{name: gated_deltanet, key_dim: 16, value_dim: 16}, {name: linear, key_dim: 16, value_dim: 16}]") throws -> ScenarioConfig {
        try ScenarioConfig.parse("""
        scenario: prefix_cache
        tokens: [100]
        continuation: 24
        requests: 5
        intervals: \(intervals)
        variants: \(variants)
        recipes: \(recipes)
        """, file: "p.yaml", defaultName: "p")
    }

    @Test func checkpointPositions() {
        #expect(PrefixCache.checkpoint(branch: 70, prefix: 100, interval: 16, mode: .all) == 64)
        #expect(PrefixCache.checkpoint(branch: 70, prefix: 100, interval: 16, mode: .last) == 0)
        #expect(PrefixCache.checkpoint(branch: 97, prefix: 100, interval: 16, mode: .last) == 96)
        #expect(PrefixCache.checkpoint(branch: 15, prefix: 100, interval: 16, mode: .all) == 0)
        let b = PrefixCache.branches(requests: 50, prefix: 100, seed: 1)
        #expect(b == b.sorted() && b.allSatisfy { (50...100).contains($0) } && Set(b).count > 10)
    }

    @Test func fullPrecisionResumeReproducesTheUninterruptedRun() throws {
        let c = try Self.config("[bfloat16]")
        for v in c.variants {
            for I in c.intervals {
                for mode in PrefixCache.Mode.allCases {
                    let r = try PrefixCache.run(variant: v, recipeName: TaskRunner.exactName, recipe: .exact, tier: .float64, interval: I, mode: mode, seed: 2, config: c)
                    let hits = PrefixCache.branches(requests: 5, prefix: 100, seed: 2).filter { PrefixCache.checkpoint(branch: $0, prefix: 100, interval: I, mode: mode) > 0 }.count
                    #expect(r.summary["hits"] == Double(hits))
                    if mode == .all { #expect(hits > 0) }
                    for name in ["resumed_err", "uncheckpointed_err", "checkpoint_delta"] {
                        let s = try #require(r.series[name])
                        #expect(s.count == 5 && s.allSatisfy { $0 <= 1e-12 }, "\(v.name) \(I) \(mode) \(name): \(s)")
                    }
                }
            }
        }
    }

    @Test func aCheckpointInTheStateFormatIsIdempotentAndANarrowerOneIsNot() throws {
        let c = try Self.config(#"[{name: same, roles: "state=bfloat16,checkpoint=bfloat16"}, {name: narrower, roles: "state=float32,checkpoint=bfloat16"}]"#)
        let roles = try VariantFactory.roles(c.variants[1]) + [.checkpoint]
        let same = try c.recipe(c.recipes[0], roles: roles), narrower = try c.recipe(c.recipes[1], roles: roles)
        let a = try PrefixCache.run(variant: c.variants[1], recipeName: "same", recipe: same, tier: .float32, interval: 16, mode: .all, seed: 0, config: c)
        #expect(a.series["checkpoint_delta"]!.allSatisfy { $0 == 0 })
        #expect(a.summary["mean_resumed_err"]! > 1e-4)
        let b = try PrefixCache.run(variant: c.variants[1], recipeName: "narrower", recipe: narrower, tier: .float32, interval: 16, mode: .all, seed: 0, config: c)
        let d = try #require(b.summary["mean_checkpoint_delta"])
        #expect(d > 1e-5 && d < 1e-1, "\(d)")
        #expect(b.summary["mean_resumed_err"]! > 10 * b.summary["mean_uncheckpointed_err"]!)
    }

    @Test(arguments: [
        ("[0]", "p.yaml:5: intervals: expected a checkpoint interval ≥ 1 token, got 0"),
        ("[-16]", "p.yaml:5: intervals: expected a checkpoint interval ≥ 1 token, got -16"),
        ("[many]", "p.yaml:5: intervals: expected a positive integer"),
        ("[200]", "p.yaml:5: intervals: expected an interval of at most the prefix length 100, got 200"),
    ])
    func badIntervals(_ intervals: String, _ expected: String) {
        do {
            _ = try Self.config("[bfloat16]", intervals: intervals)
            Issue.record("accepted \(intervals)")
        } catch {
            #expect("\(error)".hasPrefix(expected), "\(error)")
        }
    }

    @Test func unsupportedVariantsAndUnknownRolesAreRejected() {
        #expect(throws: StudyInputError.self) { try Self.config("[bfloat16]", variants: "[mla]") }
        #expect(throws: StudyInputError.self) { try Self.config("[bfloat16]", variants: "[{name: mha, form: chunked}]") }
        do {
            _ = try Self.config(#"[{name: x, roles: "state=bfloat16,checkpoint=bfloat16"}]"#, variants: "[mha]")
            Issue.record("accepted a state role for mha")
        } catch {
            #expect("\(error)".hasPrefix("p.yaml:7: recipes: 'x' for variant 'mha'") && !"\(error)".contains("\n"), "\(error)")
        }
        do {
            _ = try Self.config(#"[{name: x, roles: "k_cache=bfloat16"}]"#)
            Issue.record("accepted k_cache for a recurrent variant")
        } catch {
            #expect("\(error)".hasPrefix("p.yaml:7: recipes: 'x' for variant 'gated_deltanet'"), "\(error)")
        }
    }

    // KV-cache variants: the checkpoint holds the prefix's cache entries.

    @Test func softmaxFullPrecisionResumeReproducesTheUninterruptedRun() throws {
        let c = try Self.config("[bfloat16]", variants: "[mha, {name: gqa, head_dim: 16}, {name: swa, head_dim: 16}]")
        for v in c.variants {
            for I in c.intervals {
                for mode in PrefixCache.Mode.allCases {
                    let r = try PrefixCache.runKV(variant: v, recipeName: TaskRunner.exactName, recipe: .exact, tier: .float64, cases: [(I, mode)], seed: 2, config: c)[0]
                    let hits = PrefixCache.branches(requests: 5, prefix: 100, seed: 2).filter { PrefixCache.checkpoint(branch: $0, prefix: 100, interval: I, mode: mode) > 0 }.count
                    #expect(r.summary["hits"] == Double(hits))
                    for name in ["resumed_err", "uncheckpointed_err", "checkpoint_delta"] {
                        let s = try #require(r.series[name])
                        #expect(s.count == 5 && s.allSatisfy { $0 <= 1e-12 }, "\(v.name) \(I) \(mode) \(name): \(s)")
                    }
                }
            }
        }
    }

    @Test func softmaxCheckpointInTheCacheFormatAddsNothingAndACoarserOneAFlatError() throws {
        let c = try Self.config(#"[{name: same, roles: "k_cache=bfloat16,v_cache=bfloat16,checkpoint=bfloat16"}, {name: coarser, roles: "k_cache=bfloat16,v_cache=bfloat16,checkpoint=float8_e4m3fn/per-token"}, {name: exact-cache, roles: "checkpoint=float8_e4m3fn/per-token"}]"#, variants: "[mha]")
        let v = c.variants[0], roles = try PrefixCache.prefixRoles(v)
        let recipes = try c.recipes.map { try c.recipe($0, for: v, roles: roles) }
        #expect(recipes[0][.kCache]?.spec == "bfloat16" && recipes[0][.checkpoint]?.spec == "bfloat16")
        let same = try PrefixCache.runKV(variant: v, recipeName: "same", recipe: recipes[0], tier: .float32, cases: [(16, .all)], seed: 0, config: c)[0]
        #expect(same.summary["hits"] == 5)
        #expect(same.series["checkpoint_delta"]!.allSatisfy { $0 == 0 })
        #expect(same.series["resumed_err"] == same.series["uncheckpointed_err"])
        #expect(same.summary["mean_resumed_err"]! > 1e-4)
        // e4m3 entries below the prefix: each continuation reads them, so the checkpoint's
        // effect is far above the bf16 cache's own error.
        let coarse = try PrefixCache.runKV(variant: v, recipeName: "coarser", recipe: recipes[1], tier: .float32, cases: [(16, .all)], seed: 0, config: c)[0]
        let d = try #require(coarse.summary["mean_checkpoint_delta"])
        #expect(d > 1e-3 && d < 0.5, "\(d)")
        #expect(coarse.summary["mean_resumed_err"]! > 3 * coarse.summary["mean_uncheckpointed_err"]!)
        // With an exact (Float32) live cache, only the checkpointed entries are rounded.
        let exactCache = try PrefixCache.runKV(variant: v, recipeName: "exact-cache", recipe: recipes[2], tier: .float32, cases: [(16, .all)], seed: 0, config: c)[0]
        #expect(exactCache.summary["mean_uncheckpointed_err"]! < 1e-6)
        #expect(exactCache.summary["mean_resumed_err"]! > 1e-3)
    }

    @Test func softmaxAndRecurrentRecipesApplyToTheirOwnVariants() throws {
        let c = try Self.config(#"[bfloat16, {name: kv, roles: "k_cache=bfloat16,checkpoint=bfloat16"}, {name: st, roles: "state=float32,checkpoint=bfloat16"}]"#,
                                variants: "[mha, {name: linear, key_dim: 16, value_dim: 16}]")
        let plan = try PrefixCache.plan(c).map(\.0)
        // Per variant: the exact run and every recipe that applies, × 2 intervals × 2 modes
        // (a softmax variant's intervals and modes are one work item, sharing two runs).
        #expect(plan.filter { $0.hasPrefix("mha|") }.count == 3)
        #expect(plan.filter { $0.hasPrefix("linear|") }.count == 3 * 4)
        #expect(!plan.contains { $0.hasPrefix("mha|st|") } && !plan.contains { $0.hasPrefix("linear|kv|") })
    }
}
