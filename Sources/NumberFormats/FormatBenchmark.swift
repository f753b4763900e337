import Foundation

/// One benchmark measurement beside its baseline measured in the same run, as `bench … --json`
/// writes it (nil fields are left out), with the target when there is one.
public struct BenchResult: Codable, Sendable {
    public var name: String
    public var unit: String
    public var value: Double
    public var baseline_name: String
    public var baseline_value: Double
    /// value / baseline for rates, baseline / value for times (higher is better either way).
    public var ratio: Double
    public var threads: Int
    public var cpu: String
    public var flags: String
    /// The target this measurement is held to, if any (same unit), and whether it was met.
    public var target: Double?
    /// The target for `ratio`, when there is one.
    public var target_ratio: Double?
    public var meets_target: Bool?
    /// What else the row needs said (a multi-thread row's determinism check, the BLAS core).
    public var note: String?

    public init(
        name: String, unit: String, value: Double, baseline_name: String, baseline_value: Double, ratio: Double,
        threads: Int, cpu: String, flags: String, target: Double? = nil, target_ratio: Double? = nil,
        meets_target: Bool? = nil, note: String? = nil
    ) {
        self.name = name; self.unit = unit; self.value = value; self.baseline_name = baseline_name
        self.baseline_value = baseline_value; self.ratio = ratio; self.threads = threads; self.cpu = cpu
        self.flags = flags; self.target = target; self.target_ratio = target_ratio; self.meets_target = meets_target
        self.note = note
    }
}

public enum BenchEnvironment {
    /// Whether this binary's vector code may use 32 registers of 512 bits: built with
    /// `-target-cpu native` (ATTNPREC_NATIVE) on a Linux x86-64 CPU reporting AVX-512F.
    /// Kernels pick register-hungry layouts only then (the results are the same bits).
    public static let nativeAVX512: Bool = {
        #if ATTNPREC_NATIVE && arch(x86_64) && os(Linux)
        guard let text = try? String(contentsOfFile: "/proc/cpuinfo", encoding: .utf8),
              let flags = text.split(separator: "\n").first(where: { $0.hasPrefix("flags") })
        else { return false }
        return flags.split(separator: " ").contains("avx512f")
        #else
        return false
        #endif
    }()

    /// The CPU model, from /proc/cpuinfo (else the architecture).
    public static var cpu: String {
        if let text = try? String(contentsOfFile: "/proc/cpuinfo", encoding: .utf8),
           let line = text.split(separator: "\n").first(where: { $0.hasPrefix("model name") }),
           let v = line.split(separator: ":", maxSplits: 1).last {
            return v.trimmingCharacters(in: .whitespaces)
        }
        #if arch(arm64)
        return "arm64"
        #else
        return "x86_64"
        #endif
    }

    /// How this binary was compiled (the Makefile defines ATTNPREC_NATIVE with -target-cpu native).
    public static var flags: String {
        var f: [String] = []
        #if DEBUG
            f.append("-Onone (debug)")
        #else
            f.append("-O (release)")
        #endif
        #if ATTNPREC_NATIVE
            f.append("-target-cpu native")
        #endif
        return f.joined(separator: " ")
    }
}

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
        return results
    }
}
