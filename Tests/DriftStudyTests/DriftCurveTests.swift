import Foundation
import ExactArithmetic
import NumberFormats
import Testing
@testable import AttentionVariants
@testable import DriftStudy

/// `DriftCurve` and `DriftComparator`: summaries of a series, and the physics of drift.
@Suite struct DriftCurveTests {
    /// The first physics check: a bf16 state rounded every step, no decay, zero-mean updates,
    /// drifts as κ·u·√(t/2) (DESIGN.md §7), within a factor 2 at t = 4096.
    @Test func bf16StateFollowsSquareRootLaw() throws {
        let T = 4096
        let cfg = LinearAttentionConfig(keyDim: 64, valueDim: 64)
        let ref = LinearAttentionDecode(config: cfg, backend: Float64Backend())
        let emu = LinearAttentionDecode(config: cfg, backend: Float64Backend(), recipe: try Recipe.parse("state=bfloat16"))
        let curve = DriftComparator.compare(reference: ref, emulated: emu, tokens: T)
        let predicted = DriftTheory.undecayedRelativeRMS(unitRoundoff: 0x1p-8, t: T)
        let measured = curve.stateError(at: T)
        let ratio = measured / predicted
        print("physics check: state_rel_err(4096) = \(measured), κu√(t/2) = \(predicted), ratio = \(ratio)")
        #expect(ratio > 0.5 && ratio < 2, "ratio \(ratio)")
        let out = curve.outputError(at: T) / predicted
        #expect(out > 0.5 && out < 2, "output ratio \(out)")
        let slope = try #require(curve.stateSlope())
        #expect(abs(slope.slope - 0.5) < 0.1, "slope \(slope.slope)")
    }

    @Test func decayedStateSaturates() throws {
        let T = 4096, a = 0.99
        let cfg = LinearAttentionConfig(keyDim: 32, valueDim: 32, gates: .constant(a))
        let ref = LinearAttentionDecode(config: cfg, backend: Float64Backend())
        let emu = LinearAttentionDecode(config: cfg, backend: Float64Backend(), recipe: try Recipe.parse("state=bfloat16"))
        let curve = DriftComparator.compare(reference: ref, emulated: emu, tokens: T)
        let late = curve.stateError(at: T), mid = curve.stateError(at: T / 2)
        #expect(abs(late / mid - 1) < 0.3, "saturated: \(mid) → \(late)")
        let predicted = DriftTheory.decayedSaturation(unitRoundoff: 0x1p-8, decay: a)
        #expect(late / predicted > 0.3 && late / predicted < 3, "\(late) vs \(predicted)")
    }

    @Test func lockstepOfIdenticalRunsIsZero() {
        let cfg = LinearAttentionConfig(keyDim: 16, valueDim: 16)
        let a = LinearAttentionDecode(config: cfg, backend: Float64Backend())
        let b = LinearAttentionDecode(config: cfg, backend: Float64Backend())
        let c = DriftComparator.compare(reference: a, emulated: b, tokens: 100)
        #expect(c.series.outputRelativeError.allSatisfy { $0 == 0 })
        #expect(c.series.positions == Array(0..<100))
        #expect(c.firstCrossing(1e-3) == nil)
    }

    /// Summaries from a synthetic series: error at T is the tail mean, crossings are the first.
    @Test func tailMeanAndCrossings() {
        var series = LockstepSeries()
        series.positions = Array(0..<1024)
        series.outputRelativeError = series.positions.map { (p: Int) -> Double in 1e-4 * Double(p + 1).squareRoot() }
        let c = DriftCurve(tokens: 1024, series: series)
        var expected = 0.0
        for p in 960..<1024 { expected += 1e-4 * Double(p + 1).squareRoot() / 64 }
        let measured = c.outputError(at: 1024)
        #expect(abs(measured - expected) < 1e-15)
        #expect(c.firstCrossing(1e-3) == 100)
    }
}
