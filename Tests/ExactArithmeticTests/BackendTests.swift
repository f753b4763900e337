import CMPFR
import Foundation
import NumberFormats
import Testing
@testable import ExactArithmetic

enum TierUnderTest: String, CaseIterable, CustomTestStringConvertible {
    case float64, doubleDouble, float32, mpfr128
    var testDescription: String { rawValue }
    func make() -> any Backend {
        switch self {
        case .float64: return Float64Backend()
        case .doubleDouble: return DoubleDoubleBackend()
        case .float32: return Float32Backend()
        case .mpfr128: return MPFRBackend(precision: 128)
        }
    }
    var u: Double {
        switch self {
        case .float64: return 0x1p-53
        case .doubleDouble: return 0x1p-104
        case .float32: return 0x1p-24
        case .mpfr128: return 0x1p-128
        }
    }
}

/// Runs one operation on the backend under test and on MPFR-256 with the same inputs and
/// checks |result − reference| ≤ bound_i elementwise.
struct OpCheck {
    let b: any Backend
    let r = MPFRBackend(precision: 256)
    var rng = SplitMix(seed: 11)

    init(_ b: any Backend) { self.b = b }

    /// Float-representable random values (exact in every tier).
    mutating func data(_ n: Int, positive: Bool = false) -> [Double] {
        (0..<n).map { _ in let v = rng.normal(); return Double(Float(positive ? abs(v) + 0.125 : v)) }
    }

    /// Allocates and loads the same values on both backends.
    func pair(_ rows: Int, _ cols: Int, _ v: [Double]) -> (Tensor, Tensor) {
        let x = b.allocate(rows: rows, cols: cols), y = r.allocate(rows: rows, cols: cols)
        b.load(x, v); r.load(y, v)
        return (x, y)
    }

    /// Returns the worst ratio |error| / bound over the elements.
    func worst(_ t: (Tensor, Tensor), bound: [Double]) -> Double {
        let n = t.0.count
        let got = MPFRArray(count: n, precision: 512), ref = MPFRArray(count: n, precision: 512)
        b.export(t.0, into: got, at: 0)
        r.export(t.1, into: ref, at: 0)
        let d = MPFRNumber(precision: 64)
        var w = 0.0
        for i in 0..<n {
            _ = mpfr_sub(d.pointer, got[i], ref[i], MPFR_RNDN)
            let e = abs(mpfr_get_d(d.pointer, MPFR_RNDN))
            w = max(w, bound[i] == 0 ? (e == 0 ? 0 : .infinity) : e / bound[i])
        }
        return w
    }
}

@Suite struct BackendOperationTests {
    @Test(arguments: TierUnderTest.allCases)
    func elementwiseArithmetic(_ tier: TierUnderTest) {
        var c = OpCheck(tier.make())
        let n = 200, u = tier.u
        let a = c.data(n), bv = c.data(n, positive: true), cv = c.data(n)
        let ta = c.pair(1, n, a), tb = c.pair(1, n, bv), tc = c.pair(1, n, cv)
        let dst = c.pair(1, n, [Double](repeating: 0, count: n))
        let k: Double = tier == .doubleDouble ? 4 : 1  // double-word algorithms: ≤ 4u (division ≤ 15u²/2^-106)
        for name in ["add", "subtract", "multiply", "divide", "fma"] {
            var mags = [Double](repeating: 0, count: n)
            for i in 0..<n {
                switch name {
                case "add": mags[i] = abs(a[i] + bv[i])
                case "subtract": mags[i] = abs(a[i] - bv[i])
                case "multiply": mags[i] = abs(a[i] * bv[i])
                case "divide": mags[i] = abs(a[i] / bv[i])
                default: mags[i] = abs(a[i] * bv[i] + cv[i])
                }
            }
            for (be, d, x, y, z) in [(c.b, dst.0, ta.0, tb.0, tc.0), (c.r as any Backend, dst.1, ta.1, tb.1, tc.1)] {
                switch name {
                case "add": be.add(d, x, y)
                case "subtract": be.subtract(d, x, y)
                case "multiply": be.multiply(d, x, y)
                case "divide": be.divide(d, x, y)
                default: be.fma(d, x, y, z)
                }
            }
            let bound = mags.map { k * u * $0 * (1 + 1e-9) }
            let w = c.worst(dst, bound: bound)
            #expect(w <= 1, "\(name) on \(tier): worst error \(w) × bound")
        }
    }

    /// transpose copies exactly, including from and into views inside wider rows.
    @Test(arguments: TierUnderTest.allCases)
    func transposeCopiesEveryElement(_ tier: TierUnderTest) {
        let b = tier.make()
        let src = b.allocate(rows: 3, cols: 7), dst = b.allocate(rows: 6, cols: 4)
        let values = (0..<21).map { Double($0) * 0.375 - 2 }
        b.load(src, values)
        let s = src.block(rows: 0..<3, cols: 1..<6), d = dst.block(rows: 1..<6, cols: 0..<3)
        b.transpose(d, s)
        let got = b.read(dst)
        for i in 0..<3 { for j in 0..<5 { #expect(got[(j + 1) * 4 + i] == values[i * 7 + j + 1], "\(tier) (\(i), \(j))") } }
        #expect(got[0..<4].allSatisfy { $0 == 0 } && (1..<6).allSatisfy { got[$0 * 4 + 3] == 0 }, "\(tier): outside the view untouched")
    }

    @Test(arguments: TierUnderTest.allCases)
    func elementwiseFunctionsWithinOneUlp(_ tier: TierUnderTest) {
        var c = OpCheck(tier.make())
        let n = 100, u = tier.u
        for f in ElementFunction.allCases {
            let positive = [.log, .sqrt, .rsqrt].contains(f)
            var v = c.data(n, positive: positive)
            if f == .log1p { v = v.map { max($0, -0.9) } }
            let x = c.pair(1, n, v), y = c.pair(1, n, [Double](repeating: 0, count: n))
            c.b.apply(f, y.0, x.0)
            c.r.apply(f, y.1, x.1)
            // 1 ulp ≤ 2u·|f(x)|; read the magnitude from the reference.
            let mags = c.r.read(y.1).map { abs($0) }
            let w = c.worst(y, bound: mags.map { 2 * u * $0 })
            #expect(w <= 1, "\(f) on \(tier): worst error \(w) ulp-bound")
        }
    }

    @Test(arguments: TierUnderTest.allCases)
    func reductionsWithinStandardBound(_ tier: TierUnderTest) {
        var c = OpCheck(tier.make())
        let n = 512, u = tier.u
        let x = c.data(n), y = c.data(n)
        let tx = c.pair(1, n, x), ty = c.pair(1, n, y), out = c.pair(1, 1, [0])
        c.b.dot(out.0, tx.0, ty.0); c.r.dot(out.1, tx.1, ty.1)
        let absTerms = zip(x, y).reduce(0) { $0 + abs($1.0 * $1.1) }
        #expect(c.worst(out, bound: [Double(n) * u * absTerms]) <= 1, "dot on \(tier)")
        c.b.sum(out.0, tx.0); c.r.sum(out.1, tx.1)
        #expect(c.worst(out, bound: [Double(n) * u * x.reduce(0) { $0 + abs($1) }]) <= 1, "sum on \(tier)")
        c.b.max(out.0, tx.0); c.r.max(out.1, tx.1)
        #expect(c.worst(out, bound: [0]) == 0, "max on \(tier)")
    }

    @Test(arguments: TierUnderTest.allCases)
    func matrixProductsWithinStandardBound(_ tier: TierUnderTest) {
        var c = OpCheck(tier.make())
        let m = 48, k = 40, n = 36, u = tier.u
        let a = c.data(m * k), bm = c.data(k * n), xk = c.data(k), xm = c.data(m)
        let ta = c.pair(m, k, a), tb = c.pair(k, n, bm), tc = c.pair(m, n, [Double](repeating: 0, count: m * n))
        c.b.gemm(tc.0, ta.0, transposeA: false, tb.0, transposeB: false, accumulate: false)
        c.r.gemm(tc.1, ta.1, transposeA: false, tb.1, transposeB: false, accumulate: false)
        var bound = [Double](repeating: 0, count: m * n)
        for i in 0..<m { for j in 0..<n { for l in 0..<k { bound[i * n + j] += abs(a[i * k + l] * bm[l * n + j]) } } }
        #expect(c.worst(tc, bound: bound.map { Double(k) * u * $0 }) <= 1, "gemm on \(tier)")

        let txk = c.pair(1, k, xk), ym = c.pair(1, m, [Double](repeating: 0, count: m))
        c.b.matvec(ym.0, ta.0, txk.0); c.r.matvec(ym.1, ta.1, txk.1)
        let bmv = (0..<m).map { i in (0..<k).reduce(0) { $0 + abs(a[i * k + $1] * xk[$1]) } }
        #expect(c.worst(ym, bound: bmv.map { Double(k) * u * $0 }) <= 1, "matvec on \(tier)")

        let txm = c.pair(1, m, xm), yk = c.pair(1, k, [Double](repeating: 0, count: k))
        c.b.matTvec(yk.0, ta.0, txm.0); c.r.matTvec(yk.1, ta.1, txm.1)
        let bmtv = (0..<k).map { j in (0..<m).reduce(0) { $0 + abs(a[$1 * k + j] * xm[$1]) } }
        #expect(c.worst(yk, bound: bmtv.map { Double(m) * u * $0 }) <= 1, "matTvec on \(tier)")

        // rank-1: one fma per element.
        let s0 = c.data(m * k), ts = c.pair(m, k, s0)
        c.b.rank1(ts.0, txm.0, txk.0); c.r.rank1(ts.1, txm.1, txk.1)
        let br = (0..<(m * k)).map { abs(s0[$0] + xm[$0 / k] * xk[$0 % k]) }
        #expect(c.worst(ts, bound: br.map { (tier == .doubleDouble ? 4 : 1) * u * $0 }) <= 1, "rank1 on \(tier)")
    }

    @Test(arguments: TierUnderTest.allCases)
    func unitLowerSolveResidualWithinStandardBound(_ tier: TierUnderTest) {
        var c = OpCheck(tier.make())
        let n = 32, cols = 8, u = tier.u
        let l = c.data(n * n).map { $0 * 0.25 }, b0 = c.data(n * cols)
        let tl = c.pair(n, n, l), tb = c.pair(n, cols, b0)
        c.b.solveUnitLower(tl.0, tb.0)
        // Residual b − L x̂ computed exactly (MPFR, 1024 bits) from the computed x̂.
        let xs = MPFRArray(count: n * cols, precision: 512)
        c.b.export(tb.0, into: xs, at: 0)
        let acc = MPFRNumber(precision: 1024), t = MPFRNumber(precision: 1024), l_ = MPFRNumber(precision: 64)
        for i in 0..<n {
            for j in 0..<cols {
                _ = mpfr_set_d(acc.pointer, b0[i * cols + j], MPFR_RNDN)
                var mag = abs(b0[i * cols + j])
                _ = mpfr_sub(acc.pointer, acc.pointer, xs[i * cols + j], MPFR_RNDN)  // unit diagonal
                mag += abs(mpfr_get_d(xs[i * cols + j], MPFR_RNDN))
                for p in 0..<i {
                    _ = mpfr_set_d(l_.pointer, l[i * n + p], MPFR_RNDN)
                    _ = mpfr_mul(t.pointer, l_.pointer, xs[p * cols + j], MPFR_RNDN)
                    _ = mpfr_sub(acc.pointer, acc.pointer, t.pointer, MPFR_RNDN)
                    mag += abs(l[i * n + p] * mpfr_get_d(xs[p * cols + j], MPFR_RNDN))
                }
                let r = abs(mpfr_get_d(acc.pointer, MPFR_RNDN))
                #expect(r <= Double(n) * u * mag * 2, "solve residual row \(i) on \(tier)")
            }
        }
    }

    @Test(arguments: [TierUnderTest.float64, .doubleDouble, .float32, .mpfr128])
    func fusedDecodeStepIsBitIdentical(_ tier: TierUnderTest) {
        var c = OpCheck(tier.make())
        // 77 columns: the Float64 sweep's 32-column blocks, an 8-column block and a scalar tail.
        for (K, V, decayed) in [(24, 20, true), (7, 77, true), (7, 77, false)] {
            let s0 = c.data(K * V), x = c.data(K), y = c.data(V), q = c.data(K)
            let b = c.b
            let s1 = b.allocate(rows: K, cols: V), s2 = b.allocate(rows: K, cols: V)
            let tx = b.allocate(K), ty = b.allocate(V), tq = b.allocate(K), o1 = b.allocate(V), o2 = b.allocate(V)
            let decay = decayed ? b.scalar(0.99) : nil
            b.load(s1, s0); b.load(s2, s0); b.load(tx, x); b.load(ty, y); b.load(tq, q)
            b.decayRank1MatTvec(s1, decay: decay, tx, ty, tq, o1)
            if let decay { b.scale(s2, by: decay) }
            b.rank1(s2, tx, ty); b.matTvec(o2, s2, tq)
            let n = K * V
            let a1 = MPFRArray(count: n, precision: 256), a2 = MPFRArray(count: n, precision: 256)
            b.export(s1, into: a1, at: 0); b.export(s2, into: a2, at: 0)
            #expect((0..<n).allSatisfy { mpfr_equal_p(a1[$0], a2[$0]) != 0 }, "state \(K)×\(V) decayed \(decayed)")
            b.export(o1, into: a1, at: 0); b.export(o2, into: a2, at: 0)
            #expect((0..<V).allSatisfy { mpfr_equal_p(a1[$0], a2[$0]) != 0 }, "output \(K)×\(V) decayed \(decayed)")
        }
    }

    @Test(arguments: [TierUnderTest.float64, .doubleDouble, .float32, .mpfr128])
    func storeMatchesElementRounder(_ tier: TierUnderTest) {
        var c = OpCheck(tier.make())
        let n = 300
        let v = c.data(n).map { $0 * 3.7 }
        let t = c.b.allocate(n)
        c.b.load(t, v)
        let bf16 = ElementRounder(format: ElementFormat.named("bfloat16")!)
        c.b.store(t, quantizer: bf16, random: CounterRandom(seed: 1))
        let got = c.b.read(t)
        for i in 0..<n { #expect(got[i] == bf16.round(Float(v[i])).nearestDouble) }
    }

    @Test func storeOfMPFRValueUsesRoundToOdd() {
        // 1 + 2^-8 + 2^-60 is just above the bf16 tie 1 + 2^-8: nearest is 1 + 2^-7. Rounding
        // to double by nearest first would give the tie and then 1.0 (double rounding).
        let b = MPFRBackend(precision: 128)
        let t = b.allocate(1)
        b.fill(t, 1 + 0x1p-8)
        let tiny = b.scalar(0x1p-60)
        b.add(t, t, tiny)
        b.store(t, quantizer: ElementRounder(format: ElementFormat.named("bfloat16")!), random: CounterRandom(seed: 0))
        #expect(b.read(t)[0] == 1 + 0x1p-7)
        let d = DoubleDoubleBackend()
        let u = d.allocate(1)
        d.fill(u, 1 + 0x1p-8)
        d.add(u, u, d.scalar(0x1p-60))
        d.store(u, quantizer: ElementRounder(format: ElementFormat.named("bfloat16")!), random: CounterRandom(seed: 0))
        #expect(d.read(u)[0] == 1 + 0x1p-7)
    }

    @Test func onlineSoftmaxMatchesDirectSoftmax() {
        let b = Float64Backend()
        var rng = SplitMix(seed: 3)
        let n = 50, V = 8
        let scores = (0..<n).map { _ in rng.normal() * 3 }
        let values = (0..<n).map { _ in (0..<V).map { _ in rng.normal() } }
        let sm = OnlineSoftmax(backend: b, valueCount: V)
        sm.reset()
        let s = b.allocate(1), v = b.allocate(V), out = b.allocate(V)
        for i in 0..<n { b.load(s, [scores[i]]); b.load(v, values[i]); sm.add(score: s, value: v) }
        sm.finish(into: out)
        let m = scores.max()!
        let w = scores.map { exp($0 - m) }, z = w.reduce(0, +)
        let expected = (0..<V).map { j in (0..<n).reduce(0) { $0 + w[$1] * values[$1][j] } / z }
        let got = b.read(out)
        for j in 0..<V { #expect(abs(got[j] - expected[j]) <= 1e-13 * (1 + abs(expected[j]))) }
    }

    @Test func doubleDoubleBasics() {
        let a = DoubleDouble(1) / DoubleDouble(3)
        let back = a * DoubleDouble(3)
        #expect(abs((back - DoubleDouble(1)).doubleValue) < 0x1p-102)
        let s = DoubleDouble(2).squareRoot()
        #expect(abs((s * s - DoubleDouble(2)).doubleValue) < 0x1p-101)
    }
}

/// The binary32 fast path of the elementwise functions gives the MPFR path's bits: every
/// decided value is the correctly rounded one, and the undecided ones are rare.
@Suite struct FastElementFunctionTests {
    @Test(arguments: ElementFunction.allCases)
    func decidedValuesAreCorrectlyRounded(f: ElementFunction) {
        let ws = MPFRWorkspace()
        let x = MPFRNumber(precision: 64), r = MPFRNumber(precision: 24)
        var state: UInt64 = 0x9E37_79B9_7F4A_7C15 &* (UInt64(ElementFunction.allCases.firstIndex(of: f)!) + 1)
        var decided = 0, total = 0
        for i in 0..<40_000 {
            // Inputs over every binade the gates and feature maps see, plus exact small integers.
            state = state &* 6364136223846793005 &+ 1442695040888963407
            let bits = UInt32(truncatingIfNeeded: state >> 32)
            var v = Float(bitPattern: (bits & 0x807F_FFFF) | (UInt32(100 + (bits >> 23) % 56) << 23))
            if i % 97 == 0 { v = Float(Int(bits % 64) - 32) }
            total += 1
            guard let fast = FastElementFunctions.float(f, v) else { continue }
            decided += 1
            _ = attnprec_mpfr_set_d(x.pointer, Double(v), MPFR_RNDN)
            MPFRFunctions.evaluate(f, r.pointer, x.pointer, workspace: ws)
            let exact = mpfr_get_flt(r.pointer, MPFR_RNDN)
            if fast.bitPattern != exact.bitPattern {
                Issue.record("\(f)(\(v)): fast \(fast) vs MPFR \(exact)")
                return
            }
        }
        // log/log1p/sqrt/rsqrt refuse half the inputs (negative); the rest decide nearly all.
        #expect(decided > total / 3, "\(f): \(decided) of \(total) decided")
    }
}
