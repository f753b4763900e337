import Foundation
import NumberFormats
import Testing
@testable import Workloads

@Suite struct BoxMullerTests {
    /// Words that hit the branch points: u₁ at its ends and around √2 after the exponent split,
    /// v at the quadrant boundaries (4v = ½, 1½, 2½, 3½) and at 0 and 1 − 2⁻⁵².
    static var edgeWords: [UInt64] {
        var w: [UInt64] = [0, 1, 0xFFF, 0x1000, ~0, ~0 >> 1, 1 << 63]
        let sqrt2Mantissa: UInt64 = 0x6_A09E_667F_3BCD
        for d: UInt64 in [0, 1, 2] {
            w.append((sqrt2Mantissa &- d) << 12)
            w.append((sqrt2Mantissa &+ d) << 12)
        }
        for k: UInt64 in [1, 3, 5, 7] {
            let half = k << 49  // (k/8)·2^52: 4v = k/2
            for d: UInt64 in [0, 1] { w.append((half &- d) << 12); w.append((half &+ d) << 12) }
        }
        return w
    }

    static func randomWords(_ n: Int, seed: UInt64) -> [UInt64] {
        (0..<n).map { CounterRandom.splitmix(seed &+ UInt64($0) &* 0x9E37_79B9_7F4A_7C15) }
    }

    @Test func scalarAndSIMDGiveTheSameBits() {
        let edges = Self.edgeWords
        var a: [UInt64] = [], b: [UInt64] = []
        for x in edges { for y in edges { a.append(x); b.append(y) } }
        a += Self.randomWords(200_000, seed: 1)
        b += Self.randomWords(200_000, seed: 2)
        while a.count % 8 != 0 { a.append(0); b.append(0) }
        var mismatches = 0
        for i in stride(from: 0, to: a.count, by: 8) {
            var v1 = SIMD8<UInt64>(), v2 = SIMD8<UInt64>()
            for l in 0..<8 { v1[l] = a[i + l]; v2[l] = b[i + l] }
            let (c, s) = BoxMuller.pairs(v1, v2)
            for l in 0..<8 {
                let z = BoxMuller.pair(a[i + l], b[i + l])
                if z.0.bitPattern != c[l].bitPattern || z.1.bitPattern != s[l].bitPattern { mismatches += 1 }
            }
        }
        #expect(mismatches == 0)
    }

    /// Within a few ulps (of r) of the exact transform of the same uniforms, here libm's.
    @Test func matchesTheTransformOfTheSameUniforms() {
        let a = Self.edgeWords + Self.randomWords(100_000, seed: 3)
        let b = Self.edgeWords.reversed() + Self.randomWords(100_000, seed: 4)
        var worst = 0.0
        for (x, y) in zip(a, b) {
            let u1 = (Double(x >> 12) + 0.5) * 0x1p-52
            let v = Double(y >> 12) * 0x1p-52
            let r = (-2 * Foundation.log(u1)).squareRoot()
            // sin/cos of 2πv with the angle reduced exactly first (libm's own is within 1 ulp).
            let k = (4 * v).rounded(.toNearestOrEven), t = Double.pi / 2 * (4 * v - k)
            var c = Foundation.cos(t), s = Foundation.sin(t)
            for _ in 0..<(Int(k) & 3) { (c, s) = (-s, c) }
            let z = BoxMuller.pair(x, y)
            let ulp = max(r, 1).ulp
            worst = max(worst, abs(z.0 - r * c) / ulp, abs(z.1 - r * s) / ulp)
        }
        #expect(worst <= 4, "worst \(worst) ulps")
    }

    /// Moments, a Kolmogorov–Smirnov statistic against Φ, and no correlation between the two
    /// outputs of a pair, their squares, or neighbouring elements, on 2¹⁷ draws.
    @Test func normalDistribution() {
        let n = 1 << 17
        var z = [Double](repeating: 0, count: n)
        let s = CounterStream(seed: 7, stream: "q", head: 0, position: 0)
        z.withUnsafeMutableBufferPointer { s.normals(into: $0.baseAddress!, from: 0, count: n) }
        let N = Double(n)
        let mean = z.reduce(0, +) / N
        let m2 = z.reduce(0) { $0 + ($1 - mean) * ($1 - mean) } / N
        let m3 = z.reduce(0) { $0 + pow($1 - mean, 3) } / N
        let m4 = z.reduce(0) { $0 + pow($1 - mean, 4) } / N
        // Sampling standard deviations: 1/√n, √(2/n), √(6/n), √(24/n); bounds at 5σ.
        #expect(abs(mean) < 5 / N.squareRoot())
        #expect(abs(m2 - 1) < 5 * (2 / N).squareRoot())
        #expect(abs(m3 / pow(m2, 1.5)) < 5 * (6 / N).squareRoot())
        #expect(abs(m4 / (m2 * m2) - 3) < 5 * (24 / N).squareRoot())
        // KS: D·√n has the Kolmogorov distribution; P(D√n > 1.95) ≈ 0.001.
        let sorted = z.sorted()
        var d = 0.0
        for (i, x) in sorted.enumerated() {
            let cdf = 0.5 * erfc(-x / 2.0.squareRoot())
            d = max(d, abs(cdf - Double(i) / N), abs(Double(i + 1) / N - cdf))
        }
        #expect(d * N.squareRoot() < 1.95, "KS D√n = \(d * N.squareRoot())")
        func corr(_ x: [Double], _ y: [Double]) -> Double {
            let mx = x.reduce(0, +) / Double(x.count), my = y.reduce(0, +) / Double(y.count)
            var sxy = 0.0, sxx = 0.0, syy = 0.0
            for (a, b) in zip(x, y) { sxy += (a - mx) * (b - my); sxx += (a - mx) * (a - mx); syy += (b - my) * (b - my) }
            return sxy / (sxx * syy).squareRoot()
        }
        // The two outputs of pair 8b + l are elements 16b + l (cos) and 16b + 8 + l (sin).
        var even: [Double] = [], odd: [Double] = []
        for m in 0..<(n / 2) {
            let i: Int = (m >> 3) * 16 + (m & 7)
            even.append(z[i]); odd.append(z[i + 8])
        }
        let bound = 5 / Double(n / 2).squareRoot()
        #expect(abs(corr(even, odd)) < bound)
        #expect(abs(corr(even.map { $0 * $0 }, odd.map { $0 * $0 })) < bound)
        #expect(abs(corr(Array(odd.dropLast()), Array(even.dropFirst()))) < bound)
        #expect(abs(corr(Array(z.dropLast()), Array(z.dropFirst()))) < 5 / N.squareRoot())
        // The tails: P(|z| > 3) = 0.0027 (≈ 354 of 2¹⁷, σ ≈ 19).
        let tail = z.filter { abs($0) > 3 }.count
        #expect(abs(Double(tail) - 0.0026998 * N) < 5 * (0.0027 * N).squareRoot(), "\(tail)")
    }

    /// A row filled in bulk from any start equals the scalar `normal(i)` element by element.
    @Test func bulkFillEqualsScalar() {
        let s = CounterStream(seed: 3, stream: "v", head: 2, position: 99)
        for (start, count) in [(0, 128), (0, 1), (1, 1), (1, 16), (3, 17), (5, 200), (16, 15), (1000, 33)] {
            var out = [Double](repeating: .nan, count: count)
            out.withUnsafeMutableBufferPointer { s.normals(into: $0.baseAddress!, from: start, count: count) }
            for i in 0..<count { #expect(out[i].bitPattern == s.normal(start + i).bitPattern, "start \(start) i \(i)") }
        }
    }

    /// Pinned values: a change of the generator changes every study's inputs, so it must be
    /// deliberate.
    @Test func pinnedValues() {
        let s = CounterStream(seed: 0, stream: "q", head: 0, position: 0)
        let got = [0, 1, 8, 9].map { s.normal($0).bitPattern }
        #expect(got == BoxMullerTests.pinned, "\(got.map { String($0, radix: 16) })")
        let g = InputGenerator(seed: 0, stream: "k", dimension: 4)
        #expect(g.row(head: 1, position: 5).map { Float($0).bitPattern } == BoxMullerTests.pinnedRow)
    }

    static let pinned: [UInt64] = [0x3FF4_95CC_E922_CA68, 0xBFE1_B5F9_452B_E302, 0x3FD4_790E_A8C5_6DC4, 0x3FDE_50CE_3C70_D0A2]
    static let pinnedRow: [UInt32] = [3_199_129_289, 1_016_413_806, 1_034_111_775, 3_218_838_380]
}
