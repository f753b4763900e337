import Dispatch
import ExactArithmetic
import Foundation
import NumberFormats
import Workloads

/// Rows of a KV cache as a fused binary32 decode reads them.
public protocol FastRows {
    var width: Int { get }
    /// Σ_j q_j · row_s[j] (scaled rows: the scale multiplies the sum, as fp8 kernels do).
    func dot(_ q: UnsafePointer<Float>, row s: Int) -> Float
    /// acc ← acc + w · row_s.
    func accumulate(_ acc: UnsafeMutablePointer<Float>, weight w: Float, row s: Int)
}

/// An unquantized binary32 cache (the baseline): n × width floats.
public struct Float32Rows: FastRows {
    public let base: UnsafePointer<Float>
    public let width: Int
    public init(base: UnsafePointer<Float>, width: Int) {
        self.base = base
        self.width = width
    }

    @inline(__always)
    public func dot(_ q: UnsafePointer<Float>, row s: Int) -> Float {
        let r = base + s * width
        var a0 = SIMD8<Float>(), a1 = SIMD8<Float>()
        var j = 0
        while j + 16 <= width {
            a0 = a0 + UnsafeRawPointer(q + j).loadUnaligned(as: SIMD8<Float>.self) * UnsafeRawPointer(r + j).loadUnaligned(as: SIMD8<Float>.self)
            a1 = a1 + UnsafeRawPointer(q + j + 8).loadUnaligned(as: SIMD8<Float>.self) * UnsafeRawPointer(r + j + 8).loadUnaligned(as: SIMD8<Float>.self)
            j += 16
        }
        var s = (a0 + a1).sum()
        while j < width { s = s + q[j] * r[j]; j += 1 }
        return s
    }

    @inline(__always)
    public func accumulate(_ acc: UnsafeMutablePointer<Float>, weight w: Float, row s: Int) {
        let r = base + s * width
        let ws = SIMD8<Float>(repeating: w)
        var j = 0
        while j + 8 <= width {
            let a = UnsafeMutableRawPointer(acc + j)
            a.storeBytes(of: a.loadUnaligned(as: SIMD8<Float>.self) + ws * UnsafeRawPointer(r + j).loadUnaligned(as: SIMD8<Float>.self), as: SIMD8<Float>.self)
            j += 8
        }
        while j < width { acc[j] = acc[j] + w * r[j]; j += 1 }
    }
}

/// A cache of e4m3 (float8_e4m3fn) codes with one binary32 scale per row (per-token
/// scaling), decoded eight at a time, exactly, for every code but the NaN pair 0x7F/0xFF
/// (which a saturating quantizer never writes); value = decode(code) · scale.
///
/// With `-target-cpu native` (ATTNPREC_NATIVE) or the portable x86-64-v3 build (ATTNPREC_PORTABLE,
/// whose level includes F16C) the code's bits shifted left by 7 are the
/// binary16 of value·2^−8 (subnormals included), widened by the hardware half→single
/// conversion; otherwise integer arithmetic builds the binary32 bits (s | (e+120)<<23 | m<<20)
/// and fixes the subnormal codes (e = 0) as 2(n − 2^−7) without vector masks.
public struct E4M3Rows: FastRows {
    public let codes: UnsafePointer<UInt8>
    public let scales: UnsafePointer<Float>
    public let width: Int
    public init(codes: UnsafePointer<UInt8>, scales: UnsafePointer<Float>, width: Int) {
        self.codes = codes
        self.scales = scales
        self.width = width
    }

    /// `decode8` returns value / `decodeScale` (2^−8 with the binary16 path; the power of two is
    /// folded into the row scale, so products round exactly as value · scale would).
    #if ATTNPREC_NATIVE || ATTNPREC_PORTABLE
    static let decodeScale: Float = 256
    #else
    static let decodeScale: Float = 1
    #endif

    @inline(__always)
    static func decode8(_ p: UnsafePointer<UInt8>) -> SIMD8<Float> {
        let b = UnsafeRawPointer(p).loadUnaligned(as: SIMD8<UInt8>.self)
        #if ATTNPREC_NATIVE || ATTNPREC_PORTABLE
        let c = SIMD8<UInt16>(truncatingIfNeeded: b)
        let h = ((c & 0x7F) &<< 7) | ((c & 0x80) &<< 8)
        return SIMD8<Float>(unsafeBitCast(h, to: SIMD8<Float16>.self))
        #else
        let c = SIMD8<UInt32>(truncatingIfNeeded: b)
        let mag = c & 0x7F
        let sign = (c & 0x80) &<< 24
        let n = unsafeBitCast((mag &<< 20) &+ SIMD8<UInt32>(repeating: 120 << 23), to: SIMD8<Float>.self)
        let sub = SIMD8<UInt32>(repeating: 1) &- ((mag &+ SIMD8<UInt32>(repeating: 0x78)) &>> 7)  // 1 iff mag < 8
        let factor = unsafeBitCast(SIMD8<UInt32>(repeating: 0x3F80_0000) &+ sub &* 0x0080_0000, to: SIMD8<Float>.self)
        let offset = unsafeBitCast(sub &* 0x3C80_0000, to: SIMD8<Float>.self)  // 2^-6 for subnormal codes
        let v = n * factor - offset
        return unsafeBitCast(unsafeBitCast(v, to: SIMD8<UInt32>.self) | sign, to: SIMD8<Float>.self)
        #endif
    }

    @inline(__always)
    static func decode1(_ code: UInt8) -> Float {
        let mag = UInt32(code & 0x7F)
        let v = mag < 8 ? Float(mag) * 0x1p-9 : Float(bitPattern: (mag << 20) + (120 << 23))
        return code & 0x80 != 0 ? -v : v
    }

    @inline(__always)
    public func dot(_ q: UnsafePointer<Float>, row s: Int) -> Float {
        let c = codes + s * width
        var a0 = SIMD8<Float>(), a1 = SIMD8<Float>()
        var j = 0
        while j + 16 <= width {
            a0 = a0 + UnsafeRawPointer(q + j).loadUnaligned(as: SIMD8<Float>.self) * Self.decode8(c + j)
            a1 = a1 + UnsafeRawPointer(q + j + 8).loadUnaligned(as: SIMD8<Float>.self) * Self.decode8(c + j + 8)
            j += 16
        }
        var sum = (a0 + a1).sum()
        while j < width { sum = sum + q[j] * (Self.decode1(c[j]) / Self.decodeScale); j += 1 }
        return sum * (scales[s] * Self.decodeScale)
    }

    @inline(__always)
    public func accumulate(_ acc: UnsafeMutablePointer<Float>, weight w: Float, row s: Int) {
        let c = codes + s * width
        let ws = SIMD8<Float>(repeating: w * scales[s] * Self.decodeScale)
        var j = 0
        while j + 8 <= width {
            let r = UnsafeMutableRawPointer(acc + j)
            r.storeBytes(of: r.loadUnaligned(as: SIMD8<Float>.self) + ws * Self.decode8(c + j), as: SIMD8<Float>.self)
            j += 8
        }
        while j < width { acc[j] = acc[j] + ws[0] * (Self.decode1(c[j]) / Self.decodeScale); j += 1 }
    }
}

/// A fused binary32 decode of one query over rows [0, n): scores in tiles of 32 keys, one
/// running-max rescale per tile, `expf` as glibc computes it (`ReproducibleExpf`: the same bits on every machine). Not a reference kernel: it agrees
/// with the generic `SoftmaxDecode` on the Float32 backend to ≈1e-6 relative (a test checks
/// ≤ 1e-5), and exists for throughput (`attnprec bench`).
public enum SoftmaxFastDecode {
    public static let tile = 32

    /// out ← softmax(q·K) V for the first n rows; q already scaled; scratch ≥ tile floats.
    @inlinable
    public static func attend<K: FastRows, V: FastRows>(
        q: UnsafePointer<Float>, keys: K, values: V, count n: Int, out: UnsafeMutablePointer<Float>, scratch: UnsafeMutablePointer<Float>
    ) {
        let dv = values.width
        var m = -Float.infinity, l: Float = 0
        for j in 0..<dv { out[j] = 0 }
        var start = 0
        while start < n {
            let count = min(tile, n - start)
            var tileMax = -Float.infinity
            for i in 0..<count {
                let s = keys.dot(q, row: start + i)
                scratch[i] = s
                if s > tileMax { tileMax = s }
            }
            if tileMax > m {
                let c = ReproducibleExpf.exp(m - tileMax)
                l = l * c
                for j in 0..<dv { out[j] = out[j] * c }
                m = tileMax
            }
            ReproducibleExpf.expShifted(scratch, count: count, minus: m)
            for i in 0..<count {
                let p = scratch[i]
                l = l + p
                values.accumulate(out, weight: p, row: start + i)
            }
            start += count
        }
        let r = 1 / l
        for j in 0..<dv { out[j] = out[j] * r }
    }
}

/// `attnprec bench`: softmax decode at a long context, e4m3 per-token KV codes dequantized on
/// read beside a plain binary32 loop over an unquantized binary32 cache, same run.
public enum SoftmaxKernelBenchmark {
    public struct Result: Sendable {
        public var name: String
        public var queriesPerSecond: Double
        public var baselineName: String
        public var baselineQueriesPerSecond: Double
        /// baseline time / measured time (≥ 1/1.5 meets the target).
        public var ratio: Double { queriesPerSecond / baselineQueriesPerSecond }
        public var targetRatio: Double { 1 / 1.5 }
    }

    @inline(never)
    static func blackHole<T>(_ x: T) { withExtendedLifetime(x) {} }

    static func now() -> Double { Double(DispatchTime.now().uptimeNanoseconds) * 1e-9 }

    /// Context `context` (default 32k), head dim `d` (128), one KV head, queries cycling over
    /// 16 positions; each measurement repeats until `seconds` pass.
    public static func run(context: Int = 32768, d: Int = 128, seconds: Double = 0.5) throws -> Result {
        let spec = try FormatSpec.parse("float8_e4m3fn/per-token")
        let kGen = InputGenerator(seed: 0, stream: "k", dimension: d)
        let vGen = InputGenerator(seed: 0, stream: "v", dimension: d)
        var kF = [Float](repeating: 0, count: context * d), vF = kF
        var kC = [UInt8](repeating: 0, count: context * d), vC = kC
        var kS = [Float](repeating: 0, count: context), vS = kS
        var row = [Double](repeating: 0, count: d)
        var rowF = [Float](repeating: 0, count: d), deq = rowF
        var codes = [UInt32](repeating: 0, count: d)
        func fill(_ gen: InputGenerator, _ f: inout [Float], _ c: inout [UInt8], _ s: inout [Float]) {
            for t in 0..<context {
                row.withUnsafeMutableBufferPointer { gen.fill($0, head: 0, position: t) }
                for j in 0..<d { rowF[j] = Float(row[j]); f[t * d + j] = rowF[j] }
                let side = rowF.withUnsafeBufferPointer { inp in
                    deq.withUnsafeMutableBufferPointer { out in
                        codes.withUnsafeMutableBufferPointer { spec.quantize(inp, shape: [1, d], into: out, codes: $0) }
                    }
                }
                s[t] = side.scales[0]
                for j in 0..<d { c[t * d + j] = UInt8(truncatingIfNeeded: codes[j]) }
            }
        }
        fill(kGen, &kF, &kC, &kS)
        fill(vGen, &vF, &vC, &vS)
        let qGen = InputGenerator(seed: 0, stream: "q", dimension: d)
        let scale = 1 / Float(d).squareRoot()
        let queries = (0..<16).flatMap { qGen.row(head: 0, position: context - 1 - $0).map { Float($0) * scale } }
        var out = [Float](repeating: 0, count: d), scratch = [Float](repeating: 0, count: SoftmaxFastDecode.tile)
        func measure(_ body: (UnsafePointer<Float>, UnsafeMutablePointer<Float>, UnsafeMutablePointer<Float>) -> Void) -> Double {
            queries.withUnsafeBufferPointer { qs in
                out.withUnsafeMutableBufferPointer { o in
                    scratch.withUnsafeMutableBufferPointer { sc in
                        body(qs.baseAddress!, o.baseAddress!, sc.baseAddress!)
                        var n = 0
                        let start = now()
                        var elapsed = 0.0
                        repeat {
                            body(qs.baseAddress! + (n % 16) * d, o.baseAddress!, sc.baseAddress!)
                            n += 1
                            elapsed = now() - start
                        } while elapsed < seconds
                        blackHole(o[0])
                        return Double(n) / elapsed
                    }
                }
            }
        }
        let baseline = kF.withUnsafeBufferPointer { k in
            vF.withUnsafeBufferPointer { v in
                measure { q, o, sc in
                    SoftmaxFastDecode.attend(q: q, keys: Float32Rows(base: k.baseAddress!, width: d), values: Float32Rows(base: v.baseAddress!, width: d),
                                             count: context, out: o, scratch: sc)
                }
            }
        }
        let quantized = kC.withUnsafeBufferPointer { kc in
            vC.withUnsafeBufferPointer { vc in
                kS.withUnsafeBufferPointer { ks in
                    vS.withUnsafeBufferPointer { vs in
                        measure { q, o, sc in
                            SoftmaxFastDecode.attend(
                                q: q, keys: E4M3Rows(codes: kc.baseAddress!, scales: ks.baseAddress!, width: d),
                                values: E4M3Rows(codes: vc.baseAddress!, scales: vs.baseAddress!, width: d),
                                count: context, out: o, scratch: sc)
                        }
                    }
                }
            }
        }
        return Result(name: "softmax decode \(context / 1024)k, d=\(d), e4m3 per-token KV codes",
                      queriesPerSecond: quantized, baselineName: "fp32 KV cache", baselineQueriesPerSecond: baseline)
    }
}
