import Foundation
import NumberFormats

/// Throughput of quantize → dequantize on one thread, beside a plain memory copy of the same
/// buffers measured in the same run.
public enum FormatBenchmark {
    public struct Case: Sendable {
        public var name: String
        public var spec: FormatSpec
        public var target: Double  // elements per second
        public var minRatio: Double = 0  // of the copy rate
    }

    public static func cases() -> [Case] {
        var out: [Case] = []
        for f in ElementFormat.named {
            let spec = try! FormatSpec.parse(f.name)
            out.append(Case(name: "\(f.name) nearest-even", spec: spec, target: 3e9, minRatio: 0.6))
        }
        for s in ["bfloat16/stochastic", "float16/stochastic", "float8_e4m3fn/stochastic", "float4_e2m1fn/stochastic"] {
            out.append(Case(name: s, spec: try! FormatSpec.parse(s), target: 2e9))
        }
        for s in ["float8_e4m3fn/per-token", "float8_e4m3fn/block:128/pow2", "mxfp8_e4m3", "mxfp6_e2m3", "mxfp4", "nvfp4", "mxint8", "int8/per-token", "int4/block:32"] {
            out.append(Case(name: s, spec: try! FormatSpec.parse(s), target: 1e9))
        }
        return out
    }

    /// Runs every case on `count` elements (rows of 128 channels), best of `repeats`.
    public static func run(count: Int = 1 << 24, repeats: Int = 5, only: String? = nil, progress: (String) -> Void = { _ in }) -> [BenchResult] {
        var input = [Float](repeating: 0, count: count)
        var output = [Float](repeating: 0, count: count)
        // Gaussian-like values over a range of magnitudes (counter-based, reproducible).
        let rng = CounterRandom(seed: 1, role: "bench")
        for i in 0..<count {
            let u1 = (Float(rng.bits(2 * i) >> 8) + 0.5) * 0x1p-24
            let u2 = Float(rng.bits(2 * i + 1) >> 8) * 0x1p-24
            let r = (-2 * Foundation.log(u1)).squareRoot() * Foundation.cos(2 * Float.pi * u2)
            input[i] = r * Float(1 << (i % 7))
        }
        let shape = [count / 128, 128]
        let cpu = BenchEnvironment.cpu
        let flags = BenchEnvironment.flags
        var sink: Float = 0

        func best(_ body: () -> Void) -> Double {
            var t = Double.infinity
            for _ in 0..<repeats {
                let start = DispatchTime.now().uptimeNanoseconds
                body()
                let end = DispatchTime.now().uptimeNanoseconds
                t = min(t, Double(end - start) * 1e-9)
                sink += output[count / 3]
            }
            return Double(count) / t
        }

        let copyRate = best {
            input.withUnsafeBufferPointer { src in
                output.withUnsafeMutableBufferPointer { dst in
                    _ = memcpy(dst.baseAddress!, src.baseAddress!, count * MemoryLayout<Float>.size)
                }
            }
        }
        progress(String(format: "memory copy: %.3f G elements/s", copyRate / 1e9))
        var results: [BenchResult] = []
        for c in cases() where only.map({ c.name.contains($0) }) ?? true {
            let rate = best {
                input.withUnsafeBufferPointer { src in
                    output.withUnsafeMutableBufferPointer { dst in
                        if c.spec.quantizeFast(src, shape: shape, into: dst, random: rng) == nil {
                            _ = c.spec.quantize(src, shape: shape, into: dst, codes: nil, random: rng)
                        }
                    }
                }
            }
            let r = BenchResult(
                name: "quantize-dequantize \(c.name)", unit: "elements/s", value: rate,
                baseline_name: "memory copy", baseline_value: copyRate, ratio: rate / copyRate, threads: 1,
                cpu: cpu, flags: flags, target: c.target, meets_target: rate >= c.target && rate / copyRate >= c.minRatio)
            progress(String(format: "%@: %.3f G elements/s", c.name, rate / 1e9))
            results.append(r)
        }
        if sink == 12345.678 { print("") }  // keeps the outputs observable
        return results + codeRows(input, shape: shape, repeats: repeats, only: only, progress: progress)
    }

    /// `formats quantize --codes` on the fast path beside the exact scalar path, and `formats
    /// conform` (re-encode and compare a conforming encoding) beside `quantize --codes`: the
    /// library calls the commands make, on the same input.
    static func codeRows(_ input: [Float], shape: [Int], repeats: Int, only: String?, progress: (String) -> Void) -> [BenchResult] {
        var out: [BenchResult] = []
        let (cpu, flags) = (BenchEnvironment.cpu, BenchEnvironment.flags)
        var sink: UInt32 = 0
        func best(_ body: () -> UInt32) -> Double {
            var t = Double.infinity
            for _ in 0..<repeats {
                let start = DispatchTime.now().uptimeNanoseconds
                sink &+= body()
                t = min(t, Double(DispatchTime.now().uptimeNanoseconds - start) * 1e-9)
            }
            return Double(input.count) / t
        }
        for text in ["float8_e4m3fn", "float8_e4m3fn/per-token", "mxfp4"] where only.map({ "codes \(text)".contains($0) || "conform \(text)".contains($0) }) ?? true {
            let spec = try! FormatSpec.parse(text)
            // The exact path runs ~50× slower: timed once on the first 2^20 elements (whole rows),
            // so the default `bench formats` stays seconds long.
            let width = shape.last ?? input.count, rows = max(1, min(input.count, 1 << 20) / width)
            let head = Array(input[0..<(rows * width)])
            let exactStart = DispatchTime.now().uptimeNanoseconds
            var codes = [UInt32](repeating: 0, count: head.count), values = [Float](repeating: 0, count: head.count)
            head.withUnsafeBufferPointer { x in values.withUnsafeMutableBufferPointer { v in codes.withUnsafeMutableBufferPointer { c in
                _ = spec.quantize(x, shape: [rows, width], into: v, codes: c, random: FormatSpec.quantizeRandom(seed: 0)) } } }
            sink &+= codes[head.count / 3]
            let exact = Double(head.count) / (Double(DispatchTime.now().uptimeNanoseconds - exactStart) * 1e-9)
            let fast = best { spec.reference(input, shape: shape).codes[input.count / 3] }
            out.append(BenchResult(
                name: "quantize --codes \(text)", unit: "elements/s", value: fast, baseline_name: "exact path", baseline_value: exact,
                ratio: fast / exact, threads: 1, cpu: cpu, flags: flags, target_ratio: 1, meets_target: fast >= exact))
            let theirs = Encoding(codes: spec.reference(input, shape: shape).codes)
            let conform = best { UInt32(Conformance.compare(spec: spec, input: input, shape: shape, theirs: theirs).mismatches.count) }
            out.append(BenchResult(
                name: "conform \(text)", unit: "elements/s", value: conform, baseline_name: "quantize --codes", baseline_value: fast,
                ratio: conform / fast, threads: 1, cpu: cpu, flags: flags, target_ratio: 1.0 / 3, meets_target: conform * 3 >= fast))
            progress(String(format: "codes %@: %.3f G/s (exact %.3f), conform %.3f G/s", text, fast / 1e9, exact / 1e9, conform / 1e9))
        }
        if sink == 0xDEAD_BEEF { print("") }
        return out
    }
}
