import CMPFR
import Testing
@testable import ExactArithmetic

/// `apply` on binary32 and binary64 rounds elementwise functions correctly also when the
/// result is subnormal (the MPFR fallback used to round to 24/53 bits and then to the format,
/// twice), against an independent reference: the value at 256 bits rounded once onto the
/// format's grid.
@Suite struct SubnormalRoundingTests {
    /// f(x) at 256 bits, rounded once to nearest-even onto the grid of a format with `bits`
    /// significand bits and least subnormal 2^le.
    static func reference(_ f: ElementFunction, _ x: Double, bits: Int, le: Int) -> Double {
        let v = MPFRNumber(precision: 256), inp = MPFRNumber(precision: 64)
        _ = attnprec_mpfr_set_d(inp.pointer, x, MPFR_RNDN)
        MPFRFunctions.evaluate(f, v.pointer, inp.pointer)
        if attnprec_mpfr_zero_p(v.pointer) != 0 || attnprec_mpfr_nan_p(v.pointer) != 0 || attnprec_mpfr_inf_p(v.pointer) != 0 {
            return mpfr_get_d(v.pointer, MPFR_RNDN)
        }
        if Int(attnprec_mpfr_get_exp(v.pointer)) - le > bits {
            _ = mpfr_prec_round(v.pointer, mpfr_prec_t(bits), MPFR_RNDN)
        } else {
            // Subnormal range: scale to units of 2^le, round to an integer, scale back.
            _ = mpfr_mul_2si(v.pointer, v.pointer, -le, MPFR_RNDN)
            _ = mpfr_rint(v.pointer, v.pointer, MPFR_RNDN)
            _ = mpfr_mul_2si(v.pointer, v.pointer, le, MPFR_RNDN)
        }
        return mpfr_get_d(v.pointer, MPFR_RNDN)
    }

    /// The former path: f at `bits`, then converted to the format.
    static func twice(_ f: ElementFunction, _ x: Double, bits: Int, float: Bool) -> Double {
        let v = MPFRNumber(precision: bits), inp = MPFRNumber(precision: 64)
        _ = attnprec_mpfr_set_d(inp.pointer, x, MPFR_RNDN)
        MPFRFunctions.evaluate(f, v.pointer, inp.pointer)
        return float ? Double(mpfr_get_flt(v.pointer, MPFR_RNDN)) : mpfr_get_d(v.pointer, MPFR_RNDN)
    }

    static func same(_ a: Double, _ b: Double) -> Bool { a.bitPattern == b.bitPattern || (a.isNaN && b.isNaN) }

    /// Inputs whose results fall in (and around) the subnormal range of the format.
    static func inputs(_ f: ElementFunction, float: Bool, count: Int) -> [Double] {
        var rng = SplitMix(seed: float ? 21 : 22)
        let (lo, hi): (Double, Double)
        switch (f, float) {
        case (.exp, true): (lo, hi) = (-104.5, -86)
        case (.exp, false): (lo, hi) = (-746, -707)
        case (.sigmoid, true), (.softplus, true): (lo, hi) = (-104.5, -86)
        case (.sigmoid, _), (.softplus, _): (lo, hi) = (-746, -707)
        case (.logsigmoid, true): (lo, hi) = (86, 104.5)
        default: (lo, hi) = (707, 746)
        }
        return (0..<count).map { _ in
            let x = lo + (hi - lo) * rng.uniform()
            return float ? Double(Float(x)) : x
        }
    }

    @Test(arguments: [ElementFunction.exp, .sigmoid, .softplus, .logsigmoid])
    func binary32(f: ElementFunction) {
        let b = Float32Backend()
        let xs = Self.inputs(f, float: true, count: 4_000)
        let t = b.allocate(rows: 1, cols: xs.count), o = b.allocate(rows: 1, cols: xs.count)
        let tb = b.buffer(t)
        for (i, x) in xs.enumerated() { tb[i] = Float(x) }
        b.apply(f, o, t)
        let got = b.buffer(o)
        var wrong: [Double] = [], doubleRounded = 0
        for (i, x) in xs.enumerated() {
            let want = Self.reference(f, x, bits: 24, le: -149)
            if !Self.same(Double(got[i]), want) { wrong.append(x) }
            if !Self.same(Self.twice(f, x, bits: 24, float: true), want) { doubleRounded += 1 }
        }
        #expect(wrong.isEmpty, "\(f): \(wrong.count) wrong, e.g. \(wrong.prefix(3))")
        if f == .exp { #expect(doubleRounded > 0, "the sample should contain cases the former path rounded twice") }
    }

    @Test(arguments: [ElementFunction.exp, .sigmoid, .softplus, .logsigmoid])
    func binary64(f: ElementFunction) {
        let b = Float64Backend()
        let xs = Self.inputs(f, float: false, count: 4_000)
        let t = b.allocate(rows: 1, cols: xs.count), o = b.allocate(rows: 1, cols: xs.count)
        b.load(t, xs)
        b.apply(f, o, t)
        let got = b.read(o)
        var wrong: [Double] = [], doubleRounded = 0
        for (i, x) in xs.enumerated() {
            let want = Self.reference(f, x, bits: 53, le: -1074)
            if !Self.same(got[i], want) { wrong.append(x) }
            if !Self.same(Self.twice(f, x, bits: 53, float: false), want) { doubleRounded += 1 }
        }
        #expect(wrong.isEmpty, "\(f): \(wrong.count) wrong, e.g. \(wrong.prefix(3))")
        if f == .exp { #expect(doubleRounded > 0, "the sample should contain cases the former path rounded twice") }
    }
}
