import ExactArithmetic
import Foundation
import Testing
import Workloads
@testable import AttentionVariants

/// Drift physics of a bf16 recurrent state (DESIGN.md §7), nearest-even unless stated: an
/// undecayed state drifts as √t, a decayed one saturates, stochastic rounding removes the
/// stagnation of a biased stream. CI runs 8k tokens; ATTNPREC_LONG=1 runs the 64k.
@Suite struct LinearPhysicsTests {
    static let long = ProcessInfo.processInfo.environment["ATTNPREC_LONG"] == "1"

    /// Output relative error at every position of a bf16-state run against the exact one.
    static func outputErrors(_ cfg: LinearAttentionConfig, recipe: String, tokens: Int) throws -> [Double] {
        let ref = LinearAttentionDecode(config: cfg, backend: Float64Backend())
        let emu = LinearAttentionDecode(config: cfg, backend: Float64Backend(), recipe: try Recipe.parse(recipe))
        let s = Lockstep.run(reference: ref, approximation: emu, tokens: tokens, comparison: .double, stateAt: { _ in false })
        #expect(s.nonFinite == 0)
        return s.outputRelativeError
    }

    /// Log–log slope of the error over positions [lo, hi], on means over 24 log-spaced bins
    /// (per-position errors are noisy; bin means are not).
    static func slope(_ e: [Double], from lo: Int, to hi: Int) -> Double {
        var xs: [Double] = [], ys: [Double] = []
        let bins = 24, l0 = log(Double(lo)), l1 = log(Double(hi))
        for b in 0..<bins {
            let a = Int(exp(l0 + (l1 - l0) * Double(b) / Double(bins))), z = Int(exp(l0 + (l1 - l0) * Double(b + 1) / Double(bins)))
            let r = a..<Swift.max(z, a + 1)
            let m = r.map { e[$0 - 1] }.reduce(0, +) / Double(r.count)
            xs.append(log(Double(a + r.count / 2))); ys.append(log(m))
        }
        let mx = xs.reduce(0, +) / Double(bins), my = ys.reduce(0, +) / Double(bins)
        var sxy = 0.0, sxx = 0.0
        for i in 0..<bins { sxy += (xs[i] - mx) * (ys[i] - my); sxx += (xs[i] - mx) * (xs[i] - mx) }
        return sxy / sxx
    }

    static func tailMean(_ e: [Double], at t: Int) -> Double {
        let w = Swift.max(1, Swift.min(64, t / 16))
        return e[(t - w)..<t].reduce(0, +) / Double(w)
    }

    @Test func undecayedBF16StateGrowsAsSquareRoot() throws {
        let T = Self.long ? 65536 : 8192, lo = Self.long ? 1024 : 256
        let e = try Self.outputErrors(LinearAttentionConfig(keyDim: 32, valueDim: 32), recipe: "state=bfloat16", tokens: T)
        let p = Self.slope(e, from: lo, to: T)
        print("physics: linear, bf16 state, no decay: slope \(p) over [\(lo), \(T)], error(\(T)) = \(Self.tailMean(e, at: T))")
        #expect(abs(p - 0.5) < 0.15, "slope \(p)")
    }

    @Test func decayedBF16StateSaturates() throws {
        let T = Self.long ? 65536 : 4096
        let e = try Self.outputErrors(LinearAttentionConfig(keyDim: 32, valueDim: 32, gates: .constant(0.99)), recipe: "state=bfloat16", tokens: T)
        let p = Self.slope(e, from: T / 8, to: T)  // the window is 1/(1 − α) = 100 tokens
        print("physics: linear α=0.99, bf16 state: slope \(p) over [\(T / 8), \(T)], error(\(T)) = \(Self.tailMean(e, at: T))")
        #expect(p < 0.15, "slope \(p)")
    }

    /// Positive (biased) updates: round-to-nearest stops adding once an update is below half an
    /// ulp of the state (error → O(1)); stochastic rounding keeps the sum unbiased.
    @Test func stochasticRoundingRemovesStagnation() throws {
        let T = Self.long ? 32768 : 8192
        let cfg = LinearAttentionConfig(keyDim: 16, valueDim: 16, distribution: .gaussian(mean: 1, std: 1))
        let nearest = try Self.outputErrors(cfg, recipe: "state=bfloat16", tokens: T)
        let stochastic = try Self.outputErrors(cfg, recipe: "state=bfloat16/stochastic", tokens: T)
        let n = Self.tailMean(nearest, at: T), s = Self.tailMean(stochastic, at: T)
        print("physics: biased stream at \(T): nearest \(n), stochastic \(s); slopes \(Self.slope(nearest, from: T / 64, to: T)), \(Self.slope(stochastic, from: T / 64, to: T))")
        #expect(n > 0.3, "nearest \(n)")
        #expect(s < 0.05 && s < n / 10, "stochastic \(s)")
    }

    /// The same three laws hold for the chunked form when the state is rounded at chunk
    /// boundaries only: √C fewer roundings, and no stagnation below the chunk's sum.
    @Test func chunkedBoundaryRoundingDriftsLess() throws {
        let T = 4096
        let cfg = GatedLinearConfig(kind: .linear, keyDim: 32, valueDim: 32)
        func err(_ form: String) throws -> Double {
            let ref = try GatedLinearDefinition.makeRun(config: cfg, form: "recurrent", tier: .float64)
            let emu = try GatedLinearDefinition.makeRun(config: cfg, form: form, tier: .float64, recipe: try Recipe.parse("state=bfloat16"))
            let s = Lockstep.run(reference: ref, approximation: emu, tokens: T, comparison: .double, stateAt: { _ in false })
            return Self.tailMean(s.outputRelativeError, at: T)
        }
        let every = try err("recurrent"), chunked = try err("chunked")
        print("physics: bf16 state every token \(every), every 64-token chunk \(chunked), ratio \(every / chunked) (√64 = 8)")
        #expect(every / chunked > 4 && every / chunked < 16)
    }
}
