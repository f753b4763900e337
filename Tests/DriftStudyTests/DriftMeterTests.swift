import Foundation
import Testing
@testable import DriftStudy

/// The online meter the study runner and `DriftCurve` share.
@Suite struct DriftMeterTests {
    /// Error at L: the mean over the last min(64, L/16) positions fed up to L, in feeding order.
    @Test func errorAtLengthsIsTheTailWindowMean() {
        var m = DriftMeter(lengths: [160, 2048])
        for t in 0..<2048 { m.add(t, Double(t), sampled: false) }
        #expect(DriftMeter.window(160) == 10 && DriftMeter.window(2048) == 64 && DriftMeter.window(8) == 1)
        #expect(m.error(at: 160) == Double((150..<160).reduce(0, +)) / 10)
        #expect(m.error(atIndex: 1) == Double((1984..<2048).reduce(0, +)) / 64)
        #expect(m.positions.isEmpty && m.maximum == 2047)
    }

    /// With nothing fed in a window, the last value before it stands (NaN when there is none).
    @Test func sparseCurvesFallBackToTheLastValue() {
        var m = DriftMeter(lengths: [100, 4096])
        m.add(0, 1e-3, sampled: true)
        #expect(m.error(at: 100) == 1e-3 && m.error(at: 4096) == 1e-3)
        #expect(DriftMeter(lengths: [64]).error(at: 64).isNaN)
        m.add(4000, 0x1p-8, sampled: true)
        m.add(4095, 0x3p-8, sampled: true)
        #expect(m.error(at: 4096) == 0x3p-8 && m.error(at: 100) == 1e-3)
        #expect(m.positions == [0, 4000, 4095] && m.sampledMean(from: 2048) == 0x2p-8 && m.sampledMean(from: 4096) == nil)
    }

    /// Crossings are the first position above each threshold; NaN crosses all and sticks in
    /// the maximum.
    @Test func crossingsAndMaximum() {
        var m = DriftMeter(lengths: [16], thresholds: [1e-3, 1e-2, 1e-1])
        for (t, e) in [(0, 1e-4), (1, 2e-3), (2, 1e-3), (3, 5e-2)] { m.add(t, e, sampled: false) }
        #expect(m.crossing == [1, 3, nil] && m.maximum == 5e-2)
        m.add(4, .nan, sampled: false)
        m.add(5, 1e-5, sampled: false)
        #expect(m.crossing == [1, 3, 4] && m.maximum.isNaN)
    }

    /// The slope is fitted over the sampled points in [T/64, T] only: a √t curve gives 1/2.
    @Test func slopeOverTheSampledPoints() throws {
        var m = DriftMeter(lengths: [4096])
        for t in 0..<4096 { m.add(t, 1e-4 * Double(t + 1).squareRoot(), sampled: (t + 1) & t == 0) }
        let s = try #require(m.slope(upTo: 4096))
        #expect(abs(s.slope - 0.5) < 1e-12 && s.points == 7)
        #expect(m.slope(upTo: 2) == nil)
    }
}
