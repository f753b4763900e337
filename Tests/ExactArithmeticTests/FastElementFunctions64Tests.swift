import CMPFR
import Foundation
import Testing
@testable import ExactArithmetic

/// The binary64 fast path (`FastElementFunctions64`) and the binary32 rsqrt of `l2Normalize`
/// give the MPFR path's bits, bit for bit, on random and adversarial inputs; the fallback is
/// rare on ordinary inputs and is taken (and correct) where it must be.
@Suite struct FastElementFunctions64Tests {
    static let functions: [ElementFunction] = [.exp, .sigmoid, .softplus, .logsigmoid, .rsqrt]

    /// The correctly rounded value: f at 256 bits rounded once onto the format's grid
    /// (subnormals included; `SubnormalRoundingTests.reference`).
    final class Reference {
        func double(_ f: ElementFunction, _ v: Double) -> Double {
            SubnormalRoundingTests.reference(f, v, bits: 53, le: -1074)
        }
        func float(_ f: ElementFunction, _ v: Float) -> Float {
            Float(SubnormalRoundingTests.reference(f, Double(v), bits: 24, le: -149))
        }
    }

    static func same(_ a: Double, _ b: Double) -> Bool { a.bitPattern == b.bitPattern || (a.isNaN && b.isNaN) }

    /// Thresholds, specials and neighbours (±4 ulps) of each.
    static func adversarial(_ f: ElementFunction) -> [Double] {
        var base: [Double] = [0, -0.0, .infinity, -.infinity, .nan, 1, -1, 2, 0.5,
                              .leastNonzeroMagnitude, -.leastNonzeroMagnitude, .leastNormalMagnitude,
                              .greatestFiniteMagnitude, -.greatestFiniteMagnitude, 0x1p-1074 * 3, 0x1p-1030]
        switch f {
        case .rsqrt:
            base += [4, 0x1p-1022, 0x1p1023, 0x1p-1073, 0x1.fffffffffffffp1023, 3, 0x1p-1070 * 7]
            for e in stride(from: -1074, through: 1023, by: 37) { base.append(Double(sign: .plus, exponent: e, significand: 1)) }
        default:
            // exp overflow, normal/subnormal underflow, the fast path's domain edges, the
            // sigmoid/softplus cut at ±40, the log1p branch at u = 2^−6, reduction boundaries.
            base += [709.782712893384, 709.78, 710, -708.3964185322641, -708.39, -708.4, -745.1332191019411,
                     -745.2, -746, 746, 40, -40, 36, 37, 38, -4.1588830833596715, 4.1588830833596715,
                     1e-300, -1e-300, 1e-20, -1e-20, 0x1p-60, -0x1p-60, 30, -30, 700, -700]
            let l = 0.6931471805599453 / 64
            for i in -20...20 { base.append((Double(i) + 0.5) * l); base.append(Double(i) * 64 * l) }
        }
        var out: [Double] = []
        for b in base {
            out.append(b)
            var up = b, down = b
            for _ in 0..<4 { up = up.nextUp; down = down.nextDown; out.append(up); out.append(down) }
        }
        return out
    }

    /// 10^5 random inputs per function over its whole domain and the gate range.
    static func random(_ f: ElementFunction, seed: UInt64) -> [Double] {
        var rng = SplitMix(seed: seed)
        return (0..<100_000).map { i in
            switch f {
            case .rsqrt:
                // Every positive binade, subnormals included; every 4th a normal square sum.
                if i % 4 == 0 { return abs(rng.normal()) * 128 + 1e-6 }
                return Double(bitPattern: rng.next() & 0x7FEF_FFFF_FFFF_FFFF)
            default:
                switch i % 4 {
                case 0: return rng.normal()
                case 1: return rng.normal() * 8 - 3
                case 2: return (rng.uniform() - 0.5) * 1500
                default: return Double(sign: rng.next() & 1 == 0 ? .plus : .minus,
                                       exponent: Int(rng.next() % 80) - 70, significand: 1 + rng.uniform())
                }
            }
        }
    }

    @Test(arguments: functions)
    func randomAndAdversarialInputsMatchMPFR(f: ElementFunction) {
        let ref = Reference()
        var fallbacks = 0, checked = 0
        let inputs = Self.random(f, seed: 17 &+ UInt64(Self.functions.firstIndex(of: f)!)) + Self.adversarial(f)
        for x in inputs {
            guard let fast = FastElementFunctions64.double(f, x) else { fallbacks += 1; continue }
            checked += 1
            let exact = ref.double(f, x)
            if !Self.same(fast, exact) {
                Issue.record("\(f)(\(x.bitPattern.hex)): fast \(fast) vs MPFR \(exact)")
                return
            }
        }
        #expect(checked >= 100_000 * 9 / 10, "\(f): \(checked) checked")
        // Outside the specials the fast path decides nearly everything.
        #expect(Double(fallbacks) < 0.04 * Double(inputs.count), "\(f): \(fallbacks) fallbacks of \(inputs.count)")
    }

    /// On the inputs the study feeds these functions (gate arguments, β logits, square sums)
    /// the fallback is taken in under 0.1% of the calls.
    @Test(arguments: functions)
    func fallbackIsRareOnOrdinaryInputs(f: ElementFunction) {
        var rng = SplitMix(seed: 99)
        var fallbacks = 0
        let n = 100_000
        for _ in 0..<n {
            let x = f == .rsqrt ? abs(rng.normal()) * 128 + 1e-6 : rng.normal() * 4 - 2
            if FastElementFunctions64.double(f, x) == nil { fallbacks += 1 }
        }
        #expect(fallbacks * 1000 < n, "\(f): \(fallbacks) fallbacks in \(n)")
    }

    /// Inputs whose value lies within 2^−60 (relative) of a rounding boundary, found by
    /// searching with a bound 2^30 times wider: the real bound still decides most of them, and
    /// those decided are the MPFR bits.
    @Test(arguments: functions)
    func nearBoundaryInputsMatchMPFR(f: ElementFunction) {
        let ref = Reference()
        var rng = SplitMix(seed: 4242 &+ UInt64(Self.functions.firstIndex(of: f)!))
        var near: [Double] = []
        var tries = 0
        while near.count < 300 && tries < 2_000_000 {
            tries += 1
            let x = f == .rsqrt ? Double(bitPattern: 0x3FF0_0000_0000_0000 | (rng.next() >> 12)) * 4
                : (rng.uniform() - 0.5) * 60
            if FastElementFunctions64.double(f, x) != nil && FastElementFunctions64.double(f, x, boundScale: 0x1p30) == nil {
                near.append(x)
            }
        }
        #expect(near.count == 300, "\(f): \(near.count) near-boundary inputs in \(tries) tries")
        for x in near {
            let fast = FastElementFunctions64.double(f, x)!, exact = ref.double(f, x)
            #expect(Self.same(fast, exact), "\(f)(\(x.bitPattern.hex)): fast \(fast) vs MPFR \(exact)")
        }
    }

    /// `Float64Backend.apply` takes the MPFR fallback where the fast path refuses (subnormal
    /// results, specials, a bound forced wide) and gives the correctly rounded bits everywhere.
    @Test(arguments: functions)
    func backendFallbackIsExercisedAndExact(f: ElementFunction) {
        let ref = Reference()
        let inputs = Self.adversarial(f) + Array(Self.random(f, seed: 5).prefix(20_000))
        let refused = inputs.filter { FastElementFunctions64.double(f, $0) == nil }
        // Subnormal or overflowing results and non-finite inputs must be refused.
        #expect(refused.count >= 10, "\(f): only \(refused.count) refused")
        let b = Float64Backend()
        let t = b.allocate(rows: 1, cols: inputs.count)
        b.load(t, inputs)
        b.apply(f, t, t)
        let got = b.buffer(t)
        for (i, x) in inputs.enumerated() {
            let exact = ref.double(f, x)
            if !Self.same(got[i], exact) {
                Issue.record("backend \(f)(\(x.bitPattern.hex)): \(got[i]) vs MPFR \(exact)")
                return
            }
        }
        // Among the refused: results the fast path must not produce (subnormal/zero/inf).
        if f == .exp {
            #expect(refused.contains(-745.1332191019411) && refused.contains(710) && refused.contains(where: \.isNaN))
            #expect(ref.double(.exp, -740).isSubnormalOrZero)
        }
    }

    /// The binary32 rsqrt `l2Normalize` uses (libm in double + Ziv test) on 2·10^5 positive
    /// floats over every binade, subnormals included.
    @Test func floatRsqrtMatchesMPFR() {
        let ref = Reference()
        var rng = SplitMix(seed: 3)
        var fallbacks = 0
        for i in 0..<200_000 {
            let x = i % 2 == 0 ? Float(bitPattern: UInt32(truncatingIfNeeded: rng.next()) & 0x7F7F_FFFF)
                : Float(abs(rng.normal()) * 128 + 1e-6)
            guard x > 0, let fast = FastElementFunctions.float(.rsqrt, x) else { fallbacks += 1; continue }
            let exact = ref.float(.rsqrt, x)
            if fast.bitPattern != exact.bitPattern { Issue.record("rsqrt(\(x)): \(fast) vs \(exact)"); return }
        }
        #expect(fallbacks < 2000, "\(fallbacks) fallbacks")
    }

    /// `l2Normalize` on the Float32 and Float64 backends: the same bits as the square sum
    /// followed by MPFR's rsqrt (the definition it had before the fast paths).
    @Test func l2NormalizeMatchesMPFRDefinition() {
        let ref = Reference()
        var rng = SplitMix(seed: 8)
        let b32 = Float32Backend(), b64 = Float64Backend()
        let t32 = b32.allocate(rows: 1, cols: 128), t64 = b64.allocate(rows: 1, cols: 128)
        for trial in 0..<2000 {
            let scale = trial % 10 == 0 ? 1e-20 : (trial % 10 == 1 ? 1e15 : 1)
            let v = (0..<128).map { _ in Double(Float(rng.normal() * scale)) }
            b32.load(t32, v); b64.load(t64, v)
            b32.l2Normalize(t32, eps: 1e-6); b64.l2Normalize(t64, eps: 1e-6)
            var a32: Float = 0, a64 = 0.0
            for x in v { a32 = a32.addingProduct(Float(x), Float(x)); a64 = a64.addingProduct(x, x) }
            a32 += Float(1e-6); a64 += 1e-6
            let r32 = ref.float(.rsqrt, a32), r64 = ref.double(.rsqrt, a64)
            let g32 = b32.buffer(t32), g64 = b64.buffer(t64)
            for i in 0..<128 {
                if g32[i].bitPattern != (Float(v[i]) * r32).bitPattern || g64[i].bitPattern != (v[i] * r64).bitPattern {
                    Issue.record("trial \(trial) element \(i)"); return
                }
            }
        }
    }
}

extension UInt64 { var hex: String { "0x" + String(self, radix: 16) } }
private extension Double { var isSubnormalOrZero: Bool { isSubnormal || isZero } }
