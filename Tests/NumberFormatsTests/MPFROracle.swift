import CMPFR
import NumberFormats

/// What a conversion must produce for one input.
enum Expected: Equatable, CustomStringConvertible {
    /// Exactly this code.
    case code(UInt32)
    /// Any NaN code of the format whose sign bit is `negative` (IEEE-style formats have many).
    case nan(negative: Bool)

    var description: String {
        switch self {
        case .code(let c): return "0x" + String(c, radix: 16)
        case .nan(let n): return n ? "-NaN" : "+NaN"
        }
    }
}

/// The facts of a format, recomputed here from the descriptor's defining fields only
/// (widths, bias, special-value encoding, subnormals, sign) — never from the library's
/// derived properties, which the tests check against these.
struct OracleFormat: Sendable {
    let format: ElementFormat
    let e: Int
    let m: Int
    let bias: Int
    let signed: Bool
    let nanEncoding: ElementFormat.NaNEncoding
    let hasInfinity: Bool
    let subnormals: Bool
    let signBit: UInt32
    let minNormalExponent: Int
    /// Unbiased exponent and integer significand (in [2^m, 2^(m+1))) of the largest finite value.
    let topExponent: Int
    let maxSignificand: UInt64
    let maxMagnitudeCode: UInt32

    init(_ f: ElementFormat) {
        format = f
        e = f.exponentBits
        m = f.mantissaBits
        bias = f.bias
        signed = f.isSigned
        nanEncoding = f.nanEncoding
        hasInfinity = f.hasInfinity
        subnormals = f.hasSubnormals
        signBit = signed ? 1 << (e + m) : 0
        minNormalExponent = subnormals ? 1 - bias : -bias
        let allOnesField = (1 << e) - 1
        let topField: Int
        let topMantissa: Int
        switch nanEncoding {
        case .ieee:
            topField = allOnesField - 1
            topMantissa = (1 << m) - 1
        case .allOnes:
            precondition(m > 0)
            topField = allOnesField
            topMantissa = (1 << m) - 2
        case .negativeZero, .none:
            topField = allOnesField
            topMantissa = (1 << m) - 1
        case .allOnesUnsigned:
            precondition(m == 0)
            topField = allOnesField - 1
            topMantissa = 0
        }
        topExponent = topField - bias
        maxSignificand = UInt64((1 << m) + topMantissa)
        maxMagnitudeCode = UInt32(topField << m | topMantissa)
    }

    var isE8M0: Bool { nanEncoding == .allOnesUnsigned }
    var hasNaN: Bool { nanEncoding != .none }
    var hasNegativeZero: Bool { signed && nanEncoding != .negativeZero }
    var mantissaMask: UInt32 { (1 << m) - 1 }
    var magnitudeMask: UInt32 { (1 << (e + m)) - 1 }
    var infinityMagnitudeCode: UInt32 { UInt32((1 << e) - 1) << m }

    var maxFinite: Double { Double(maxSignificand) * pow2i(topExponent - m) }
    /// The first value past max finite on the unbounded-exponent grid (480 for E4M3FN).
    var firstBeyondMax: Double { maxFinite + pow2i(topExponent - m) }
    var minNormal: Double { pow2i(minNormalExponent) }
    var minSubnormal: Double? { subnormals && m > 0 ? pow2i(minNormalExponent - m) : nil }
    var minPositive: Double { minSubnormal ?? minNormal }

    func isNaNCode(_ c: UInt32) -> Bool {
        let mag = c & magnitudeMask
        switch nanEncoding {
        case .ieee: return mag >> m == UInt32((1 << e) - 1) && mag & mantissaMask != 0
        case .allOnes: return mag == magnitudeMask
        case .negativeZero: return c == signBit
        case .none: return false
        case .allOnesUnsigned: return c == magnitudeMask
        }
    }

    func isInfinityCode(_ c: UInt32) -> Bool { hasInfinity && c & magnitudeMask == infinityMagnitudeCode }

    func zeroCode(negative: Bool) -> UInt32 { negative && hasNegativeZero ? signBit : 0 }

    /// The value of a finite non-NaN code, by exact arithmetic on its fields.
    func value(ofCode c: UInt32) -> Double {
        let negative = signed && c & signBit != 0
        let field = Int((c & magnitudeMask) >> m)
        let mantissa = Int(c & mantissaMask)
        let v: Double
        if subnormals && field == 0 {
            v = Double(mantissa) * pow2i(minNormalExponent - m)
        } else {
            v = Double((1 << m) + mantissa) * pow2i(field - bias - m)
        }
        return negative ? -v : v
    }

    /// The result for a NaN input: the format's NaN, or for formats without NaN (fp6, fp4)
    /// the documented rule: the −0 code, whatever the NaN's sign.
    func nanResult(negative: Bool) -> Expected {
        switch nanEncoding {
        case .ieee, .allOnes: return .nan(negative: negative)
        case .negativeZero, .none: return .code(signBit)
        case .allOnesUnsigned: return .code(magnitudeMask)
        }
    }

    /// DESIGN.md §3's overflow rule, applied to a value (or an infinite input) that lies beyond
    /// max finite after rounding with an unbounded exponent range.
    func overflowResult(
        negative: Bool, mode: RoundingMode, policy: OverflowPolicy, infiniteInput: Bool
    ) -> Expected {
        if isE8M0 && negative { return nanResult(negative: true) }
        let maxCode = Expected.code((negative ? signBit : 0) | maxMagnitudeCode)
        if policy == .saturate { return maxCode }
        let towardInfinity: Bool
        switch mode {
        case _ where infiniteInput: towardInfinity = true
        case .nearestEven, .nearestAway, .stochastic: towardInfinity = true
        case .up: towardInfinity = !negative
        case .down: towardInfinity = negative
        case .towardZero, .toOdd: towardInfinity = false
        }
        if !towardInfinity { return maxCode }
        if hasInfinity { return .code((negative ? signBit : 0) | infinityMagnitudeCode) }
        if hasNaN { return nanResult(negative: negative) }
        return maxCode
    }

    func matches(_ code: UInt32, _ expected: Expected) -> Bool {
        switch expected {
        case .code(let c): return code == c
        case .nan(let negative): return isNaNCode(code) && (code & signBit != 0) == negative
        }
    }
}

@inline(__always) func pow2i(_ k: Int) -> Double { Double(sign: .plus, exponent: k, significand: 1) }

/// Correctly rounded conversion into a small format, computed with GNU MPFR.
///
/// Independent of `ElementRounder`'s bit-level algorithm: the value is rounded by
/// `mpfr_set_d` at precision m+1, with the exponent range narrowed so that
/// `mpfr_check_range` + `mpfr_subnormalize` reproduce the format's subnormal grid (the recipe
/// of the MPFR manual for emulating IEEE formats) and no upper limit, so overflow is judged
/// after rounding (IEEE 754 §7.4). MPFR's own modes give nearest-even (m ≥ 1), toward zero,
/// up and down; the others are built from the two neighbours RNDZ and RNDA return:
/// nearest-away and the m = 0 ties compare 2|x| with |lo| + |hi| exactly, and round-to-odd keeps
/// the neighbour whose code is odd. The code is read off the MPFR value's exponent and
/// integer significand. Not `Sendable`: MPFR's exponent range is per-thread state, so each
/// thread (test case) owns its oracle.
final class MPFROracle {
    let f: OracleFormat
    private let y: UnsafeMutablePointer<__mpfr_struct>
    private let lo: UnsafeMutablePointer<__mpfr_struct>
    private let hi: UnsafeMutablePointer<__mpfr_struct>
    private let wide: UnsafeMutablePointer<__mpfr_struct>
    private let wide2: UnsafeMutablePointer<__mpfr_struct>
    private let maxVar: UnsafeMutablePointer<__mpfr_struct>
    private let mpfrEmin: mpfr_exp_t

    /// The result of rounding with an unbounded exponent range, before the overflow policy and
    /// the flush switch are applied.
    enum Rounded: Equatable {
        case nan(negative: Bool)
        case infinity(negative: Bool)
        case zero(negative: Bool)
        case finite(negative: Bool, magnitudeCode: UInt32, subnormal: Bool)
        case overflow(negative: Bool)
    }

    init(_ format: ElementFormat) {
        f = OracleFormat(format)
        let p = mpfr_prec_t(f.m + 1)
        func make(_ prec: mpfr_prec_t) -> UnsafeMutablePointer<__mpfr_struct> {
            let v = UnsafeMutablePointer<__mpfr_struct>.allocate(capacity: 1)
            mpfr_init2(v, prec)
            return v
        }
        y = make(p)
        lo = make(p)
        hi = make(p)
        wide = make(256)
        wide2 = make(256)
        maxVar = make(64)
        mpfr_set_ui_2exp(maxVar, UInt(f.maxSignificand), mpfr_exp_t(f.topExponent - f.m), MPFR_RNDN)
        // MPFR writes x = 0.1b…b × 2^E, so the least subnormal 2^(emin_f − m) has E = emin_f − m + 1.
        mpfrEmin = mpfr_exp_t(f.subnormals ? f.minNormalExponent - f.m + 1 : f.minNormalExponent + 1)
    }

    deinit {
        for v in [y, lo, hi, wide, wide2, maxVar] {
            mpfr_clear(v)
            v.deallocate()
        }
    }

    /// Rounds `x` into `v` on the format's grid (precision m+1, subnormals below min normal,
    /// exponent unbounded above); returns MPFR's ternary value. The exponent range is thread
    /// state: narrowed here and restored before returning.
    private func roundOnGrid(_ v: UnsafeMutablePointer<__mpfr_struct>, _ x: Double, _ rnd: mpfr_rnd_t)
        -> Int32
    {
        let savedMin = mpfr_get_emin()
        let savedMax = mpfr_get_emax()
        defer {
            _ = mpfr_set_emin(savedMin)
            _ = mpfr_set_emax(savedMax)
        }
        _ = mpfr_set_emin(mpfrEmin)
        _ = mpfr_set_emax(4096)
        var t = mpfr_set_d(v, x, rnd)
        t = mpfr_check_range(v, t, rnd)
        if f.subnormals { t = mpfr_subnormalize(v, t, rnd) }
        return t
    }

    /// Magnitude code of a nonzero value on the grid that does not exceed max finite.
    private func magnitudeCode(_ v: UnsafeMutablePointer<__mpfr_struct>) -> (code: UInt32, subnormal: Bool) {
        let u = Int(mpfr_get_exp(v)) - 1  // |v| = 1.b…b × 2^u
        if u >= f.minNormalExponent {
            mpfr_mul_2si(wide, v, f.m - u, MPFR_RNDN)
            precondition(mpfr_integer_p(wide) != 0)
            let significand = UInt64(abs(mpfr_get_si(wide, MPFR_RNDN)))
            precondition(significand >> f.m == 1)
            let field = UInt64(u + f.bias)
            return (UInt32(field << f.m | (significand - (1 << f.m))), false)
        }
        precondition(f.subnormals)
        mpfr_mul_2si(wide, v, f.m - f.minNormalExponent, MPFR_RNDN)
        precondition(mpfr_integer_p(wide) != 0)
        let mantissa = UInt64(abs(mpfr_get_si(wide, MPFR_RNDN)))
        precondition(mantissa > 0 && mantissa < 1 << f.m)
        return (UInt32(mantissa), true)
    }

    private func exceedsMax(_ v: UnsafeMutablePointer<__mpfr_struct>) -> Bool {
        mpfr_cmpabs(v, maxVar) > 0
    }

    private func lastCodeBit(_ v: UnsafeMutablePointer<__mpfr_struct>) -> UInt32 {
        if attnprec_mpfr_zero_p(v) != 0 { return 0 }
        return magnitudeCode(v).code & 1
    }

    /// Rounds `x` (a binary32 or binary64 value) with an unbounded exponent range above.
    func round(_ x: Double, _ mode: RoundingMode) -> Rounded {
        let negative = x.sign == .minus
        if x.isNaN { return .nan(negative: negative) }
        if f.isE8M0 && (negative || x == 0) { return .nan(negative: false) }
        if x.isInfinite { return .infinity(negative: negative) }
        if x == 0 { return .zero(negative: negative) }
        if f.isE8M0 && x < f.minNormal {  // no zero: everything below 2^-127 is 2^-127
            return .finite(negative: false, magnitudeCode: 0, subnormal: false)
        }
        let result: UnsafeMutablePointer<__mpfr_struct>
        switch mode {
        case .nearestEven where f.m > 0:
            _ = roundOnGrid(y, x, MPFR_RNDN)
            result = y
        case .towardZero:
            _ = roundOnGrid(y, x, MPFR_RNDZ)
            result = y
        case .up:
            _ = roundOnGrid(y, x, MPFR_RNDU)
            result = y
        case .down:
            _ = roundOnGrid(y, x, MPFR_RNDD)
            result = y
        case .nearestEven, .nearestAway, .toOdd:
            let inexact = roundOnGrid(lo, x, MPFR_RNDZ) != 0
            if !inexact {
                result = lo
            } else if exceedsMax(lo) {
                return .overflow(negative: negative)
            } else {
                _ = roundOnGrid(hi, x, MPFR_RNDA)
                if case .toOdd = mode {
                    result = lastCodeBit(lo) == 1 ? lo : hi
                } else {
                    _ = mpfr_set_d(wide, x, MPFR_RNDN)
                    mpfr_mul_2ui(wide, wide, 1, MPFR_RNDN)  // 2x, exact
                    _ = mpfr_add(wide2, lo, hi, MPFR_RNDN)  // 2·midpoint, exact at 256 bits
                    let c = mpfr_cmpabs(wide, wide2)
                    if c > 0 {
                        result = hi
                    } else if c < 0 {
                        result = lo
                    } else if case .nearestAway = mode {
                        result = hi
                    } else if f.isE8M0 {
                        result = hi  // e8m0 ties go away from zero, as ml_dtypes does
                    } else {
                        result = lastCodeBit(lo) == 0 ? lo : hi  // m = 0: the code's last bit
                    }
                }
            }
        case .stochastic:
            preconditionFailure("stochastic rounding is checked by counting, not by this oracle")
        }
        if attnprec_mpfr_zero_p(result) != 0 { return .zero(negative: negative) }
        if exceedsMax(result) { return .overflow(negative: negative) }
        let (code, subnormal) = magnitudeCode(result)
        return .finite(negative: negative, magnitudeCode: code, subnormal: subnormal)
    }

    /// The neighbour of a finite nonzero `x` away from zero (x itself when exact), with an
    /// unbounded exponent range above.
    func awayFromZero(_ x: Double) -> Rounded { roundAway(x) }

    private func roundAway(_ x: Double) -> Rounded {
        let negative = x.sign == .minus
        _ = roundOnGrid(y, x, MPFR_RNDA)
        if exceedsMax(y) { return .overflow(negative: negative) }
        let (code, subnormal) = magnitudeCode(y)
        return .finite(negative: negative, magnitudeCode: code, subnormal: subnormal)
    }

    /// ⌊2^bits · (|x| − |lo|) / (|hi| − |lo|)⌋: how many of the 2^bits random values must
    /// round `x` away from zero under stochastic rounding with `bits` random bits.
    func stochasticUpCount(_ x: Double, bits: Int) -> UInt64 {
        let inexact = roundOnGrid(lo, x, MPFR_RNDZ) != 0
        if !inexact { return 0 }
        _ = roundOnGrid(hi, x, MPFR_RNDA)
        _ = mpfr_set_d(wide, x, MPFR_RNDN)
        _ = mpfr_sub(wide, wide, lo, MPFR_RNDN)  // exact at 256 bits
        _ = mpfr_sub(wide2, hi, lo, MPFR_RNDN)  // a power of two
        _ = mpfr_div(wide, wide, wide2, MPFR_RNDN)  // exact: division by a power of two
        mpfr_mul_2ui(wide, wide, UInt(bits), MPFR_RNDN)
        return UInt64(mpfr_get_ui(wide, MPFR_RNDD))
    }

    /// The code DESIGN.md §3 asks for, once the overflow policy and flush switch are applied.
    func expected(_ r: Rounded, mode: RoundingMode, overflow: OverflowPolicy, flush: Bool) -> Expected {
        switch r {
        case .nan(let negative):
            return f.nanResult(negative: negative)
        case .infinity(let negative):
            return f.overflowResult(negative: negative, mode: mode, policy: overflow, infiniteInput: true)
        case .zero(let negative):
            return .code(f.zeroCode(negative: negative))
        case .overflow(let negative):
            return f.overflowResult(negative: negative, mode: mode, policy: overflow, infiniteInput: false)
        case .finite(let negative, let code, let subnormal):
            if subnormal && flush { return .code(f.zeroCode(negative: negative)) }
            return .code((negative ? f.signBit : 0) | code)
        }
    }

    func expected(_ x: Double, mode: RoundingMode, overflow: OverflowPolicy, flush: Bool = false)
        -> Expected
    {
        expected(round(x, mode), mode: mode, overflow: overflow, flush: flush)
    }

    /// The value of a code computed by MPFR from its fields (`mpfr_set_ui_2exp`), as a Double
    /// (exact: every format here is a subset of binary32). NaN codes give NaN, Inf codes ±Inf.
    func decode(_ c: UInt32) -> Double {
        if f.isNaNCode(c) { return .nan }
        let negative = f.signed && c & f.signBit != 0
        if f.isInfinityCode(c) { return negative ? -.infinity : .infinity }
        let field = Int((c & f.magnitudeMask) >> f.m)
        let mantissa = UInt(c & f.mantissaMask)
        if f.subnormals && field == 0 {
            mpfr_set_ui_2exp(wide, mantissa, mpfr_exp_t(f.minNormalExponent - f.m), MPFR_RNDN)
        } else {
            mpfr_set_ui_2exp(wide, (1 << f.m) + mantissa, mpfr_exp_t(field - f.bias - f.m), MPFR_RNDN)
        }
        if negative { _ = mpfr_neg(wide, wide, MPFR_RNDN) }
        return mpfr_get_d(wide, MPFR_RNDN)
    }
}
