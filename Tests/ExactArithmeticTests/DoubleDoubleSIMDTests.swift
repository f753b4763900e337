import CMPFR
import Foundation
import Testing
@testable import ExactArithmetic

/// The vectorised double-word decode step against the scalar `DoubleDouble` algorithms and
/// against exact sums.
@Suite struct DoubleDoubleSIMDTests {
    /// Doubles over many binades, with zeros, powers of two, products that round to a tie,
    /// and products in the subnormal range.
    static func awkwardDoubles(_ n: Int, seed: UInt64) -> [Double] {
        var rng = SplitMix(seed: seed)
        var v: [Double] = [0, -0.0, 1, -1, 0.5, 3, 1 + 0x1p-52, 1 - 0x1p-53, 0x1p-1022, 0x1p-540, 0x1p500, 1.5]
        while v.count < n {
            let e = Int(rng.next() % 200) - 100
            let m = rng.normal()
            v.append(rng.next() % 7 == 0 ? Double(Float(m)) : m * Foundation.pow(2, Double(e)))
        }
        return v
    }

    @Test func exactProductShortcutsGiveTheFullProductsValues() {
        let xs = Self.awkwardDoubles(4096, seed: 1), ys = Self.awkwardDoubles(4096, seed: 2)
        let lows = Self.awkwardDoubles(4096, seed: 3)
        var i = 0
        while i + 8 <= xs.count {
            var x = SIMD8<Double>(), y = SIMD8<Double>(), xl = SIMD8<Double>()
            for j in 0..<8 {
                x[j] = xs[i + j]; y[j] = ys[(i + 5 * j) % ys.count]
                // A proper low word: |xl| ≤ ulp(x)/2.
                xl[j] = x[j] == 0 ? 0 : lows[i + j].truncatingRemainder(dividingBy: 1) * x[j].ulp / 2
            }
            let zero = SIMD8<Double>()
            let full = ddMul((x, zero), (y, zero)), fast = ddTwoProduct(x, y)
            let fullD = ddMul((x, xl), (y, zero)), fastD = ddMulDouble((x, xl), y)
            for j in 0..<8 {
                // Equal values; the bits too, except the sign of a zero (−0·y: the full
                // product's last addition gives +0).
                #expect(full.hi[j] == fast.hi[j] && full.lo[j] == fast.lo[j], "TwoProd \(x[j]) × \(y[j])")
                #expect(full.hi[j].bitPattern == fast.hi[j].bitPattern || full.hi[j] == 0)
                // RN(ch + cl1) = ch: the FastTwoSum the full product ends with changes nothing.
                #expect(fast.hi[j] + fast.lo[j] == fast.hi[j])
                #expect(fullD.hi[j].bitPattern == fastD.hi[j].bitPattern && fullD.lo[j] == fastD.lo[j],
                        "DW×FP (\(x[j]), \(xl[j])) × \(y[j])")
            }
            i += 8
        }
    }

    /// Inputs for one decode step; `doubleWord` gives x, y and the decay nonzero low words.
    struct Step {
        var s0: [DoubleDouble], x: [DoubleDouble], y: [DoubleDouble], q: [DoubleDouble], a: DoubleDouble?
        init(K: Int, V: Int, doubleWord: Bool, decay: Bool, seed: UInt64) {
            var rng = SplitMix(seed: seed)
            func value(_ word: Bool) -> DoubleDouble {
                let v = DoubleDouble(rng.normal())
                return word ? v / DoubleDouble(3) : v
            }
            s0 = (0..<(K * V)).map { _ in value(true) }
            x = (0..<K).map { _ in value(doubleWord) }
            y = (0..<V).map { _ in value(doubleWord) }
            q = (0..<K).map { _ in value(true) }
            a = decay ? (doubleWord ? DoubleDouble(0.99) / DoubleDouble(1.01) : DoubleDouble(0.99)) : nil
        }
    }

    func load(_ b: DoubleDoubleBackend, _ t: Tensor, _ v: [DoubleDouble]) {
        let buf = b.buffer(t)
        for i in 0..<v.count { buf[i] = v[i] }
    }

    @Test(arguments: [(24, 20), (16, 16), (5, 3), (9, 37)])
    func fusedStepStateIsTheScalarAlgorithmsAndOutputIsMatTvec(_ shape: (Int, Int)) {
        let (K, V) = shape
        for doubleWord in [false, true] {
            for decay in [false, true] {
                let st = Step(K: K, V: V, doubleWord: doubleWord, decay: decay, seed: UInt64(K * 100 + V))
                let b = DoubleDoubleBackend()
                let s = b.allocate(rows: K, cols: V), x = b.allocate(K), y = b.allocate(V), q = b.allocate(K)
                let o = b.allocate(V), o2 = b.allocate(V)
                let a = st.a.map { _ in b.allocate(1) }
                load(b, s, st.s0); load(b, x, st.x); load(b, y, st.y); load(b, q, st.q)
                if let a, let av = st.a { load(b, a, [av]) }
                b.decayRank1MatTvec(s, decay: a, x, y, q, o)
                b.matTvec(o2, s, q)
                let got = b.buffer(s), out = b.buffer(o), out2 = b.buffer(o2)
                var stateMismatch = 0
                for r in 0..<K {
                    for c in 0..<V {
                        var e = st.s0[r * V + c]
                        if let av = st.a { e = e * av }
                        e = DoubleDouble.fused(st.x[r], st.y[c], e)
                        let g = got[r * V + c]
                        if g.hi.bitPattern != e.hi.bitPattern || g.lo != e.lo { stateMismatch += 1 }
                    }
                }
                #expect(stateMismatch == 0, "K=\(K) V=\(V) doubleWord=\(doubleWord) decay=\(decay)")
                #expect((0..<V).allSatisfy { out[$0].hi.bitPattern == out2[$0].hi.bitPattern && out[$0].lo == out2[$0].lo })
                // The output is a proper double word.
                #expect((0..<V).allSatisfy { out[$0].hi + out[$0].lo == out[$0].hi })
            }
        }
    }

    /// Worst case for the compensated read-out: large terms that cancel, so Σ|terms| is far
    /// above the result, checked against the exact sum with the bound the kernel documents.
    @Test func readOutWithinItsErrorBoundUnderCancellation() {
        let K = 128, V = 24
        var rng = SplitMix(seed: 9)
        let b = DoubleDoubleBackend()
        let m = b.allocate(rows: K, cols: V), q = b.allocate(K), o = b.allocate(V)
        var sv = [DoubleDouble](repeating: .zero, count: K * V)
        for r in stride(from: 0, to: K, by: 2) {
            for c in 0..<V {
                // Rows 2i and 2i+1 nearly cancel; magnitudes spread over 2^±20.
                let mag = Foundation.pow(2, Double(Int(rng.next() % 41) - 20))
                let v = DoubleDouble(rng.normal() * mag) / DoubleDouble(7)
                sv[r * V + c] = v
                sv[(r + 1) * V + c] = -(v + DoubleDouble(hi: rng.normal() * 0x1p-30 * mag, lo: 0))
            }
        }
        let qv = (0..<K).map { r in r % 2 == 0 ? DoubleDouble(1) / DoubleDouble(3) : DoubleDouble(1) / DoubleDouble(3) + DoubleDouble(0x1p-40) }
        load(b, m, sv); load(b, q, qv)
        b.matTvec(o, m, q)
        let out = b.buffer(o)
        let acc = MPFRNumber(precision: 600), t = MPFRNumber(precision: 600), u = MPFRNumber(precision: 300)
        var worst = 0.0
        let blockRows = Double(ArrayBackend<DoubleDouble>.readOutBlock)
        for c in 0..<V {
            mpfr_set_zero(acc.pointer, 1)
            var absTerms = 0.0
            for r in 0..<K {
                sv[r * V + c].setMPFR(t.pointer)
                qv[r].setMPFR(u.pointer)
                _ = mpfr_mul(t.pointer, t.pointer, u.pointer, MPFR_RNDN)
                _ = mpfr_add(acc.pointer, acc.pointer, t.pointer, MPFR_RNDN)
                absTerms += abs(mpfr_get_d(t.pointer, MPFR_RNDN))
            }
            out[c].setMPFR(t.pointer)
            _ = mpfr_sub(t.pointer, t.pointer, acc.pointer, MPFR_RNDN)
            let err = abs(mpfr_get_d(t.pointer, MPFR_RNDN))
            // ((B + 5)·n + 9)·u²·Σ|terms| with u = 2^−53 (see `ddColumnSweep`).
            let bound = ((blockRows + 5) * Double(K) + 9) * 0x1p-106 * absTerms * (1 + 1e-9)
            worst = max(worst, err / bound)
            // The cancellation is real: the result is far below Σ|terms|.
            #expect(abs(mpfr_get_d(acc.pointer, MPFR_RNDN)) < 1e-6 * absTerms)
        }
        #expect(worst <= 1, "worst error \(worst) × bound")
        #expect(!worst.isNaN)
    }
}
