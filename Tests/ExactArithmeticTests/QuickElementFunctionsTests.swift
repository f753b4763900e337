import Foundation
import Testing
@testable import ExactArithmetic

/// The first stage of exp and sigmoid (`FastElementFunctions64+Quick`, ε = 2^−62): decided
/// values are the correctly rounded ones — against the double-double stage on a million random
/// inputs, against MPFR on inputs within 2^−56 of a rounding boundary — and it decides nearly
/// every ordinary input (else it would be dead weight).
@Suite struct QuickElementFunctionsTests {
    static func first(_ f: ElementFunction, _ x: Double, scale: Double = 1) -> Double? {
        f == .exp ? FastElementFunctions64.expFirst(x, scale) : FastElementFunctions64.sigmoidFirst(x, scale)
    }

    static func second(_ f: ElementFunction, _ x: Double) -> Double? {
        f == .exp ? FastElementFunctions64.exp(x, 1) : FastElementFunctions64.sigmoid(x, 1)
    }

    @Test(arguments: [ElementFunction.exp, .sigmoid])
    func decidedValuesAreTheSecondStagesBits(f: ElementFunction) {
        var rng = SplitMix(seed: 31 &+ (f == .exp ? 0 : 1))
        var compared = 0, undecided = 0
        for i in 0..<1_000_000 {
            let x = i % 2 == 0 ? rng.normal() * 6 : (rng.uniform() - 0.5) * 1490
            guard let a = Self.first(f, x) else { undecided += 1; continue }
            guard let b = Self.second(f, x) else { continue }
            compared += 1
            if a.bitPattern != b.bitPattern { Issue.record("\(f)(\(x.bitPattern.hex)): first \(a) vs second \(b)"); return }
        }
        #expect(compared > 950_000, "\(f): \(compared) compared, \(undecided) undecided")
    }

    @Test(arguments: [ElementFunction.exp, .sigmoid])
    func nearBoundaryInputsMatchMPFR(f: ElementFunction) {
        let ref = FastElementFunctions64Tests.Reference()
        var rng = SplitMix(seed: 77 &+ (f == .exp ? 0 : 1))
        var near: [Double] = [], tries = 0
        while near.count < 400 && tries < 1_000_000 {
            tries += 1
            let x = (rng.uniform() - 0.5) * 80
            if Self.first(f, x) != nil && Self.first(f, x, scale: 0x1p6) == nil { near.append(x) }
        }
        #expect(near.count == 400, "\(f): \(near.count) near-boundary inputs in \(tries) tries")
        for x in near {
            let a = Self.first(f, x)!, exact = ref.double(f, x)
            #expect(a.bitPattern == exact.bitPattern, "\(f)(\(x.bitPattern.hex)): first \(a) vs MPFR \(exact)")
        }
    }

    /// On the study's gate arguments the first stage decides more than 99% of the calls.
    @Test(arguments: [ElementFunction.exp, .sigmoid])
    func firstStageDecidesOrdinaryInputs(f: ElementFunction) {
        var rng = SplitMix(seed: 5)
        let n = 100_000
        let undecided = (0..<n).filter { _ in Self.first(f, rng.normal() * 4 - 2) == nil }.count
        #expect(undecided * 100 < n, "\(f): \(undecided) undecided of \(n)")
    }

    /// The eight-lane stage (`QuickElementFunctions8`) gives the scalar first stage's bits on
    /// every lane it decides, and decides every lane the scalar stage does (|x| < 690, where
    /// the result needs no scaling beyond 2^±1000), on random and special inputs.
    @Test(arguments: [ElementFunction.exp, .sigmoid])
    func eightLanesAreTheScalarStage(f: ElementFunction) {
        var rng = SplitMix(seed: 5 &+ (f == .exp ? 0 : 1))
        let specials: [Double] = [0, -0.0, .nan, .infinity, -.infinity, 40, 39.99999, -746, -746.0001, 746, 690, -690, 1e-300, -1e-300,
                                  .leastNonzeroMagnitude, 700, -745.2, 0x1p-60, -0x1p-60, 1000, -1000, .greatestFiniteMagnitude]
        var mismatches = 0, missed = 0
        for i in 0..<200_000 {
            var x = SIMD8<Double>()
            for l in 0..<8 {
                let n = i * 8 + l
                x[l] = n < specials.count ? specials[n] : (n % 3 == 0 ? rng.normal() * 6 : (rng.uniform() - 0.5) * 1500)
            }
            let (v, decided) = f == .exp ? QuickElementFunctions8.exp(x) : QuickElementFunctions8.sigmoid(x)
            for l in 0..<8 {
                let scalar = Self.first(f, x[l])
                if decided[l] {
                    if scalar?.bitPattern != v[l].bitPattern { mismatches += 1 }
                } else if scalar != nil && abs(x[l]) < 690 {
                    missed += 1
                }
            }
        }
        #expect(mismatches == 0 && missed == 0, "\(f): \(mismatches) decided lanes differ from the scalar stage, \(missed) lanes it decides left undecided")
    }

}
