import CMPFR
import NumberFormats
import Testing

/// Formats whose every code the tests visit: all named formats of at most 16 bits, tf32
/// (19 bits, still cheap), and custom IEEE-style ones, m = 0 included.
let decodableFormats: [ElementFormat] =
    ElementFormat.named.filter { $0.bitWidth <= 19 }
    + ["e5m3", "e3m3", "e4m0", "e2m5"].map { ElementFormat.named($0)! }

@Suite("Decode") struct DecodeTests {
    @Test func mpfrIsThreadSafe() {
        // The oracle narrows MPFR's exponent range per thread while tests run in parallel.
        #expect(mpfr_buildopt_tls_p() != 0)
    }

    @Test(arguments: decodableFormats)
    func everyCodeDecodesExactly(_ format: ElementFormat) {
        let oracle = MPFROracle(format)
        let rounder = ElementRounder(format: format)
        var failures = Failures()
        for c in 0..<UInt32(format.codeCount) {
            let want = oracle.decode(c)
            let got = rounder.decodeDouble(c)
            let gotFloat = rounder.decode(c)
            let ok =
                want.isNaN
                ? got.isNaN && gotFloat.isNaN
                : got.bitPattern == want.bitPattern && gotFloat.bitPattern == Float(want).bitPattern
                    && Double(gotFloat) == want
            if !ok { failures.add("code 0x\(String(c, radix: 16)): MPFR \(want), decode \(got) / \(gotFloat)") }
        }
        #expect(failures.count == 0, "\(format): \(failures)")
    }

    @Test(arguments: decodableFormats)
    func codesAreOrderedAndNaNsAreWhereTheFormatSays(_ format: ElementFormat) {
        // Non-negative finite codes 0…maxMagnitudeCode increase strictly; every other positive
        // code is Inf or NaN, and the number of NaN codes is what the encoding implies.
        let f = OracleFormat(format)
        let rounder = ElementRounder(format: format)
        var previous = -Double.infinity
        for c in 0...f.maxMagnitudeCode {
            let v = rounder.decodeDouble(c)
            #expect(v > previous || (c == 0 && v == 0), "\(format) 0x\(String(c, radix: 16))")
            previous = v
        }
        #expect(previous == format.maxFinite)
        let nanCount = (0..<UInt32(format.codeCount)).filter { rounder.decodeDouble($0).isNaN }.count
        let expectedNaNs: Int
        switch format.nanEncoding {
        case .ieee: expectedNaNs = 2 * ((1 << format.mantissaBits) - 1)
        case .allOnes: expectedNaNs = 2
        case .negativeZero, .allOnesUnsigned: expectedNaNs = 1
        case .none: expectedNaNs = 0
        }
        #expect(nanCount == expectedNaNs, "\(format)")
    }

    /// DESIGN.md §3's table, as literal numbers.
    static let designTable: [(String, Double, Double, Double?)] = [
        ("float32", 0x1.fffffep127, 0x1p-126, 0x1p-149),
        ("float16", 65504, 0x1p-14, 0x1p-24),
        ("bfloat16", 0x1.fep127, 0x1p-126, 0x1p-133),
        ("float8_e4m3fn", 448, 0x1p-6, 0x1p-9),
        ("float8_e4m3fnuz", 240, 0x1p-7, 0x1p-10),
        ("float8_e5m2", 57344, 0x1p-14, 0x1p-16),
        ("float8_e5m2fnuz", 57344, 0x1p-15, 0x1p-17),
        ("float6_e2m3fn", 7.5, 1, 0.125),
        ("float6_e3m2fn", 28, 0.25, 0.0625),
        ("float4_e2m1fn", 6, 1, 0.5),
        ("float8_e8m0fnu", 0x1p127, 0x1p-127, nil),
        // Not in the table; from the IEEE-style rule (and ml_dtypes' finfo for e3m4).
        ("tf32", 0x1.ffcp127, 0x1p-126, 0x1p-136),
        ("float8_e3m4", 15.5, 0.25, 0x1p-6),
        ("e5m3", 61440, 0x1p-14, 0x1p-17),
        ("e3m3", 15, 0.25, 0x1p-5),
    ]

    @Test func designTableLimits() throws {
        for (name, maxFinite, minNormal, minSubnormal) in Self.designTable {
            let f = try #require(ElementFormat.named(name), "\(name)")
            #expect(f.maxFinite == maxFinite, "\(name)")
            #expect(f.minNormal == minNormal, "\(name)")
            #expect(f.minSubnormal == minSubnormal, "\(name)")
            #expect(f.minPositive == minSubnormal ?? minNormal, "\(name)")
            // The oracle's own derivation agrees.
            let o = OracleFormat(f)
            #expect(o.maxFinite == maxFinite && o.minNormal == minNormal && o.minSubnormal == minSubnormal, "\(name)")
            // And the extreme codes decode to them.
            let r = ElementRounder(format: f)
            #expect(r.decodeDouble(o.maxMagnitudeCode) == maxFinite, "\(name)")
            if let s = minSubnormal { #expect(r.decodeDouble(1) == s, "\(name)") }
        }
        // The decimal spellings the design doc prints.
        #expect(Float(0x1.fffffep127) == Float("3.4028235e38"))
        #expect(abs(0x1.fep127 / 3.3895314e38 - 1) < 5e-8)
        #expect(ElementFormat.named.count == 13)
        #expect(Set(ElementFormat.named.map(\.name)).count == 13)
    }

    @Test func namedFormatFacts() throws {
        let e4m3 = ElementFormat.float8_e4m3fn
        #expect(e4m3.bitWidth == 8 && !e4m3.hasInfinity && e4m3.hasNaN && e4m3.hasNegativeZero)
        let fnuz = ElementFormat.float8_e4m3fnuz
        #expect(!fnuz.hasNegativeZero && fnuz.nanEncoding == .negativeZero)
        let e8m0 = ElementFormat.float8_e8m0fnu
        #expect(!e8m0.isSigned && !e8m0.hasZero && e8m0.bitWidth == 8 && e8m0.maxExponent == 127)
        #expect(ElementFormat.float6_e2m3fn.bitWidth == 6 && ElementFormat.float4_e2m1fn.bitWidth == 4)
        #expect(ElementFormat.float16.unitRoundoff == 0x1p-11)
        #expect(ElementFormat.float8_e4m3fn.maxExponent == 8)  // OCP MX emax_elem
        #expect(ElementFormat.float6_e2m3fn.maxExponent == 2)
        #expect(ElementFormat.float4_e2m1fn.maxExponent == 2)
        #expect(ElementFormat.float8_e5m2.maxExponent == 15)
    }

    @Test func namesWinOverPatterns() throws {
        let table: [(String, ElementFormat)] = [
            ("e4m3", .float8_e4m3fn), ("E4M3", .float8_e4m3fn), ("e5m2", .float8_e5m2),
            ("e3m4", .float8_e3m4), ("e2m3", .float6_e2m3fn), ("e3m2", .float6_e3m2fn),
            ("e2m1", .float4_e2m1fn), ("e8m0", .float8_e8m0fnu), ("tf32", .tf32), ("e8m10", .tf32),
            ("bf16", .bfloat16), ("fp16", .float16), ("fp32", .float32), ("fp4", .float4_e2m1fn),
            ("float8_e4m3fnuz", .float8_e4m3fnuz), ("e5m2fnuz", .float8_e5m2fnuz),
        ]
        for (name, format) in table { #expect(ElementFormat.named(name) == format, "\(name)") }
        let custom = try #require(ElementFormat.named("e5m3"))
        #expect(custom.bias == 15 && custom.hasInfinity && custom.nanEncoding == .ieee && custom.hasSubnormals)
        #expect(ElementFormat.named("e3m3")?.bias == 3)
        for bad in ["e9m2", "e1m2", "e4m24", "em3", "e4m", "x4m3", "e4m3x", "e٣m2", ""] {
            #expect(ElementFormat.named(bad) == nil, "\(bad)")
        }
    }
}

/// Counts mismatches and keeps the first few for the failure message.
struct Failures: CustomStringConvertible {
    private(set) var count = 0
    private var examples: [String] = []
    mutating func add(_ s: @autoclosure () -> String) {
        count += 1
        if examples.count < 8 { examples.append(s()) }
    }
    mutating func merge(_ other: Failures) {
        count += other.count
        for e in other.examples where examples.count < 8 { examples.append(e) }
    }
    var description: String { "\(count) mismatches" + (examples.isEmpty ? "" : ": " + examples.joined(separator: "; ")) }
}
