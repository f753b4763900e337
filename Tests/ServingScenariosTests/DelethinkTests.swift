import AttentionVariants
import Foundation
import Testing
@testable import DriftStudy
@testable import ServingScenarios

/// Delethink: the chunk-tail selection matches a cache that is really cut at every boundary;
/// a tail as long as the context is full attention; a shorter one is not; bad input.
@Suite struct DelethinkTests {
    static func config(tokens: String = "[64, 256]", chunks: String = "[32]", tails: String = "[16]", extra: String = "",
                       recipes: String = "[{name: bf16, store: bfloat16}]") throws -> ScenarioConfig {
        try ScenarioConfig.parse("""
        scenario: delethink
        tokens: \(tokens)
        chunks: \(chunks)
        tails: \(tails)
        variants: [{name: mha, head_dim: 16}]
        recipes: \(recipes)
        \(extra)
        """, file: "d.yaml", defaultName: "d")
    }

    /// A cache simulated entry by entry: append, and at every boundary keep the sinks and the last m.
    @Test(arguments: [(8, 3, 0), (8, 8, 0), (8, 20, 2), (5, 1, 4), (16, 100, 1)])
    func selectionMatchesACacheCutAtEveryBoundary(_ L: Int, _ m: Int, _ s: Int) throws {
        let sel = try ChunkTailSelector(chunk: L, tail: m, sinks: s)
        var cache: [Int] = [], keys: [Int] = [], peak = 0
        for t in 0..<90 {
            if t > 0 && t % L == 0 {
                let sinks = cache.filter { $0 < s }
                let tail = Array(cache.suffix(m))
                cache = Array(Set(sinks + tail)).sorted()
            }
            cache.append(t)
            peak = max(peak, cache.count)
            sel.select(position: t, kvHead: 0, into: &keys)
            #expect(keys == cache, "L=\(L) m=\(m) s=\(s) t=\(t)")
            #expect(sel.cachedEntries(position: t) == cache.count)
            #expect(sel.peakEntries(through: t) == peak, "t=\(t)")
        }
    }

    @Test func aTailAsLongAsTheContextIsFullAttention() throws {
        let c = try Self.config(tails: "[256]")
        let memo = Delethink.Memo()
        let exact = try Delethink.run(variant: c.variants[0], recipeName: TaskRunner.exactName, spec: nil, chunk: 32, tail: 256, seed: 3, config: c, memo: memo)
        let e = try #require(exact.series["truncation_exact_err"])
        #expect(!e.isEmpty && e.allSatisfy { $0 <= 1e-12 }, "\(e.max()!)")
        #expect(exact.summary["dropped_mass_at_256"] == 0)
        let low = try Delethink.run(variant: c.variants[0], recipeName: "bf16", spec: c.recipes[0], chunk: 32, tail: 256, seed: 3, config: c, memo: memo)
        #expect(try #require(low.series["truncation_err"]).allSatisfy { $0 <= 1e-12 })
        // The storage error is then full attention's.
        let st = try #require(low.series["storage_err"]), full = try #require(low.series["full_storage_err"])
        #expect(st == full && st.max()! > 1e-5 && st.max()! < 0.05)
    }

    /// A cache format that overflows to NaN: the Delethink run's and full attention's stores
    /// are counted at every position (the keys no sampled position reads included).
    @Test func nonFiniteStoresAreCounted() throws {
        let c = try Self.config(recipes: #"[{name: nan, store: "float8_e4m3fn/per-token/fixed:0.001/ieee"}]"#)
        let r = try Delethink.run(variant: c.variants[0], recipeName: "nan", spec: c.recipes[0], chunk: 32, tail: 16, seed: 3, config: c, memo: Delethink.Memo())
        // Both runs store all 256 tokens' keys and values (16 channels each).
        let n = try #require(r.summary["non_finite_stored"])
        #expect(n > 256 * 16 && n <= 2 * 2 * 256 * 16)
        #expect(r.summary["first_non_finite"] == 0)
        let ok = try Delethink.run(variant: c.variants[0], recipeName: "bf16", spec: try Self.config().recipes[0], chunk: 32, tail: 16, seed: 3, config: c, memo: Delethink.Memo())
        #expect(ok.summary["non_finite_stored"] == nil && ok.summary["first_non_finite"] == nil)
    }

    @Test func aShortTailDiffersAndTheEqualMemoryStateFits() throws {
        let c = try Self.config()
        let memo = Delethink.Memo()
        let r = try Delethink.run(variant: c.variants[0], recipeName: "bf16", spec: c.recipes[0], chunk: 32, tail: 16, seed: 3, config: c, memo: memo)
        let s = r.summary
        // Beyond the first chunk the run holds at most 16 + 32 of 256 keys.
        #expect(try #require(s["truncation_exact_err_at_256"]) > 1e-2)
        #expect(try #require(s["dropped_mass_at_256"]) > 0.5)
        #expect(try #require(s["storage_err_at_256"]) > 1e-5 && s["storage_err_at_256"]! < 0.05)
        // Peak: (16 + 32) entries × 2 × 16 channels × 2 bytes = 3,072 ≥ 39² × 2; full attention at 256: 256 entries.
        #expect(s["cache_bytes_peak"] == 48 * 64 && s["full_cache_bytes_at_256"] == 256 * 64)
        let n = try #require(s["equal_gated_deltanet_dim"]), bytes = try #require(s["equal_gated_deltanet_bytes"])
        #expect(n == 39 && bytes == 39 * 39 * 2 && bytes <= s["cache_bytes_peak"]!)
        #expect(try #require(s["equal_gated_deltanet_err_at_256"]) > 1e-5)
        // Position 31 (chunk 0) attends every key: no truncation there yet.
        let i = try #require(r.positions.firstIndex(of: 31))
        #expect(r.series["truncation_exact_err"]![i] <= 1e-12)
    }

    @Test(arguments: [
        ("chunks", "[0]", "d.yaml:3: chunks: expected chunk lengths L ≥ 1 token, got 0"),
        ("tails", "[0]", "d.yaml:4: tails: expected carried tails m ≥ 1 token, got 0"),
        ("tails", "[8, -1]", "d.yaml:4: tails: expected carried tails m ≥ 1 token, got -1"),
        ("chunks", "[]", "d.yaml:3: chunks: expected a non-empty list"),
    ])
    func badLengths(_ key: String, _ value: String, _ expected: String) {
        do {
            _ = key == "chunks" ? try Self.config(chunks: value) : try Self.config(tails: value)
            Issue.record("accepted \(key): \(value)")
        } catch {
            #expect("\(error)".hasPrefix(expected), "\(error)")
        }
    }

    @Test(arguments: [
        ("variants: [linear]", "variants: expected a softmax variant with full attention"),
        ("variants: [mhaa]", "variants: unknown variant 'mhaa'"),
        ("equal_memory: [mha]", "equal_memory: expected a recurrent variant"),
        ("equal_memory: [{name: gated_deltanet, key_dim: 8}]", "equal_memory: expected no key_dim"),
        ("recipes: [{name: x, roles: \"k_cache=bfloat16\"}]", "recipes: 'x': expected store: SPEC"),
        ("recipes: [{name: x, store: float8_e4m3fn/per-head}]", "recipes: 'x':"),
    ])
    func badVariantsAndRecipes(_ line: String, _ expected: String) {
        var text = "scenario: delethink\ntokens: [64]\nchunks: [16]\ntails: [8]\nvariants: [mha]\nrecipes: [bfloat16]\n"
        let key = String(line.prefix { $0 != ":" })
        text = text.split(separator: "\n").filter { !$0.hasPrefix(key + ":") }.joined(separator: "\n") + "\n" + line + "\n"
        do {
            _ = try ScenarioConfig.parse(text, file: "d.yaml", defaultName: "d")
            Issue.record("accepted \(line)")
        } catch {
            #expect("\(error)".hasPrefix("d.yaml:") && "\(error)".contains(expected), "\(error)")
            #expect(!"\(error)".contains("\n"))
        }
    }
}
