import Dispatch
import NumberFormats
import Testing

@Suite("Stochastic") struct StochasticTests {
    static let formats: [ElementFormat] = [
        .float16, .bfloat16, .tf32, .float8_e4m3fn, .float8_e4m3fnuz, .float8_e5m2, .float8_e3m4,
        .float6_e2m3fn, .float6_e3m2fn, .float4_e2m1fn, .float8_e8m0fnu, ElementFormat.named("e3m3")!,
    ]

    /// Inputs around the format: between codes at assorted fractions (dyadic and not, tiny
    /// and close to one), far below the least subnormal, past max finite, both signs.
    static func inputs(_ f: OracleFormat) -> [Double] {
        let fractions: [Double] = [0, 0.0625, 0.3, 0.5, 0.7109375, 0.999, 0x1p-30, 1 - 0x1p-30, 1.0 / 3]
        var codes: [UInt32] = [0, 1, 2, f.maxMagnitudeCode - 1, f.maxMagnitudeCode]
        if f.m > 0 { codes += [(1 << f.m) - 1, 1 << f.m, 3 << f.m] }  // around min normal
        codes += [f.maxMagnitudeCode / 2, f.maxMagnitudeCode / 3]
        var xs: [Double] = []
        for c in codes where c <= f.maxMagnitudeCode {
            let a = f.value(ofCode: c)
            let b = c == f.maxMagnitudeCode ? f.firstBeyondMax : f.value(ofCode: c + 1)
            for t in fractions { xs.append(a + t * (b - a)) }
        }
        xs += [f.minPositive * 0x1p-20, f.minPositive * 0x1p-40, f.minPositive * 0.3, 1e-30, 1e-300, 0x1p-149]
        xs += [f.firstBeyondMax * 1.5, 1e300]
        xs = xs.filter { $0 > 0 && $0.isFinite }
        return xs + xs.map { -$0 }
    }

    /// With B random bits, exactly ⌊2^B·frac⌋ of the 2^B random values round away from zero
    /// (frac = the dropped fraction of the way from the lower neighbour to the upper), and
    /// the rest toward zero; bits above the low B are ignored.
    @Test(arguments: [1, 4, 8, 11])
    func exactRoundUpCounts(bits: Int) {
        let mode = RoundingMode.stochastic(bits: bits)
        var failures = Failures()
        for format in Self.formats {
            let oracle = MPFROracle(format)
            let f = oracle.f
            for (overflow, flush) in policyCombinations {
                let r = ElementRounder(format: format, rounding: mode, overflow: overflow, flushSubnormals: flush)
                for x in Self.inputs(f) {
                    if f.isE8M0 && (x < 0 || x < f.minNormal) { continue }  // checked in e8m0Stochastic
                    let loWant = oracle.expected(oracle.round(x, .towardZero), mode: mode, overflow: overflow, flush: flush)
                    let hiWant = oracle.expected(oracle.awayFromZero(x), mode: mode, overflow: overflow, flush: flush)
                    let up = oracle.stochasticUpCount(x, bits: bits)
                    for asFloat in [false, true] where !asFloat || Double(Float(x)) == x {
                        var ups: UInt64 = 0
                        var downs: UInt64 = 0
                        for rnd in 0..<UInt32(1 << bits) {
                            let garbage = bits < 32 ? UInt32.max << bits : 0
                            let code = asFloat ? r.encode(Float(x), random: rnd) : r.encode(x, random: rnd)
                            let code2 = asFloat ? r.encode(Float(x), random: rnd | garbage) : r.encode(x, random: rnd | garbage)
                            if code2 != code { failures.add("\(format) \(x): high random bits changed the code") }
                            if f.matches(code, hiWant) && loWant != hiWant {
                                ups += 1
                            } else if f.matches(code, loWant) {
                                downs += 1
                            } else {
                                failures.add("\(format) \(x) r=\(rnd): 0x\(String(code, radix: 16)) is neither \(loWant) nor \(hiWant)")
                            }
                        }
                        let wantUps = loWant == hiWant ? 0 : up
                        if ups != wantUps || ups + downs != 1 << bits {
                            failures.add("\(format) \(overflow) flush=\(flush) \(x) \(asFloat ? "Float" : "Double"): \(ups) of 2^\(bits) rounded up, want \(wantUps)")
                        }
                    }
                }
            }
        }
        #expect(failures.count == 0, "\(failures)")
    }

    @Test func e8m0Stochastic() {
        let r = ElementRounder(format: .float8_e8m0fnu, rounding: .stochastic(bits: 8))
        // 1.25 lies a quarter of the way from 1 to 2: 64 of 256 random values round up.
        let codes = (0..<UInt32(256)).map { r.encode(Float(1.25), random: $0) }
        #expect(codes.filter { $0 == 128 }.count == 64 && codes.filter { $0 == 127 }.count == 192)
        // No zero, no sign: tiny values give 2^-127, zero and negative values NaN.
        #expect((0..<UInt32(256)).allSatisfy { r.encode(Float(1e-39), random: $0) == 0 })
        #expect(r.encode(Float(-2), random: 7) == 0xFF && r.encode(Float(0), random: 7) == 0xFF)
        // Past 2^127: NaN under ieee, 2^127 under saturate.
        let ieee = ElementRounder(format: .float8_e8m0fnu, rounding: .stochastic(bits: 8), overflow: .ieee)
        #expect(ieee.encode(Float(0x1.8p127), random: 255) == 0xFF && ieee.encode(Float(0x1.8p127), random: 0) == 0xFE)
        #expect(r.encode(Float(0x1.8p127), random: 255) == 0xFE)
    }

    /// The mean of many stochastic roundings of one input equals the input, within 6σ of the
    /// Bernoulli mean, for 32 random bits from `CounterRandom`.
    @Test func unbiased() {
        let n = 200_000
        let cases: [(ElementFormat, Double)] = [
            (.bfloat16, 1.0 + 0x1p-9), (.bfloat16, -3.14159), (.bfloat16, 1e-39), (.float16, 0.1),
            (.float16, 1e-8), (.float8_e4m3fn, 0.3), (.float8_e4m3fn, -300), (.float8_e4m3fn, 0x1p-9 * 0x1p-10),
            (.float8_e5m2, 1234.5), (.float4_e2m1fn, 2.2), (.float4_e2m1fn, 0.01), (.float6_e3m2fn, -0.07),
            (.float8_e8m0fnu, 3.0), (.float8_e8m0fnu, 1e-20),
        ]
        for (format, x) in cases {
            let rounder = ElementRounder(format: format, rounding: .stochastic(bits: 32))
            let oracle = MPFROracle(format)
            let lo = abs(Double(rounder.decode(rounder.encode(x, random: 0))))
            let hi = abs(Double(rounder.decode(rounder.encode(x, random: .max))))
            let p = Double(oracle.stochasticUpCount(x, bits: 32)) / 0x1p32
            #expect(abs(lo + p * (hi - lo) - abs(x)) <= (hi - lo) * 0x1p-32, "\(format) \(x)")
            let random = CounterRandom(seed: 2024, role: "unbiased", head: 0, step: 0)
            var sum = 0.0
            for i in 0..<n { sum += Double(rounder.round(x, random: random.bits(i))) }
            let mean = sum / Double(n)
            let sigma = (hi - lo) * (p * (1 - p) / Double(n)).squareRoot()
            #expect(abs(mean - x) <= 6 * sigma + (hi - lo) * 0x1p-32, "\(format) \(x): mean \(mean)")
        }
    }

    /// Index-keyed randomness: one thread and many (in uneven chunks, visited backwards) give
    /// the same codes bit for bit.
    @Test(arguments: [ElementFormat.bfloat16, .float8_e4m3fn, .float4_e2m1fn])
    func sameBitsForAnyThreadCount(_ format: ElementFormat) {
        let n = 300_001
        let values = CounterRandom(seed: 7, role: "values")
        let x = (0..<n).map { Float(Int32(bitPattern: values.bits($0))) * 0x1p-28 }
        let rounder = ElementRounder(format: format, rounding: .stochastic(bits: 32))
        let random = CounterRandom(seed: 99, role: "K", head: 3, step: 5)
        let serial = (0..<n).map { rounder.encode(x[$0], random: random.bits($0)) }
        let input = UnsafeShared<Float>(copying: x)
        let out = UnsafeShared<UInt32>(repeating: 0xDEAD, count: n)
        defer {
            input.deallocate()
            out.deallocate()
        }
        let chunks = 13
        DispatchQueue.concurrentPerform(iterations: chunks) { chunk in
            let start = n * chunk / chunks
            let end = n * (chunk + 1) / chunks
            let stream = CounterRandom(seed: 99, role: "K", head: 3, step: 5)
            for i in (start..<end).reversed() {
                out.base[i] = rounder.encode(input.base[i], random: stream.bits(i))
            }
        }
        let parallel = Array(UnsafeBufferPointer(start: out.base, count: n))
        #expect(serial == parallel)
        // The stream is not degenerate: both neighbours occur.
        #expect(Set(serial).count >= min(20, format.codeCount / 2))
    }

    @Test func streamsDiffer() {
        let base = CounterRandom(seed: 1, role: "K", head: 0, step: 0)
        let variants = [
            CounterRandom(seed: 2, role: "K", head: 0, step: 0), CounterRandom(seed: 1, role: "V", head: 0, step: 0),
            CounterRandom(seed: 1, role: "K", head: 1, step: 0), CounterRandom(seed: 1, role: "K", head: 0, step: 1),
            CounterRandom(seed: 1, role: "", head: 0, step: 0), CounterRandom(seed: 1 << 32, role: "K", head: 0, step: 0),
        ]
        let n = 4096
        let a = (0..<n).map { base.bits($0) }
        #expect(a == (0..<n).map { CounterRandom(seed: 1, role: "K", head: 0, step: 0).bits($0) })
        for v in variants {
            #expect(v != base)
            let same = (0..<n).filter { v.bits($0) == a[$0] }.count
            #expect(same <= 2, "\(v)")
        }
        // Indices that differ only above bit 32 get different bits.
        #expect((0..<n).filter { base.bits($0) == base.bits($0 + (1 << 32)) }.count <= 2)
        // Each bit is one half of the time within 6σ, and consecutive draws are distinct.
        let m = 1 << 16
        var ones = [Int](repeating: 0, count: 32)
        for i in 0..<m {
            let b = base.bits(i)
            for k in 0..<32 where b >> k & 1 == 1 { ones[k] += 1 }
        }
        let sigma = (Double(m) / 4).squareRoot()
        for k in 0..<32 { #expect(abs(Double(ones[k]) - Double(m) / 2) <= 6 * sigma, "bit \(k)") }
        #expect(Set((0..<m).map { base.bits($0) }).count >= m - 2)
    }
}

/// A buffer that concurrent workers write at disjoint indices.
struct UnsafeShared<T>: @unchecked Sendable {
    let base: UnsafeMutablePointer<T>
    let count: Int
    init(repeating v: T, count: Int) {
        base = .allocate(capacity: count)
        base.initialize(repeating: v, count: count)
        self.count = count
    }
    init(copying a: [T]) {
        base = .allocate(capacity: a.count)
        _ = UnsafeMutableBufferPointer(start: base, count: a.count).initialize(from: a)
        count = a.count
    }
    func deallocate() {
        base.deinitialize(count: count)
        base.deallocate()
    }
}
