import Foundation
import Testing
@testable import DriftStudy

/// `SlopeFit.logLog`: known exponents recovered, too few points refused.
@Suite struct SlopeFitTests {
    /// Curves with known exponents: the fit recovers the slope, the CI covers it.
    @Test(arguments: [0.5, 0.0, 1.0, -0.25])
    func slopeOfAPowerLaw(p: Double) throws {
        var xs: [Double] = [], ys: [Double] = []
        for i in 0..<200 {
            let x = pow(2.0, 6 + Double(i) / 20)
            xs.append(x)
            ys.append(3e-4 * pow(x, p) * (1 + 0.05 * sin(Double(i) * 1.7)))
        }
        let f = try #require(SlopeFit.logLog(x: xs, y: ys))
        let close = abs(f.slope - p) < 0.01
        let covered = f.slopeLow <= p && p <= f.slopeHigh
        #expect(close && covered, "\(f)")
    }

    @Test func slopeFitRecoversPowerLaws() throws {
        let x = (1...200).map { Double($0) }
        for p in [0.5, 1.0, -0.25] {
            let y = x.map { 3e-4 * pow($0, p) * (1 + 0.01 * sin($0)) }
            let f = try #require(SlopeFit.logLog(x: x, y: y))
            #expect(abs(f.slope - p) < 0.01)
            #expect(f.slopeLow <= f.slope && f.slope <= f.slopeHigh)
        }
        #expect(SlopeFit.logLog(x: [1, 2], y: [1, 2]) == nil)
    }
}
