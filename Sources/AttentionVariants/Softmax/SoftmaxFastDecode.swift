import Dispatch
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
            a0 = a0 + SIMD8(UnsafeBufferPointer(start: q + j, count: 8)) * SIMD8(UnsafeBufferPointer(start: r + j, count: 8))
            a1 = a1 + SIMD8(UnsafeBufferPointer(start: q + j + 8, count: 8)) * SIMD8(UnsafeBufferPointer(start: r + j + 8, count: 8))
            j += 16
        }
        var s = (a0 + a1).sum()
        while j < width { s = s + q[j] * r[j]; j += 1 }
        return s
    }

    @inline(__always)
    public func accumulate(_ acc: UnsafeMutablePointer<Float>, weight w: Float, row s: Int) {
        let r = base + s * width
        for j in 0..<width { acc[j] = acc[j] + w * r[j] }
    }
}

/// A cache of 1-byte codes with one binary32 scale per row (per-token scaling), decoded through
/// a 256-entry table: value = table[code] · scale.
public struct ScaledByteRows: FastRows {
    public let codes: UnsafePointer<UInt8>
    public let scales: UnsafePointer<Float>
    public let table: UnsafePointer<Float>
    public let width: Int
    public init(codes: UnsafePointer<UInt8>, scales: UnsafePointer<Float>, table: UnsafePointer<Float>, width: Int) {
        self.codes = codes
        self.scales = scales
        self.table = table
        self.width = width
    }

    @inline(__always)
    public func dot(_ q: UnsafePointer<Float>, row s: Int) -> Float {
        let c = codes + s * width
        var a0 = SIMD8<Float>(), a1 = SIMD8<Float>()
        var j = 0
        while j + 16 <= width {
            var x0 = SIMD8<Float>(), x1 = SIMD8<Float>()
            for i in 0..<8 {
                x0[i] = table[Int(c[j + i])]
                x1[i] = table[Int(c[j + 8 + i])]
            }
            a0 = a0 + SIMD8(UnsafeBufferPointer(start: q + j, count: 8)) * x0
            a1 = a1 + SIMD8(UnsafeBufferPointer(start: q + j + 8, count: 8)) * x1
            j += 16
        }
        var sum = (a0 + a1).sum()
        while j < width { sum = sum + q[j] * table[Int(c[j])]; j += 1 }
        return sum * scales[s]
    }

    @inline(__always)
    public func accumulate(_ acc: UnsafeMutablePointer<Float>, weight w: Float, row s: Int) {
        let c = codes + s * width
        let ws = w * scales[s]
        for j in 0..<width { acc[j] = acc[j] + ws * table[Int(c[j])] }
    }
}

/// A fused binary32 decode of one query over rows [0, n): scores in tiles of 32 keys, one
/// running-max rescale per tile, `expf` from the C library. Not a reference kernel: it agrees
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
                let c = Foundation.exp(m - tileMax)
                l = l * c
                for j in 0..<dv { out[j] = out[j] * c }
                m = tileMax
            }
            for i in 0..<count {
                let p = Foundation.exp(scratch[i] - m)
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
        let rounder = ElementRounder(format: .float8_e4m3fn, rounding: .nearestEven, overflow: .saturate)
        let table = (0..<256).map { Float(rounder.decodeDouble(UInt32($0))) }
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
                        table.withUnsafeBufferPointer { tb in
                            measure { q, o, sc in
                                SoftmaxFastDecode.attend(
                                    q: q, keys: ScaledByteRows(codes: kc.baseAddress!, scales: ks.baseAddress!, table: tb.baseAddress!, width: d),
                                    values: ScaledByteRows(codes: vc.baseAddress!, scales: vs.baseAddress!, table: tb.baseAddress!, width: d),
                                    count: context, out: o, scratch: sc)
                            }
                        }
                    }
                }
            }
        }
        return Result(name: "softmax decode \(context / 1024)k, d=\(d), e4m3 per-token KV codes",
                      queriesPerSecond: quantized, baselineName: "fp32 KV cache", baselineQueriesPerSecond: baseline)
    }
}
