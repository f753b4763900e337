import CMPFR
import Foundation
import Testing
@testable import ExactArithmetic

/// Resident set size in bytes, from /proc/self/statm.
func residentBytes() -> Int {
    guard let s = try? String(contentsOfFile: "/proc/self/statm", encoding: .utf8) else { return 0 }
    let fields = s.split(separator: " ")
    return (Int(fields[1]) ?? 0) * 4096
}

@Suite struct MPFRWrapperTests {
    @Test func noLeakOverAMillionNumbers() {
        func churn(_ n: Int) {
            for i in 0..<n {
                var x = MPFRNumber(precision: 128, Double(i))
                let y = MPFRNumber(precision: 128, 0.5)
                x.formProduct(y)
                precondition(x.doubleValue == Double(i) * 0.5)
            }
        }
        churn(100_000)  // warm up the allocator
        // 10^6 leaked numbers would be > 48 MB (16-byte limbs + 32-byte headers) in every trial;
        // the process's RSS also moves with tests running beside this one, so the smallest
        // growth of three trials counts.
        var growth = Int.max
        for _ in 0..<3 where growth >= 4 << 20 {
            let before = residentBytes()
            churn(1_000_000)
            growth = min(growth, residentBytes() - before)
        }
        #expect(growth < 4 << 20, "RSS grew by \(growth) bytes")
    }

    @Test func arenaFreesOnce() {
        let before = residentBytes()
        for _ in 0..<2000 { _ = MPFRArray(count: 1000, precision: 256) }
        #expect(residentBytes() - before < 8 << 20)
    }

    @Test func precisionHonoured() {
        for p in [24, 53, 100, 128, 256, 1000] {
            var third = MPFRNumber(precision: p, 1)
            third.formQuotient(MPFRNumber(precision: p, 3))
            #expect(third.precision == p)
            // |1/3 − third| ≤ 2^−(p+2) (half an ulp, ulp = 2^−(p+1) for 1/3 ∈ [1/4, 1/2)).
            let exact = MPFRNumber(precision: 4 * p + 64, 1)
            _ = mpfr_div_ui(exact.pointer, exact.pointer, 3, MPFR_RNDN)
            let d = MPFRNumber(precision: 4 * p + 64)
            _ = mpfr_sub(d.pointer, exact.pointer, third.pointer, MPFR_RNDN)
            _ = mpfr_abs(d.pointer, d.pointer, MPFR_RNDN)
            _ = mpfr_mul_2si(d.pointer, d.pointer, p + 2, MPFR_RNDN)
            #expect(mpfr_cmp_ui(d.pointer, 1) <= 0)
            #expect(mpfr_cmp_ui(d.pointer, 0) > 0, "1/3 is not exact at any precision")
        }
    }

    @Test func exponentRangeRestored() throws {
        let before = MPFR.exponentRange
        let inside = MPFR.withExponentRange(emin: -148, emax: 128) { MPFR.exponentRange }
        #expect(inside.emin == -148 && inside.emax == 128)
        #expect(MPFR.exponentRange == before)
        struct Boom: Error {}
        #expect(throws: Boom.self) { try MPFR.withExponentRange(emin: -10, emax: 10) { throw Boom() } }
        #expect(MPFR.exponentRange == before)
    }

    @Test func sameMPFRAsTargetAndSource() {
        let a = MPFRArray(count: 2, precision: 128)
        a.set(0, 3)
        a.fma(0, 0, 0, 0)  // x ← x·x + x
        #expect(a.double(0) == 12)
        var x = MPFRNumber(precision: 64, 2)
        _ = mpfr_fma(x.pointer, x.pointer, x.pointer, x.pointer, MPFR_RNDN)
        #expect(x.doubleValue == 6)
        x.apply(.sqrt)
        #expect(abs(x.doubleValue - 6.0.squareRoot()) < 1e-15)
    }
}

@Suite struct MPFRFunctionTests {
    /// f at 256 bits vs f at p bits: the p-bit result must be the 256-bit one rounded to p.
    @Test(arguments: ElementFunction.allCases)
    func correctlyRoundedAtLowPrecision(_ f: ElementFunction) {
        var rng = SplitMix(seed: 7)
        let ws = MPFRWorkspace()
        let lo = MPFRNumber(precision: 53), hi = MPFRNumber(precision: 400), x = MPFRNumber(precision: 53)
        let hiRounded = MPFRNumber(precision: 53)
        for _ in 0..<300 {
            var v = rng.uniform() * 40 - 20
            if [.log, .sqrt, .rsqrt].contains(f) { v = abs(v) + 1e-3 }
            if f == .log1p { v = max(v, -0.999) }
            _ = mpfr_set_d(x.pointer, v, MPFR_RNDN)
            MPFRFunctions.evaluate(f, lo.pointer, x.pointer, workspace: ws)
            MPFRFunctions.evaluate(f, hi.pointer, x.pointer, workspace: ws)
            _ = mpfr_set(hiRounded.pointer, hi.pointer, MPFR_RNDN)
            #expect(mpfr_equal_p(lo.pointer, hiRounded.pointer) != 0, "\(f)(\(v))")
        }
    }

    @Test func compoundEdgeCases() {
        let ws = MPFRWorkspace()
        let r = MPFRNumber(precision: 128), x = MPFRNumber(precision: 128)
        func eval(_ f: ElementFunction, _ v: Double) -> Double {
            _ = mpfr_set_d(x.pointer, v, MPFR_RNDN)
            MPFRFunctions.evaluate(f, r.pointer, x.pointer, workspace: ws)
            return mpfr_get_d(r.pointer, MPFR_RNDN)
        }
        #expect(eval(.sigmoid, 0) == 0.5)
        #expect(eval(.sigmoid, 1e6) == 1)
        #expect(eval(.sigmoid, -700) > 0 && abs(eval(.sigmoid, -700) / exp(-700) - 1) < 1e-15)
        #expect(eval(.softplus, -700) > 0)
        #expect(eval(.softplus, 1000) == 1000)
        #expect(eval(.logsigmoid, .infinity) == 0)
        #expect(eval(.silu, 0) == 0)
        #expect(eval(.sigmoid, .nan).isNaN)
        #expect(abs(eval(.softplus, 0) - M_LN2) < 1e-16)
        #expect(eval(.elu, 2) == 2)
        #expect(abs(eval(.elu, -1) - expm1(-1)) < 1e-16)
    }
}

/// A tiny deterministic generator for test inputs.
struct SplitMix {
    var state: UInt64
    init(seed: UInt64) { state = seed }
    mutating func next() -> UInt64 {
        state &+= 0x9E37_79B9_7F4A_7C15
        var z = state
        z = (z ^ (z >> 30)) &* 0xBF58_476D_1CE4_E5B9
        z = (z ^ (z >> 27)) &* 0x94D0_49BB_1331_11EB
        return z ^ (z >> 31)
    }
    mutating func uniform() -> Double { Double(next() >> 11) * 0x1p-53 }
    mutating func normal() -> Double {
        let u1 = uniform() + 0x1p-60, u2 = uniform()
        return (-2 * Foundation.log(u1)).squareRoot() * cos(2 * .pi * u2)
    }
}
