import AttentionVariants
import Foundation
import Testing
@testable import DriftStudy

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

    @Test func softmaxAndUnknownRolesAreRejected() {
        #expect(throws: StudyInputError.self) { try Self.config("[bfloat16]", variants: "[mha]") }
        do {
            _ = try Self.config(#"[{name: x, roles: "k_cache=bfloat16"}]"#)
            Issue.record("accepted k_cache for a recurrent variant")
        } catch {
            #expect("\(error)".hasPrefix("p.yaml:7: recipes: 'x' for variant 'gated_deltanet'"), "\(error)")
        }
    }
}
