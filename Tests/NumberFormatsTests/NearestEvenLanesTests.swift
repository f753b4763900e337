import Testing
import NumberFormats

@Suite struct NearestEvenLanesTests {
    /// The vector rounder gives ElementRounder's results: random values over the whole binary32
    /// range, every boundary of the format (max finite, the overflow midpoint, min normal,
    /// subnormals and their ties), zeros, infinities and NaN.
    @Test(arguments: ["bfloat16", "bfloat16/saturate", "e4m3", "e5m2", "float16", "tf32", "e3m4", "float16/saturate", "e4m3/ieee", "e5m2/saturate"])
    func nearestEvenLanesMatchElementRounder(spec: String) throws {
        let r = try FormatSpec.parse(spec).elementRounder!
        let lanes = try #require(NearestEvenLanes(r))
        var values: [Float] = [0, -0, .infinity, -.infinity, .nan, Float.greatestFiniteMagnitude, Float.leastNonzeroMagnitude]
        let f = r.format
        for base in [f.maxFinite, f.minNormal, f.minSubnormal ?? f.minNormal] {
            let b = Float(base)
            var x = b * 0.25
            while x < b * 4 { values += [x, -x, x.nextUp, x.nextDown]; x += b * 0.03125 }
        }
        var state: UInt64 = 0x9E37_79B9_7F4A_7C15
        for _ in 0..<200_000 {
            state = CounterRandom.splitmix(state)
            values.append(Float(bitPattern: UInt32(truncatingIfNeeded: state)))
        }
        var mismatches = 0
        var i = 0
        while i + 8 <= values.count {
            let v = SIMD8<Float>((0..<8).map { values[i + $0] })
            let got = lanes.round(v)
            for l in 0..<8 {
                let want = r.round(values[i + l])
                if !(want.bitPattern == got[l].bitPattern || (want.isNaN && got[l].isNaN)) {
                    if mismatches < 5 { print("\(spec): \(values[i + l]) → \(got[l]), expected \(want)") }
                    mismatches += 1
                }
            }
            i += 8
        }
        #expect(mismatches == 0)
    }
}

/// The 16-lane store roundings of fused kernels: each short form gives `NearestEvenLanes.round`
/// where its `shortForm` says it applies (bits: every non-NaN input; magic: finite inputs below
/// the overflow threshold), and the tracker keeps the largest exponent field seen.
@Suite struct FusedRoundingTests {
    static func inputs(_ lanes: NearestEvenLanes, finiteBelow limit: Float?) -> [Float] {
        var state: UInt64 = 0x51_7CC1_B727_220A
        var out: [Float] = [0, -0, 1, -1, Float.leastNonzeroMagnitude, -Float.leastNormalMagnitude]
        while out.count < 16 * 4096 {
            state = CounterRandom.splitmix(state)
            let x = Float(bitPattern: UInt32(truncatingIfNeeded: state))
            if x.isNaN { continue }
            if let limit, !(x.magnitude < limit) { continue }
            out.append(x)
        }
        return out
    }

    static func check<R: FusedRounding>(_ r: R, _ lanes: NearestEvenLanes, _ xs: [Float], tracks: Bool) -> Int {
        var mismatches = 0
        for i in stride(from: 0, to: xs.count, by: 16) {
            let x = SIMD16<Float>(xs[i..<(i + 16)])
            var track = SIMD16<UInt32>()
            let got = r.round(x, &track)
            var widest: UInt32 = 0
            for l in 0..<16 {
                if got[l].bitPattern != lanes.round(x[l]).bitPattern { mismatches += 1 }
                widest = max(widest, x[l].bitPattern & 0x7F80_0000)
            }
            if tracks && track.max() < widest { mismatches += 1 }
        }
        return mismatches
    }

    @Test(arguments: ["bfloat16", "tf32"])
    func bitsRoundingMatchesTheLanes(spec: String) throws {
        let lanes = try #require(NearestEvenLanes(try FormatSpec.parse(spec).elementRounder!))
        #expect(lanes.shortForm == .bits)
        #expect(Self.check(BitsRounding(lanes), lanes, Self.inputs(lanes, finiteBelow: nil), tracks: false) == 0)
    }

    @Test(arguments: ["e4m3", "e4m3/saturate", "e5m2", "float16", "e3m4"])
    func magicRoundingMatchesTheLanesBelowTheThreshold(spec: String) throws {
        let lanes = try #require(NearestEvenLanes(try FormatSpec.parse(spec).elementRounder!))
        #expect(lanes.shortForm == .magic)
        let xs = Self.inputs(lanes, finiteBelow: lanes.overflowThreshold)
        #expect(Self.check(MagicRounding(lanes), lanes, xs, tracks: true) == 0)
    }

    @Test(arguments: ["bfloat16/saturate", "e4m3", "float16"])
    func exactRoundingIsTheLanes(spec: String) throws {
        let lanes = try #require(NearestEvenLanes(try FormatSpec.parse(spec).elementRounder!))
        #expect(Self.check(ExactRounding(lanes), lanes, Self.inputs(lanes, finiteBelow: nil), tracks: true) == 0)
    }

    @Test func keepFloat32KeepsEveryBit() {
        let xs = (0..<16).map { Float(bitPattern: UInt32($0) &* 0x1234_5679) }
        var track = SIMD16<UInt32>()
        let got = KeepFloat32().round(SIMD16(xs), &track)
        #expect((0..<16).allSatisfy { got[$0].bitPattern == xs[$0].bitPattern })
    }
}
