import Testing
@testable import NumberFormats

/// Inputs with every kind of value a quantizer treats apart: ties at 3 mantissa bits and at
/// 1 (bf16-like values), subnormal-range values, overflowing ones, zeros, NaN and ±Inf.
func conformanceInput(rows: Int = 8, cols: Int = 64, specials: Bool = true) -> [Float] {
    let g = CounterRandom(seed: 7, role: "conform")
    var x = (0..<(rows * cols)).map { i -> Float in
        let u = Float(g.bits(i) >> 8) / Float(1 << 24)
        let v = (u - 0.5) * 8
        return Float(bitPattern: v.bitPattern & 0xFFFF_0000)  // bf16 values: ties at ≤ 7 mantissa bits
    }
    if specials {
        let extra: [Float] = [1e-3, -2.5e-3, 1.0625, -1.1875, 0.3125, 5000, -70000, 0, -0.0, 3e-6, 1e-30, 0.25, 1.25, -2.5, 5]
        for (k, v) in extra.enumerated() { x[cols + 3 * k] = v }
    }
    return x
}

@Suite struct ConformanceTests {
    /// The fast codes are the exact path's codes (and its values and scales), bit for bit.
    @Test(arguments: [
        "e4m3", "e4m3/ieee", "e4m3/nearest-away", "e4m3/toward-zero", "e4m3/up", "e4m3/down", "e4m3/round-to-odd", "e4m3/flush",
        "e4m3fnuz", "e5m2", "e5m2/ieee", "e5m2fnuz/ieee", "e3m4", "e2m3", "e3m2", "e2m1", "bf16", "fp16", "fp16/ieee/flush", "tf32",
        "bf16/stochastic", "e4m3/stochastic:8", "e4m3/per-token", "e4m3/per-tensor/nearest-away", "e4m3/block:32", "e4m3/block:12",
        "e5m2/per-head", "mxfp8_e4m3", "mxfp8_e5m2", "mxfp6_e2m3", "mxfp6_e3m2", "mxfp4", "mxfp4/toward-zero", "nvfp4",
        "nvfp4/no-tensor-scale", "e4m3/block:16/pow2", "float32",
    ])
    func fastCodesMatchExact(spec text: String) throws {
        let spec = try FormatSpec.parse(text)
        var x = conformanceInput(rows: 4, cols: 96)
        x[5] = .nan
        x[9] = -.infinity
        let shape = [2, 2, 96]
        var zeroRow = conformanceInput(rows: 4, cols: 96)
        for i in 96..<192 { zeroRow[i] = 0 }  // an all-zero scale group
        for input in [x, conformanceInput(rows: 4, cols: 96), zeroRow] {
            var fv = [Float](repeating: 0, count: input.count), ev = fv
            var fc = [UInt32](repeating: 0, count: input.count), ec = fc
            let random = FormatSpec.quantizeRandom(seed: 3)
            let fs = input.withUnsafeBufferPointer { xp in
                fv.withUnsafeMutableBufferPointer { vp in fc.withUnsafeMutableBufferPointer { spec.quantizeFastCodes(xp, shape: shape, into: vp, codes: $0, random: random) } }
            }
            let es = input.withUnsafeBufferPointer { xp in
                ev.withUnsafeMutableBufferPointer { vp in ec.withUnsafeMutableBufferPointer { spec.quantize(xp, shape: shape, into: vp, codes: $0, random: random) } }
            }
            let side = try #require(fs, "no fast codes for \(text)")
            let differ = (0..<input.count).filter { fc[$0] != ec[$0] }
            #expect(differ.isEmpty, "\(text): \(differ.count) codes differ, first at \(differ.first ?? -1): \(differ.first.map { (input[$0], fc[$0], ec[$0]) }.debugDescription)")
            #expect(side.scales.map(\.bitPattern) == es.scales.map(\.bitPattern) && side.scaleCodes == es.scaleCodes)
        }
    }

    @Test func integersAndOtherGranularitiesTakeTheExactPath() throws {
        let x = conformanceInput(rows: 4, cols: 64)
        var v = [Float](repeating: 0, count: x.count)
        var c = [UInt32](repeating: 0, count: x.count)
        for text in ["int8/per-token", "e4m3/per-channel", "e4m3/group:2", "e8m0"] {
            let spec = try FormatSpec.parse(text)
            let r = x.withUnsafeBufferPointer { xp in v.withUnsafeMutableBufferPointer { vp in c.withUnsafeMutableBufferPointer { spec.quantizeFastCodes(xp, shape: [4, 64], into: vp, codes: $0) } } }
            #expect(r == nil, "\(text)")
        }
    }

    /// An encoding made with `alt` compared against `spec`: the classes found and the
    /// explanation's spec.
    func check(_ spec: String, theirs alt: String, input: [Float]? = nil, shape: [Int] = [8, 64]) throws -> (ConformanceResult, [Explanation]) {
        let s = try FormatSpec.parse(spec)
        let x = input ?? conformanceInput()
        let theirs = try FormatSpec.parse(alt).reference(x, shape: shape)
        let result = Conformance.compare(spec: s, input: x, shape: shape, theirs: theirs)
        return (result, Conformance.explain(result, input: x, theirs: theirs))
    }

    @Test func conformingEncodingConforms() throws {
        for text in ["e4m3", "mxfp4", "nvfp4", "int4/group:4/asym", "bf16", "int8/per-token", "mxint8", "e5m2/block:32/pow2"] {
            let (r, _) = try check(text, theirs: text)
            #expect(r.conforms, "\(text): \(r.verdict)")
            #expect(r.verdict.hasPrefix("CONFORMS"))
        }
    }

    /// Ties away from zero, for every element format of 16 bits or fewer: found as ties, and
    /// explained as nearest-away.
    @Test(arguments: ElementFormat.named.filter { $0.bitWidth <= 16 && $0.mantissaBits > 0 && $0.mantissaBits < 7 }.map(\.name))
    func tiesAwayAreFoundAndExplained(format: String) throws {
        let (r, e) = try check(format, theirs: "\(format)/nearest-away")
        #expect(!r.conforms, "\(format): no tie in the input")
        #expect(r.counts.map(\.0) == [.tie], "\(format): \(r.counts)")
        #expect(e.first?.spec?.rounding == .nearestAway, "\(format): \(e)")
    }

    @Test(arguments: ["e4m3", "e5m2", "e3m4", "e2m3", "e2m1", "e4m3fnuz", "e3m2"])
    func truncationIsOffByOneCodeAndExplained(format: String) throws {
        let (r, e) = try check(format, theirs: "\(format)/toward-zero")
        #expect(Set(r.counts.map(\.0)).isSubset(of: [.offByOne, .subnormal, .tie]), "\(r.counts)")
        #expect(r.counts.contains { $0.0 == .offByOne })
        #expect(e.allSatisfy { $0.spec?.rounding == .towardZero }, "\(e)")
    }

    @Test(arguments: ["e4m3", "e5m2", "fp16", "e4m3fnuz", "e3m4"])
    func overflowPolicyIsFoundAndExplained(format: String) throws {
        let spec = try FormatSpec.parse(format)
        let other = spec.overflow == .saturate ? "ieee" : "saturate"
        var x = conformanceInput(specials: false)
        x[1] = 1e30; x[2] = -1e30; x[3] = .infinity
        let (r, e) = try check(format, theirs: "\(format)/\(other)", input: x)
        #expect(r.counts.map(\.0) == [.overflow], "\(format): \(r.counts)")
        #expect(e.first?.spec?.overflow.rawValue == other, "\(e)")
    }

    @Test(arguments: ["e4m3", "e5m2", "e2m1", "bf16", "fp16", "e3m2"])
    func flushIsFoundAndExplained(format: String) throws {
        let f = try #require(ElementFormat.named(format))
        var x = conformanceInput(specials: false)
        let (lo, hi) = (Float(f.minSubnormal!), Float(f.minNormal))  // the subnormal range
        for k in 0..<16 { x[4 * k] = (lo + (hi - lo) * Float(k) / 16) * (k % 2 == 0 ? 1 : -1) }
        let (r, e) = try check(format, theirs: "\(format)/flush", input: x)
        #expect(r.counts.map(\.0) == [.subnormal], "\(format): \(r.counts)")
        #expect(e.first?.spec?.flushSubnormals == true, "\(e)")
    }

    @Test func nanEncodingIsFound() throws {
        var x = conformanceInput()
        x[0] = .nan
        let s = try FormatSpec.parse("e2m1")
        var theirs = s.reference(x, shape: [8, 64])
        theirs.codes[0] = 0  // +0 for NaN instead of ml_dtypes' −0
        let r = Conformance.compare(spec: s, input: x, shape: [8, 64], theirs: theirs)
        #expect(r.counts.map(\.0) == [.nan])
    }

    /// MX: a kernel using ceil (or rceil, even) instead of OCP floor: the scale exponent class,
    /// the codes that follow it, and the rule named.
    @Test(arguments: ["mxfp8_e4m3", "mxfp8_e5m2", "mxfp6_e2m3", "mxfp6_e3m2", "mxfp4", "mxint8"])
    func mxScaleRulesAreFoundAndExplained(family: String) throws {
        let (r, e) = try check(family, theirs: "\(family)/ceil")
        #expect(r.counts.contains { $0.0 == .scaleExponent }, "\(r.counts)")
        #expect(Set(r.counts.map(\.0)).isSubset(of: [.scaleExponent, .followsScale]), "\(r.counts)")
        #expect(r.mismatches.filter { $0.kind == .scaleExponent }.allSatisfy { $0.steps == 1 })
        let scale = try #require(e.first { $0.kind == .scaleExponent })
        #expect(scale.spec?.scaleRule == .mx(.ceil), "\(e)")
    }

    /// Torch-style absmax scales: amax × fl32(1/max) instead of amax / max.
    @Test(arguments: ["e4m3/per-token", "e5m2/block:4", "int8/per-token", "e2m1/per-token"])
    func torchStyleScalesAreFoundAndExplained(text: String) throws {
        let spec = try FormatSpec.parse(text)
        let x = conformanceInput(specials: false)
        let shape = [64, 8]  // 64 groups: some where amax × fl32(1/max) ≠ amax / max
        let layout = ScaleLayout(shape: shape, granularity: spec.granularity!)
        var amax = [Float](repeating: 0, count: layout.scaleCount)
        for i in x.indices { amax[layout.scaleIndex(i)!] = max(amax[layout.scaleIndex(i)!], x[i].magnitude) }
        let (divisor, _) = Conformance.torchDivisor(spec)
        let scales = amax.map { $0 * (1 / divisor) }
        let codes = x.indices.map { spec.code(x[$0], (scales[layout.scaleIndex($0)!], 0, 1), random: 0) }
        let theirs = Encoding(codes: codes, scales: scales)
        let r = Conformance.compare(spec: spec, input: x, shape: shape, theirs: theirs)
        #expect(r.counts.contains { $0.0 == .scaleValue }, "\(text): \(r.counts)")
        #expect(r.mismatches.filter { $0.kind == .scaleValue }.allSatisfy { abs($0.steps) == 1 })
        let e = Conformance.explain(r, input: x, theirs: theirs)
        #expect(e.first { $0.kind == .scaleValue }?.match?.contains("torch-style") == true, "\(e)")
    }

    @Test func nvfp4WithoutItsTensorScaleIsExplained() throws {
        let (r, e) = try check("nvfp4", theirs: "nvfp4/no-tensor-scale")
        #expect(r.counts.contains { $0.0 == .scaleValue }, "\(r.counts)")
        #expect(e.first { $0.kind == .scaleValue }?.spec?.scaleRule == .nvfp4(tensorScale: false), "\(e)")
    }

    @Test func reportShowsExamplesAndVerdict() throws {
        let (r, e) = try check("e4m3", theirs: "e4m3/nearest-away")
        let text = r.text(examples: 2, explanations: e)
        #expect(text.contains("tie broken differently: \(r.codeMismatches)"))
        #expect(text.contains("index") && text.contains("0x3"))  // hex input
        #expect(text.contains("these match `float8_e4m3fn/nearest-away`"))
        #expect(text.split(separator: "\n").last!.hasPrefix("DOES NOT CONFORM to `float8_e4m3fn`"))
        let junit = r.junit(file: "c.npy")
        #expect(junit.contains("<testcase name=\"codes\"") && junit.contains("type=\"NotConforming\""))
        #expect(ConformanceResult.position(70, shape: [2, 3, 16]) == "(1, 1, 6)")
    }
}
