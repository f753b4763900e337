import NumberFormats
import Testing

/// Formats the per-mode sweeps cover: every named format and a few custom IEEE-style ones
/// (e4m0: m = 0, where ties-to-even looks at the exponent's last bit).
let sweptFormats: [ElementFormat] = ElementFormat.named + ["e5m3", "e3m3", "e4m0"].map { ElementFormat.named($0)! }

let deterministicModes: [RoundingMode] = [.nearestEven, .nearestAway, .towardZero, .up, .down, .toOdd]

/// Inputs for the sweeps.
enum SweepInputs {
    /// Every binary16 bit pattern, widened to binary32 (exactly).
    static let binary16: [Float] = (0...UInt16.max).map { Float(Float16(bitPattern: $0)) }
    /// Every bfloat16 bit pattern, widened to binary32.
    static let bfloat16: [Float] = (0...UInt16.max).map { Float(bitPattern: UInt32($0) << 16) }

    /// 2^16 binary32 bit patterns drawn uniformly (every exponent equally likely), and as many
    /// binary64 values: a binary32 value with 29 random low bits appended, so that rounding
    /// the binary64 through binary32 first would often give a different answer.
    static let randomFloats: [Float] = {
        let r = CounterRandom(seed: 0x5eed, role: "sweep-float")
        return (0..<65536).map { Float(bitPattern: r.bits($0)) }
    }()
    static let randomDoubles: [Double] = {
        let r = CounterRandom(seed: 0x5eed, role: "sweep-double")
        return (0..<65536).map { i in
            let x = Double(Float(bitPattern: r.bits(2 * i)))
            guard x.isFinite && x != 0 else { return x }
            let tail = UInt64(r.bits(2 * i + 1) & ((1 << 29) - 1))
            return Double(bitPattern: x.bitPattern | tail)
        }
    }()

    /// Points around every boundary of the format: powers of two (binade edges), values of
    /// adjacent codes and the midpoints between them (all codes for small formats, the ends
    /// of each binade for large ones), the subnormal range, the overflow thresholds, each
    /// ± a few binary32 ulps, ± one binary64 ulp and, for the thresholds, ± 1. Both signs.
    /// `floats` are binary32 values (checked as Float and as Double); `doubles` are not.
    static func boundaries(_ f: OracleFormat) -> (floats: [Float], doubles: [Double]) {
        var anchors: [Double] = []
        let lowest = f.subnormals && f.m > 0 ? f.minNormalExponent - f.m : f.minNormalExponent
        for k in (lowest - 3)...(f.topExponent + 3) { anchors.append(pow2i(k)) }
        // Adjacent pairs of representable magnitudes.
        let last = f.maxMagnitudeCode
        var codes: [UInt32] = []
        if last < 1024 {
            codes = Array(0...last)
        } else {
            let binadeSize = UInt32(1) << f.m
            var field: UInt32 = 0
            while field << f.m <= last {
                let first = field << f.m
                for c in [0, 1, 2, 3, binadeSize - 3, binadeSize - 2, binadeSize - 1].map({ first + $0 })
                where c <= last { codes.append(c) }
                field += 1
            }
            if f.subnormals { codes += (0..<UInt32(64)).filter { $0 < binadeSize } }
            codes += [last - 2, last - 1, last]
        }
        let value = { (c: UInt32) -> Double in c > last ? f.firstBeyondMax : f.value(ofCode: c) }
        var thresholds: [Double] = [f.maxFinite, f.firstBeyondMax, f.firstBeyondMax * 2, f.minPositive / 2]
        for c in Set(codes) {
            let a = value(c)
            let b = value(c + 1)
            anchors.append(a)
            anchors.append((a + b) / 2)
            anchors.append(a + (b - a) / 4)
            anchors.append(a + 3 * (b - a) / 4)
            if c == last { thresholds.append((a + b) / 2) }
        }
        for t in thresholds { anchors += [t, t - 1, t + 1] }

        var floats: Set<UInt32> = []
        var doubles: Set<UInt64> = []
        func addFloat(_ x: Float) { if x.isFinite { floats.insert(x.bitPattern) } }
        for a in anchors where a > 0 {
            let xf = Float(a)
            if Double(xf) == a {
                var up = xf
                var down = xf
                addFloat(xf)
                for _ in 0..<3 {
                    up = up.nextUp
                    down = down.nextDown
                    addFloat(up)
                    addFloat(down)
                }
            } else {
                doubles.insert(a.bitPattern)
                addFloat(xf.nextDown)
                addFloat(xf)
                addFloat(xf.nextUp)
            }
            doubles.insert(a.nextUp.bitPattern)
            doubles.insert(a.nextDown.bitPattern)
        }
        var fs = floats.map { Float(bitPattern: $0) }
        fs += [0, .infinity, .nan, .greatestFiniteMagnitude, .leastNonzeroMagnitude, .leastNormalMagnitude, 1]
        fs += fs.map { -$0 }
        var ds = doubles.map { Double(bitPattern: $0) }.filter { Double(Float($0)) != $0 }
        ds += [1e300, 1e-300, .greatestFiniteMagnitude, .leastNonzeroMagnitude, .leastNormalMagnitude, 0x1p128, 0x1p-150]
        ds += ds.map { -$0 }
        return (fs, ds)
    }
}

/// The sign of each (overflow policy, flush) combination the sweeps check.
let policyCombinations: [(OverflowPolicy, Bool)] = [(.ieee, false), (.saturate, false), (.ieee, true), (.saturate, true)]

@Suite("Encode") struct EncodeTests {
    /// Every format × every deterministic mode × both overflow policies × flush on/off, on all
    /// binary16 and bfloat16 patterns, the format's boundary grid and 2^17 random binary32 and
    /// binary64 inputs, code for code against MPFR; binary32 inputs also as binary64.
    @Test(arguments: sweptFormats, deterministicModes)
    func agreesWithMPFR(_ format: ElementFormat, _ mode: RoundingMode) {
        let oracle = MPFROracle(format)
        let f = oracle.f
        let rounders = policyCombinations.map {
            ElementRounder(format: format, rounding: mode, overflow: $0.0, flushSubnormals: $0.1)
        }
        let grid = SweepInputs.boundaries(f)
        var failures = Failures()
        func check(_ x: Double, asFloat: Bool) {
            // e4m0 (IEEE-style, m = 0) has no NaN code; its NaN behaviour is not specified.
            if x.isNaN && f.nanEncoding == .ieee && f.m == 0 { return }
            let r = oracle.round(x, mode)
            for (i, (policy, flush)) in policyCombinations.enumerated() {
                let want = oracle.expected(r, mode: mode, overflow: policy, flush: flush)
                let gotDouble = rounders[i].encode(x)
                if !f.matches(gotDouble, want) {
                    failures.add("\(x) (Double) \(policy) flush=\(flush): want \(want), got 0x\(String(gotDouble, radix: 16))")
                }
                if asFloat {
                    let gotFloat = rounders[i].encode(Float(x))
                    if !f.matches(gotFloat, want) {
                        failures.add("\(x) (Float) \(policy) flush=\(flush): want \(want), got 0x\(String(gotFloat, radix: 16))")
                    }
                }
            }
        }
        for x in SweepInputs.binary16 { check(Double(x), asFloat: true) }
        for x in SweepInputs.bfloat16 { check(Double(x), asFloat: true) }
        for x in grid.floats { check(Double(x), asFloat: true) }
        for x in grid.doubles { check(x, asFloat: false) }
        for x in SweepInputs.randomFloats { check(Double(x), asFloat: true) }
        for x in SweepInputs.randomDoubles { check(x, asFloat: false) }
        #expect(failures.count == 0, "\(format) \(mode): \(failures)")
    }

    /// `round` is `decode ∘ encode`, with NaN in giving NaN out.
    @Test(arguments: sweptFormats)
    func roundIsDecodeOfEncode(_ format: ElementFormat) {
        var failures = Failures()
        for mode in deterministicModes {
            let r = ElementRounder(format: format, rounding: mode)
            for x in SweepInputs.bfloat16 {
                let y = r.round(x)
                let yd = r.round(Double(x))
                let want = r.decode(r.encode(x))
                if x.isNaN {
                    if !(y.isNaN && yd.isNaN) { failures.add("\(mode) NaN gave \(y) \(yd)") }
                } else if !(y.bitPattern == want.bitPattern || (y.isNaN && want.isNaN))
                    || !(Float(yd).bitPattern == y.bitPattern || (yd.isNaN && y.isNaN))
                {
                    failures.add("\(mode) \(x): round \(y) / \(yd), decode(encode) \(want)")
                }
            }
        }
        #expect(failures.count == 0, "\(format): \(failures)")
    }

    // MARK: the boundary facts DESIGN.md §3 names

    @Test func e4m3fnOverflowBoundary() {
        let ieee = ElementRounder(format: .float8_e4m3fn, overflow: .ieee)
        let sat = ElementRounder(format: .float8_e4m3fn, overflow: .saturate)
        for r in [ieee, sat] {
            #expect(r.round(Float(448)) == 448)
            #expect(r.round(Float(464)) == 448)  // tie: 448 = 1.110₂·2^8 is even
            #expect(r.round(Float(464).nextDown) == 448)
            #expect(r.encode(Float(464)) == 0x7E && r.encode(Float(-464)) == 0xFE)
        }
        #expect(ieee.round(Float(464).nextUp).isNaN)
        #expect(ieee.round(Float(465)).isNaN && ieee.encode(Float(465)) == 0x7F && ieee.encode(Float(-465)) == 0xFF)
        #expect(ieee.round(Float(480)).isNaN && ieee.round(Float.infinity).isNaN)
        #expect(sat.round(Float(465)) == 448 && sat.round(Float(-465)) == -448)
        #expect(sat.round(Float(480)) == 448 && sat.round(Float(1e30)) == 448 && sat.round(-Float.infinity) == -448)
        // Nearest-away: the tie goes to 480, which is past max finite.
        #expect(ElementRounder(format: .float8_e4m3fn, rounding: .nearestAway, overflow: .ieee).round(Float(464)).isNaN)
        // Toward zero never overflows a finite input.
        #expect(ElementRounder(format: .float8_e4m3fn, rounding: .towardZero, overflow: .ieee).round(Float(1e30)) == 448)
    }

    @Test func e5m2OverflowBoundary() {
        let ieee = ElementRounder(format: .float8_e5m2, overflow: .ieee)
        let sat = ElementRounder(format: .float8_e5m2, overflow: .saturate)
        #expect(ieee.round(Float(57344)) == 57344)
        #expect(ieee.round(Float(61439)) == 57344)
        #expect(ieee.round(Float(61440).nextDown) == 57344)
        #expect(ieee.round(Float(61440)) == .infinity)  // tie: 57344 = 1.11₂·2^15 is odd
        #expect(ieee.encode(Float(61440)) == 0x7C && ieee.encode(Float(-61440)) == 0xFC)
        #expect(ieee.round(Float(-61440)) == -.infinity)
        #expect(sat.round(Float(61440)) == 57344 && sat.round(Float(-1e9)) == -57344)
        #expect(sat.round(Float.infinity) == 57344)
        #expect(ElementRounder(format: .float8_e5m2, rounding: .up, overflow: .ieee).round(Float(-1e9)) == -57344)
        #expect(ElementRounder(format: .float8_e5m2, rounding: .down, overflow: .ieee).round(Float(-1e9)) == -.infinity)
    }

    @Test func bfloat16NearOne() {
        let bf16 = ElementRounder(format: .bfloat16)
        // No bf16 value lies in (0.99609375, 1): they are 1 − 2^-8 and 1.
        #expect(bf16.round(Float(0.99609375)) == 0.99609375)
        let below = bf16.decodeDouble(bf16.encode(Float(1)) - 1)
        #expect(below == 0.99609375)
        // Every binary32 α in [0.998046875, 1) rounds to exactly 1.0; the one below goes down.
        var alpha = Float(0.998046875)
        var count = 0
        while alpha < 1 {
            if bf16.round(alpha) != 1 { count += 1 }
            alpha = alpha.nextUp
        }
        #expect(count == 0)
        #expect(bf16.round(Float(0.998046875).nextDown) == 0.99609375)
        #expect(bf16.round(0.998046875 as Double) == 1 && bf16.round((0.998046875 as Double).nextDown) == 0.99609375)
        // Every α in (0.99609375, 0.998046875) rounds down to 0.99609375.
        #expect(bf16.round(Float(0.99609375).nextUp) == 0.99609375)
    }

    @Test func specialInputs() {
        // NaN keeps its sign where NaNs are signed; fnuz has one NaN; fp6/fp4 give the −0 code.
        let e4m3 = ElementRounder(format: .float8_e4m3fn)
        #expect(e4m3.encode(Float.nan) == 0x7F && e4m3.encode(-Float.nan) == 0xFF)
        #expect(ElementRounder(format: .float8_e4m3fnuz).encode(-Float.nan) == 0x80)
        #expect(ElementRounder(format: .float8_e4m3fnuz).encode(Float(-1e-30)) == 0x00)  // no −0
        #expect(ElementRounder(format: .float4_e2m1fn).encode(Float.nan) == 0x8)
        #expect(ElementRounder(format: .float6_e3m2fn).encode(Float.infinity, random: 0) == 0x1F)
        #expect(ElementRounder(format: .float16).encode(-Float.nan) & 0x8000 != 0)
        #expect(ElementRounder(format: .float16).round(Float.nan).isNaN)
        // e8m0: unsigned, no zero; ties away from zero; below 2^-127 gives 2^-127.
        let e8m0 = ElementRounder(format: .float8_e8m0fnu)
        #expect(e8m0.encode(Float(0)) == 0xFF && e8m0.encode(Float(-1)) == 0xFF && e8m0.encode(Float.nan) == 0xFF)
        #expect(e8m0.encode(Float(1.5)) == 128 && e8m0.encode(Float(1.5).nextDown) == 127 && e8m0.encode(Float(3)) == 129)
        #expect(e8m0.encode(Float(0x1p-128)) == 0 && e8m0.encode(Float(0x1p-127)) == 0)
        #expect(ElementRounder(format: .float8_e8m0fnu, overflow: .ieee).encode(Float(0x1.8p127)) == 0xFF)
        #expect(ElementRounder(format: .float8_e8m0fnu, overflow: .saturate).encode(Float(0x1.8p127)) == 0xFE)
        // Default overflow policy: ieee for ≥ 16 bits, saturate below.
        #expect(ElementRounder(format: .float16).overflow == .ieee)
        #expect(ElementRounder(format: .float8_e4m3fn).overflow == .saturate)
        // Flush: a result that would be subnormal becomes zero of the input's sign.
        let ftz = ElementRounder(format: .float8_e4m3fn, flushSubnormals: true)
        #expect(ftz.encode(Float(0x1p-7)) == 0 && ftz.encode(Float(-0x1p-7)) == 0x80)
        #expect(ftz.encode(Float(0x1p-6)) == 0x08 && ftz.encode(Float(0x1.fp-7)) == 0x08)  // rounds up to min normal
    }
}
