import ExactArithmetic
import Foundation
import NumberFormats
import Testing
import Workloads
@testable import AttentionVariants

@Suite struct SoftmaxQuantizedCacheTests {
    /// group:N (KIVI keys): the newest partial group reads back exactly; a full group is
    /// quantized once with per-channel scales and never changes afterwards.
    @Test func groupCacheKeepsThePartialGroupExact() throws {
        let spec = try FormatSpec.parse("int4/group:4")
        var c = try QuantizedRows(spec: spec, role: "k_cache", width: 8, seed: 0, head: 0)
        let gen = InputGenerator(seed: 1, stream: "k", dimension: 8, distribution: .channelOutliers(count: 1))
        var out = [Double](repeating: 0, count: 8)
        var firstGroup: [[Double]] = []
        for t in 0..<10 {
            let row = gen.row(head: 0, position: t)
            row.withUnsafeBufferPointer { c.append($0) }
            out.withUnsafeMutableBufferPointer { c.read(row: t, into: $0) }
            if t % 4 != 3 && t >= 8 { #expect(out == row) }
            if t == 3 {
                for r in 0..<4 {
                    out.withUnsafeMutableBufferPointer { c.read(row: r, into: $0) }
                    firstGroup.append(out)
                }
                #expect(firstGroup[0] != gen.row(head: 0, position: 0))
            }
        }
        for r in 0..<4 {
            out.withUnsafeMutableBufferPointer { c.read(row: r, into: $0) }
            #expect(out == firstGroup[r])
        }
        #expect(c.storedBytes == 8 * 8 + 4 * 2 * 8 + 2 * 8 * 4)
    }

    /// A static per-tensor scale (vLLM's calibrated fp8 KV scale) works on a growing cache: the
    /// entries are those of per-token/fixed:S, bit for bit, the scale is stored once (bytes per
    /// token: the codes alone); a data-dependent per-tensor scale is still refused.
    @Test func staticPerTensorScaleIsStoredOnce() throws {
        let width = 32
        var tensor = try QuantizedRows(spec: try FormatSpec.parse("float8_e4m3fn/per-tensor/fixed:0.0125"), role: "k_cache", width: width, seed: 0, head: 0)
        var token = try QuantizedRows(spec: try FormatSpec.parse("float8_e4m3fn/per-token/fixed:0.0125"), role: "k_cache", width: width, seed: 0, head: 0)
        let gen = InputGenerator(seed: 6, stream: "k", dimension: width, distribution: .sparseOutliers(probability: 0.05))
        var a = [Double](repeating: 0, count: width), b = a
        for t in 0..<50 {
            gen.row(head: 0, position: t).withUnsafeBufferPointer { tensor.append($0); token.append($0) }
            a.withUnsafeMutableBufferPointer { tensor.read(row: t, into: $0) }
            b.withUnsafeMutableBufferPointer { token.read(row: t, into: $0) }
            #expect(a.map(\.bitPattern) == b.map(\.bitPattern))
        }
        #expect(tensor.relativeError == token.relativeError && tensor.relativeError > 0)
        #expect(tensor.bytesPerToken == Double(width) && token.bytesPerToken == Double(width + 4))
        #expect(tensor.storedBytes == 50 * width + 4 && token.storedBytes == 50 * (width + 4))
        #expect(throws: InputError.self) {
            try QuantizedRows(spec: try FormatSpec.parse("float8_e4m3fn/per-tensor"), role: "k_cache", width: width, seed: 0, head: 0)
        }
        // The configs' byte counts follow the cache's.
        var recipe = Recipe()
        recipe[.kCache] = try FormatSpec.parse("float8_e4m3fn/per-tensor/fixed:0.0125")
        recipe[.vCache] = try FormatSpec.parse("float8_e4m3fn/per-token/fixed:0.0125")
        let config = SoftmaxAttentionConfig(queryHeads: 1, kvHeads: 1, headDim: width, valueDim: width)
        #expect(config.cacheBytesPerToken(recipe: recipe) == Double(2 * width + 4))
    }

    /// 32-bit element formats keep 4-byte codes: a float32 cache of float32 rows is exact, a tf32
    /// one rounds to 10 mantissa bits (relative error below 2^-11).
    @Test func wideFormatsKeepFourByteCodes() throws {
        let gen = InputGenerator(seed: 2, stream: "k", dimension: 16)
        var f32 = try QuantizedRows(spec: try FormatSpec.parse("float32"), role: "k_cache", width: 16, seed: 0, head: 0)
        var tf32 = try QuantizedRows(spec: try FormatSpec.parse("tf32"), role: "k_cache", width: 16, seed: 0, head: 0)
        var out = [Double](repeating: 0, count: 16)
        for t in 0..<20 {
            let row = gen.row(head: 0, position: t)
            row.withUnsafeBufferPointer { f32.append($0); tf32.append($0) }
            out.withUnsafeMutableBufferPointer { f32.read(row: t, into: $0) }
            #expect(out == row)
        }
        #expect(f32.relativeError == 0 && f32.storedBytes == 20 * 16 * 4)
        #expect(tf32.relativeError > 0 && tf32.relativeError < 0x1p-11)
    }

    /// Codes + scales reproduce the quantizer's output for every cache granularity and a
    /// range of element formats (the append checks it bit for bit; here it must not trap).
    @Test(arguments: ["float8_e4m3fn", "float8_e4m3fn/per-token", "float8_e5m2/block:32", "bfloat16",
                      "int8/per-token", "int4/block:16/asym", "mxfp4", "nvfp4", "float8_e4m3fn/block:128/pow2",
                      "float8_e4m3fn/per-token/stochastic", "int4/group:8"])
    func codesRoundTrip(spec: String) throws {
        var c = try QuantizedRows(spec: try FormatSpec.parse(spec), role: "v_cache", width: 128, seed: 3, head: 1)
        let gen = InputGenerator(seed: 2, stream: "v", dimension: 128, distribution: .sparseOutliers(probability: 0.01))
        for t in 0..<40 { gen.row(head: 0, position: t).withUnsafeBufferPointer { c.append($0) } }
        #expect(c.count == 40)
        #expect(c.relativeError > 0 || spec == "bfloat16")
        #expect(c.relativeError < 0.5)
    }

    /// `read(row:)` (through the decode table for element formats and per-token scales) gives
    /// the bits of the element-wise dequantization, also for zero rows (zero scale), NaN and Inf.
    @Test(arguments: ["float8_e4m3fn", "float8_e4m3fn/per-token", "float8_e5m2", "bfloat16", "float16/per-token",
                      "float8_e5m2/per-token/stochastic", "int8/per-token", "float8_e4m3fn/block:32"])
    func rowReadsMatchElementReads(spec: String) throws {
        var c = try QuantizedRows(spec: try FormatSpec.parse(spec), role: "k_cache", width: 64, seed: 5, head: 0)
        let gen = InputGenerator(seed: 4, stream: "k", dimension: 64, distribution: .sparseOutliers(probability: 0.05))
        var rows = (0..<6).map { gen.row(head: 0, position: $0) }
        rows.append([Double](repeating: 0, count: 64))
        rows.append(rows[0].enumerated().map { $0.offset == 3 ? .nan : $0.element })
        rows.append(rows[1].enumerated().map { $0.offset == 9 ? .infinity : $0.element * 1e6 })
        for r in rows { r.withUnsafeBufferPointer { c.append($0) } }
        var out = [Double](repeating: 0, count: 64)
        for t in rows.indices {
            out.withUnsafeMutableBufferPointer { c.read(row: t, into: $0) }
            for ch in 0..<64 {
                let v = Double(c.value(row: t, channel: ch))
                #expect(v.bitPattern == out[ch].bitPattern || (v.isNaN && out[ch].isNaN), "\(spec) row \(t) channel \(ch): \(out[ch]) vs \(v)")
            }
        }
    }

    /// Every stored row is checked for non-finite values, at the position that stored it: an
    /// overflow to NaN under a fixed scale with IEEE overflow, an fp16 overflow to ∞;
    /// truncating keeps the count; saturating bf16 stores nothing non-finite.
    @Test func nonFiniteStoresAreCountedWhereWritten() throws {
        var c = try QuantizedRows(spec: try FormatSpec.parse("float8_e4m3fn/per-token/fixed:0.010/ieee"), role: "k_cache", width: 4, seed: 0, head: 0)
        for t in 0..<6 {
            let row: [Double] = t == 3 ? [1e6, 0.001, 0, 0] : [0.001, -0.002, 0, 0.003]
            row.withUnsafeBufferPointer { c.append($0) }
        }
        #expect(c.nonFinite.count == 1 && c.nonFinite.first == 3)
        c.truncate(to: 2)
        #expect(c.nonFinite.count == 1 && c.nonFinite.first == 3)
        var g = try QuantizedRows(spec: try FormatSpec.parse("float16/ieee"), role: "k_cache", width: 2, seed: 0, head: 0)
        for t in 0..<4 { [t == 1 ? 1e9 : 1, 1].withUnsafeBufferPointer { g.append($0) } }
        #expect(g.nonFinite.count == 1 && g.nonFinite.first == 1)
        var clean = try QuantizedRows(spec: try FormatSpec.parse("bfloat16"), role: "k_cache", width: 2, seed: 0, head: 0)
        [1e30, -3].withUnsafeBufferPointer { clean.append($0) }
        #expect(clean.nonFinite == NonFiniteCount())
    }
}
