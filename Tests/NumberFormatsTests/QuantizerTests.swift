import Testing
@testable import NumberFormats

/// Scaled and block formats: golden blocks worked out by hand from the specs, and the fast
/// binary32 path checked bit for bit against the exact scalar path.
@Suite struct QuantizerTests {
    func run(_ spec: String, _ x: [Float], shape: [Int]? = nil, seed: UInt64 = 0)
        throws -> (values: [Float], codes: [UInt32], side: QuantizationSideData)
    {
        let s = try FormatSpec.parse(spec)
        var out = [Float](repeating: 0, count: x.count)
        var codes = [UInt32](repeating: 0, count: x.count)
        let side = x.withUnsafeBufferPointer { xp in
            out.withUnsafeMutableBufferPointer { op in
                codes.withUnsafeMutableBufferPointer { cp in
                    s.quantize(xp, shape: shape ?? [x.count], into: op, codes: cp, random: CounterRandom(seed: seed))
                }
            }
        }
        return (out, codes, side)
    }

    func block(_ head: [Float], length: Int = 32) -> [Float] {
        head + [Float](repeating: 0.25, count: length - head.count)
    }

    /// OCP MX v1.0 §6.3: X = 2^(floor(log2 amax) − emax_elem), elements V/X rounded to the
    /// element format with clamping to ±max normal. MXFP4 (E2M1, emax 2), amax 7.5:
    /// floor(log2 7.5) = 2 → X = 1, and 7.5 clips to 6 (the `floor` rule's known clipping).
    @Test func mxfp4FloorClipsTheBlockMaximum() throws {
        let (v, c, side) = try run("mxfp4", block([7.5, 1.0, 0.3, -2.5, 0]))
        #expect(side.scaleCodes == [127])  // e8m0 2^0
        #expect(Array(v.prefix(5)) == [6, 1, 0.5, -2, 0])  // 0.3 → 0.5; −2.5 ties to even → −2
        #expect(Array(c.prefix(5)) == [0b0111, 0b0010, 0b0001, 0b1100, 0])
        #expect(v[5] == 0)  // 0.25 is the midpoint of 0 and 0.5: ties to the even code (0)
    }

    @Test func mxfp4CeilEvenAndRceilDoNotClip() throws {
        // ceil: X = 2^(ceil(log2 7.5) − 2) = 2; 7.5/2 = 3.75 → 4 → 8.
        #expect(try run("mxfp4/ceil", block([7.5, 1.0])).values.prefix(2) == [8, 1])
        // even: 7.5 = 1.875·2^2 rounded half-up to one mantissa bit is 2^3 → X = 2.
        #expect(try run("mxfp4/even", block([7.5])).side.scaleCodes == [128])
        // rceil (cuBLAS): X = 2^ceil(log2(7.5/6)) = 2.
        #expect(try run("mxfp4/rceil", block([7.5])).side.scaleCodes == [128])
        // even keeps floor's scale when amax does not round into the next binade: 5 = 1.25·2^2.
        #expect(try run("mxfp4/even", block([5])).side.scaleCodes == [127])
    }

    /// MXFP8 E4M3 (emax 8), amax 1000: X = 2^(9 − 8) = 2, 1000/2 = 500 clamps to 448 → 896.
    @Test func mxfp8FloorClamps() throws {
        let (v, _, side) = try run("mxfp8_e4m3", block([1000, -3, 0.001]))
        #expect(side.scaleCodes == [128])
        #expect(v[0] == 896 && v[1] == -3)
        #expect(v[2] == 0)  // 0.001/2 is below half of E4M3's smallest subnormal 2^-9
    }

    @Test func mxBlocksAreIndependentAndNaNPoisonsOnlyItsBlock() throws {
        var x = block([1, 2]) + block([100, -.nan])
        x[33] = .nan
        let (v, _, side) = try run("mxfp8_e4m3", x)
        #expect(side.scaleCodes?[0] == 127 - 7 && side.scaleCodes?[1] == 0xFF)
        #expect(v[0] == 1 && v[1] == 2)
        #expect(v[32...].allSatisfy { $0.isNaN })
    }

    @Test func mxint8() throws {
        // emax 0: X = 2^floor(log2 amax); elements are k/64, |k| ≤ 127.
        let (v, c, side) = try run("mxint8", block([3.0, -1.5, 0.01]))
        #expect(side.scaleCodes == [128])  // 2^1
        #expect(v[0] == 3.0 && v[1] == -1.5)
        #expect(c[0] == 96 && c[1] == UInt32(UInt8(bitPattern: -48)))
        #expect(v[2] == 0)  // 0.01/2·64 = 0.32 → 0
    }

    /// NVFP4 (block 16, E2M1 elements, E4M3 block scale = e4m3(amax/6)), without tensor scale:
    /// amax 12 → scale 2 (code 0x40); 0.7/2 = 0.35 → 0.5 → 1.
    @Test func nvfp4BlockScale() throws {
        let x = [Float](arrayLiteral: 12, 3, -1, 0.7) + [Float](repeating: 0, count: 12)
        let (v, _, side) = try run("nvfp4/no-tensor-scale", x)
        #expect(side.scaleCodes == [0x40] && side.scales == [2])
        #expect(Array(v.prefix(4)) == [12, 3, -1, 1])
        // With the tensor scale amax/(448·6), the block scale lands on E4M3's max (448).
        let t = try run("nvfp4", x)
        #expect(t.side.scaleCodes == [0x7E])
        #expect(t.side.tensorScale == Float(12) / Float(2688))
        for (a, b) in zip(t.values, v) { #expect(abs(a - b) <= 1e-6 * max(1, abs(b))) }
    }

    @Test func perTokenAbsmax() throws {
        let x: [Float] = [448, -224, 1, 0, /* row 2 */ 0.5, 0.25, 0, 0]
        let (v, _, side) = try run("e4m3/per-token", x, shape: [2, 4])
        #expect(side.scales == [1, Float(0.5) / 448])
        #expect(v[0] == 448 && v[1] == -224 && v[2] == 1)
        #expect(abs(v[4] - 0.5) <= 1e-7 && abs(v[5] - 0.25) <= 1e-7)
    }

    @Test func pow2ScaleIsDeepSeeksCeil() throws {
        // amax/448 = 1000/448 = 2.23 → 2^2.
        let (_, _, side) = try run("e4m3/block:4/pow2", [1000, 1, 2, 3, 448, 0, 0, 0], shape: [1, 8])
        #expect(side.scales == [4, 1])
        #expect(side.scaleCodes == [129, 127])
    }

    @Test func integers() throws {
        let (v, c, _) = try run("int8/per-token", [127, -63.5, 0.2, 0], shape: [1, 4])
        #expect(v == [127, -64, 0, 0])  // −63.5 ties to even → −64
        #expect(c == [127, UInt32(UInt8(bitPattern: -64)), 0, 0])
        let a = try run("int4/per-token/asym", [-1, 0, 2, 14], shape: [1, 4])
        #expect(a.side.zeroPoints == [-1] && a.side.scales == [1])
        #expect(a.values == [-1, 0, 2, 14] && a.codes == [0, 1, 3, 15])
        let i2 = try run("int2", [3, -3, 1.4, 1.6])
        #expect(i2.values == [3, -3, 0, 3])  // scale 3, codes −1…1
    }

    @Test func groupLeavesThePartialGroupUnquantized() throws {
        // 3 tokens × 2 channels, group:2 → tokens 0–1 quantized per channel, token 2 kept.
        let x: [Float] = [1.1, 10, 2.2, 20, 3.3333, 30.333]
        let (v, _, side) = try run("int4/group:2", x, shape: [3, 2])
        #expect(side.unquantized == 2 && side.scales.count == 2)
        #expect(v[4] == 3.3333 && v[5] == 30.333)
        #expect(abs(v[0] - 1.1) <= 2.2 / 7 / 2 + 1e-6)
    }

    @Test func perChannelAndPerHead() throws {
        let x: [Float] = [1, 100, 2, 200, /* head 2 */ 4, 400, 8, 800]
        let ch = try run("e4m3/per-channel", x, shape: [2, 2, 2])
        #expect(ch.side.scales.count == 4)
        #expect(ch.side.scales[1] == Float(200) / 448)
        let hd = try run("e4m3/per-head", x, shape: [2, 2, 2])
        #expect(hd.side.scales == [Float(200) / 448, Float(800) / 448])
    }

    // MARK: fast path ≡ exact path

    static func probeValues() -> [Float] {
        var x: [Float] = [0, -0, .infinity, -.infinity, .nan, 448, 464, 465, 480, 57344, 61440, 65504, 65520,
            Float.leastNonzeroMagnitude, Float.leastNormalMagnitude, Float.greatestFiniteMagnitude, 1, -1, 0.998046875]
        let rng = CounterRandom(seed: 7)
        for i in 0..<6000 {
            let b = rng.bits(i)
            x.append(Float(bitPattern: b))  // every binade, NaN payloads, subnormals
            x.append(Float(bitPattern: (b & 0x807F_FFFF) | (UInt32(100 + (i % 60)) << 23)))  // 2^-27…2^32
        }
        return x
    }

    @Test(arguments: ElementFormat.named.filter { $0.mantissaBits > 0 })
    func fastPathMatchesExactPath(format: ElementFormat) throws {
        let x = Self.probeValues()
        let modes: [RoundingMode] = [.nearestEven, .nearestAway, .towardZero, .up, .down, .toOdd, .stochastic(bits: 32), .stochastic(bits: 5)]
        for mode in modes {
            for policy in OverflowPolicy.allCases {
                for flush in [false, true] {
                    let r = ElementRounder(format: format, rounding: mode, overflow: policy, flushSubnormals: flush)
                    let k = try #require(FastElementKernel(r))
                    var out = [Float](repeating: 0, count: x.count)
                    let rng = CounterRandom(seed: 3, role: "state")
                    x.withUnsafeBufferPointer { xp in out.withUnsafeMutableBufferPointer { k.run(xp, into: $0, random: rng, offset: 5) } }
                    for i in 0..<x.count {
                        let want = r.round(x[i], random: rng.bits(5 + i))
                        let ok = want.isNaN ? out[i].isNaN : want.bitPattern == out[i].bitPattern
                        if !ok {
                            Issue.record("\(format.name) \(mode) \(policy) flush=\(flush): x=\(x[i]) fast=\(out[i]) exact=\(want)")
                            return
                        }
                    }
                }
            }
        }
    }

    @Test func fastE8M0MatchesExactPath() throws {
        var x = Self.probeValues()
        x += [0x1p-127, 0x1.8p-127, 0x1.7fp-127, 0x1.0p-126, 0x1.8p0, 0x1.8p127, 0x1.fffffep127, 3.0e38, -2, 0x1p-149]
        for spec in ["e8m0", "e8m0/ieee", "e8m0/nearest-away"] {
            let s = try FormatSpec.parse(spec)
            var fast = [Float](repeating: 0, count: x.count)
            let side = x.withUnsafeBufferPointer { xp in fast.withUnsafeMutableBufferPointer { s.quantizeFast(xp, shape: [x.count], into: $0) } }
            #expect(side != nil)
            let r = s.elementRounder!
            for i in 0..<x.count {
                let want = r.round(x[i])
                let ok = want.isNaN ? fast[i].isNaN : want.bitPattern == fast[i].bitPattern
                if !ok {
                    Issue.record("\(spec): x=\(x[i]) fast=\(fast[i]) exact=\(want)")
                    return
                }
            }
        }
    }

    @Test(arguments: ["e4m3/per-token", "e4m3/block:128/pow2", "mxfp8_e4m3", "mxfp6_e3m2/ceil", "mxfp4/even", "nvfp4",
        "nvfp4/no-tensor-scale", "bf16/stochastic", "e5m2/per-tensor/up", "e4m3/per-head/stochastic:7",
        "int8/per-token", "int4/block:32/nearest-away", "int8/per-head/toward-zero", "int2/per-token/round-to-odd",
        "int8/per-token/up", "int4/per-token/down", "mxint8", "mxint8/ceil"])
    func fastScaledPathMatchesExactPath(spec: String) throws {
        let s = try FormatSpec.parse(spec)
        let rng = CounterRandom(seed: 11)
        var x = (0..<(4 * 3 * 256)).map { i -> Float in
            let u = Float(rng.bits(i) >> 8) * 0x1p-24 - 0.5
            return u * Float(1 << (i % 13)) * (i % 97 == 0 ? 1000 : 1)
        }
        x[700] = .nan
        let shape = [4, 3, 256]
        var fast = [Float](repeating: 0, count: x.count)
        var exact = [Float](repeating: 0, count: x.count)
        let rr = CounterRandom(seed: 5, role: "k_cache")
        let fs = x.withUnsafeBufferPointer { xp in fast.withUnsafeMutableBufferPointer { s.quantizeFast(xp, shape: shape, into: $0, random: rr) } }
        let es = x.withUnsafeBufferPointer { xp in exact.withUnsafeMutableBufferPointer { s.quantize(xp, shape: shape, into: $0, random: rr) } }
        #expect(fs != nil)
        #expect(fs?.scales.count == es.scales.count)
        for i in 0..<x.count {
            let ok = exact[i].isNaN ? fast[i].isNaN : exact[i].bitPattern == fast[i].bitPattern
            if !ok {
                Issue.record("\(spec): element \(i) x=\(x[i]) fast=\(fast[i]) exact=\(exact[i])")
                return
            }
        }
    }

    @Test func round8MatchesElement() throws {
        let x = Self.probeValues()
        for (f, mode) in [(ElementFormat.bfloat16, RoundingMode.nearestEven), (.float8_e4m3fn, .nearestEven),
            (.float16, .towardZero), (.float4_e2m1fn, .stochastic(bits: 32))] {
            let r = ElementRounder(format: f, rounding: mode)
            let k = try #require(FastElementKernel(r))
            let c = FastElementKernel.VectorConstants(k)
            let rng = CounterRandom(seed: 1)
            for i in stride(from: 0, to: x.count - 8, by: 8) {
                let v = SIMD8<Float>((0..<8).map { x[i + $0] })
                let y = k.round8(v, random: rng.bits8(i), c)
                for j in 0..<8 {
                    let want = r.round(x[i + j], random: rng.bits(i + j))
                    #expect(want.isNaN ? y[j].isNaN : want.bitPattern == y[j].bitPattern, "\(f.name) \(mode) x=\(x[i + j])")
                }
            }
        }
    }

    /// NVFP4 block scales that land in E4M3's subnormal range, or round to zero, take the same
    /// values (and codes) on the fast path as on the exact one.
    @Test func nvfp4TinyBlockScales() throws {
        var x = [Float](repeating: 0, count: 16 * 8)
        x[0] = 1000
        for (block, amax) in [(1, Float(1e-4)), (2, 3e-3), (3, 1e-9), (4, 0), (5, 0.05), (6, 2e-5), (7, 7e-3)] {
            for j in 0..<16 { x[block * 16 + j] = amax * Float(16 - j) / 16 * (j % 2 == 0 ? 1 : -1) }
        }
        let s = try FormatSpec.parse("nvfp4")
        var fast = [Float](repeating: 0, count: x.count)
        var exact = [Float](repeating: 0, count: x.count)
        let fs = x.withUnsafeBufferPointer { xp in fast.withUnsafeMutableBufferPointer { s.quantizeFast(xp, shape: [8, 16], into: $0) } }
        let es = x.withUnsafeBufferPointer { xp in exact.withUnsafeMutableBufferPointer { s.quantize(xp, shape: [8, 16], into: $0) } }
        #expect(fs?.scales == es.scales && fs?.scaleCodes == es.scaleCodes)
        #expect(es.scaleCodes?.contains(where: { $0 > 0 && $0 < 8 }) == true)  // a subnormal E4M3 scale occurs
        #expect(fast.map(\.bitPattern) == exact.map(\.bitPattern))
    }

    @Test func stochasticBitsDoNotDependOnTheSplit() throws {
        let s = try FormatSpec.parse("e4m3/stochastic")
        let x = (0..<1000).map { Float($0) * 0.0137 }
        let rng = CounterRandom(seed: 9, role: "state", head: 2, step: 17)
        var whole = [Float](repeating: 0, count: 1000)
        var pieces = [Float](repeating: 0, count: 1000)
        let r = s.elementRounder!
        x.withUnsafeBufferPointer { xp in
            whole.withUnsafeMutableBufferPointer { _ = r.quantizeElements(xp, into: $0, codes: nil, random: rng, offset: 0) }
            pieces.withUnsafeMutableBufferPointer { op in
                for start in stride(from: 0, to: 1000, by: 137) {
                    let end = min(start + 137, 1000)
                    _ = r.quantizeElements(
                        UnsafeBufferPointer(rebasing: xp[start..<end]), into: UnsafeMutableBufferPointer(rebasing: op[start..<end]),
                        codes: nil, random: rng, offset: start)
                }
            }
        }
        #expect(whole == pieces)
    }
}
