import ExactArithmetic
import Foundation
import NumberFormats
import Testing
import Workloads
@testable import AttentionVariants

func runOutputs(_ run: SteppedRun, tokens: Int) -> [[Double]] {
    var buf = [Double](repeating: 0, count: run.outputCount)
    return (0..<tokens).map { _ in
        run.step()
        buf.withUnsafeMutableBufferPointer { run.readOutput(into: $0) }
        return buf
    }
}

/// MLA's prefill form (the cached latent decompressed per head, FlashAttention-2's blocked
/// update): the absorbed decode's function, from the same stored caches.
@Suite struct MLAPrefillTests {
    /// Binary64, three chunks, two heads: every position's output equals the absorbed decode's
    /// to 1e−12 — exact caches, and a bf16 / e4m3 cache (both forms read the same stored rows).
    @Test(arguments: ["", "latent=bfloat16,rope_cache=bfloat16", MLAConfig.flashMLAFP8])
    func prefillIsTheAbsorbedDecode(recipe: String) throws {
        let cfg = MLAConfig(heads: 2, evaluation: .every), T = 150
        let r = try Recipe.parse(recipe)
        let decode = runOutputs(try MLADecode(config: cfg, backend: Float64Backend(), recipe: r), tokens: T)
        let prefill = runOutputs(try MLAPrefill(config: cfg, backend: Float64Backend(), recipe: r), tokens: T)
        for t in [0, 1, 63, 64, 100, 127, 128, 149] {
            #expect(relativeDistance(prefill[t], decode[t]) < 1e-12, "\(recipe) t \(t): \(relativeDistance(prefill[t], decode[t]))")
        }
        // The stored cache moves the output: the recipe is not ignored.
        if !recipe.isEmpty {
            let exact = runOutputs(try MLAPrefill(config: cfg, backend: Float64Backend()), tokens: T)
            #expect(relativeDistance(prefill[T - 1], exact[T - 1]) > 1e-4)
        }
    }

    @Test func float64AgreesWithMPFR() throws {
        let cfg = MLAConfig(heads: 1, rope: false, evaluation: .every)
        let f64 = try MLAPrefill(config: cfg, backend: Float64Backend())
        let mp = try MLAPrefill(config: cfg, backend: MPFRBackend(precision: 128))
        let s = Lockstep.run(reference: mp, approximation: f64, tokens: 130, comparison: .exact, outputAt: { _ in true })
        #expect(s.outputMaxRelative < 1e-12, "\(s.outputMaxRelative)")
        #expect(s.nonFinite == 0)
    }

    /// Binary32 with FlashMLA's fp8 cache: the prefill's error is the decode's (the cache
    /// dominates; only the summation order differs), within 10%.
    @Test func float32ErrorIsTheDecodes() throws {
        let cfg = MLAConfig(heads: 2, evaluation: .every), T = 512
        let r = try Recipe.parse(MLAConfig.flashMLAFP8)
        func error(_ make: (BackendTier, Recipe) throws -> SteppedRun) throws -> Double {
            let ref = runOutputs(try make(.float64, .exact), tokens: T), emu = runOutputs(try make(.float32, r), tokens: T)
            let tail = (T - 64)..<T
            return tail.map { relativeDistance(emu[$0], ref[$0]) }.reduce(0, +) / Double(tail.count)
        }
        let decode = try error { try MLADefinition.makeRun(cfg, tier: $0, recipe: $1) }
        let prefill = try error { try MLADefinition.makeRun(cfg, form: "chunked", tier: $0, recipe: $1) }
        #expect(prefill > 1e-3 && abs(prefill / decode - 1) < 0.1, "prefill \(prefill) decode \(decode)")
    }

    @Test func theChunkedFormIsDeclared() throws {
        #expect(MLADefinition().forms == ["recurrent", "chunked"])
        #expect(throws: VariantError.self) { try DSADefinition().check(form: "chunked") }
    }
}
