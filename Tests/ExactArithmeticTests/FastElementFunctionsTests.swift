import CMPFR
import Testing
@testable import ExactArithmetic

/// The eight-lane binary32 exp gives MPFR's bits on every lane it decides, decides nearly all
/// in-range lanes, and `apply(.exp)` on Float32 (eight lanes, padded tails, scalar fallback)
/// equals the element-by-element path; the binary32 forward substitution keeps the generic
/// loop's bits.
@Suite struct FastElementFunctionsTests {
    typealias Reference = FastElementFunctions64Tests.Reference

    /// Random bit patterns over [−100, 100] (both signs, every binade down to subnormals), the
    /// fast range's edges, reduction boundaries (k·ln2 ± ln2/2) and specials, ±4 ulps of each.
    static func inputs(count: Int, seed: UInt64) -> [Float] {
        var rng = SplitMix(seed: seed)
        var out: [Float] = []
        for i in 0..<count {
            switch i % 3 {
            case 0: out.append(Float(rng.uniform() * 200 - 100))
            case 1: out.append(Float(rng.normal() * 4))
            default:
                let bits = UInt32(truncatingIfNeeded: rng.next()) & 0x7FFF_FFFF
                let v = Float(bitPattern: bits)
                out.append(v.isFinite && v.magnitude <= 100 ? (rng.next() & 1 == 0 ? v : -v) : Float(rng.uniform() * 20))
            }
        }
        var base: [Float] = [0, -0.0, .nan, .infinity, -.infinity, .leastNonzeroMagnitude, -.leastNormalMagnitude,
                             -87, 88, -87.336, 88.722, 88.7228, -103.97, -104, 89, 1, -1, 0x1p-30, -0x1p-30]
        for k in -126...127 {
            base.append(Float((Double(k) + 0.5) * 0.6931471805599453))
            base.append(Float(Double(k) * 0.6931471805599453))
        }
        for b in base {
            out.append(b)
            var up = b, down = b
            for _ in 0..<4 { up = up.nextUp; down = down.nextDown; out.append(up); out.append(down) }
        }
        return out
    }

    /// FastExp8's exp and sigmoid: every decided lane is MPFR's correctly rounded binary32.
    @Test(arguments: [ElementFunction.exp, .sigmoid])
    func decidedLanesMatchMPFR(f: ElementFunction) {
        let ref = Reference()
        let xs = Self.inputs(count: f == .exp ? 300_000 : 150_000, seed: 11)
        var decided = 0, inRange = 0, mismatches: [Float] = []
        var i = 0
        while i + 8 <= xs.count {
            var v = SIMD8<Float>()
            for l in 0..<8 { v[l] = xs[i + l] }
            let (y, mask) = f == .exp ? FastExp8.exp(v) : FastExp8.sigmoid(v)
            for l in 0..<8 {
                let x = v[l]
                if x >= -87 && x <= (f == .exp ? 88 : 87) { inRange += 1 }
                guard mask[l] else { continue }
                decided += 1
                let want = ref.float(f, x)
                if y[l].bitPattern != want.bitPattern { mismatches.append(x) }
            }
            i += 8
        }
        #expect(mismatches.isEmpty, "\(f): first mismatches: \(mismatches.prefix(5))")
        // Decided lanes lie in the fast range only; nearly all of it is decided.
        #expect(decided <= inRange)
        #expect(Double(decided) >= 0.999 * Double(inRange), "decided \(decided) of \(inRange)")
    }

    @Test(arguments: [ElementFunction.exp, .sigmoid])
    func applyEqualsElementPath(f: ElementFunction) {
        let b = Float32Backend()
        let xs = Self.inputs(count: 4_000, seed: 12)
        let ref = Reference()
        // Rows of every length 1…67 (tails of every size), in place and out of place.
        var offset = 0
        for n in 1...67 {
            let src = b.allocate(rows: 1, cols: n), dst = b.allocate(rows: 1, cols: n)
            let sb = b.buffer(src)
            for c in 0..<n { sb[c] = xs[(offset + c) % xs.count] }
            offset += n
            b.apply(f, dst, src)
            let want = (0..<n).map { ref.float(f, sb[$0]) }
            let got = Array(b.buffer(dst))
            #expect(zip(got, want).allSatisfy { $0.bitPattern == $1.bitPattern || ($0.isNaN && $1.isNaN) }, "\(f) n = \(n)")
            b.apply(f, src, src)
            #expect(zip(Array(b.buffer(src)), want).allSatisfy { $0.bitPattern == $1.bitPattern || ($0.isNaN && $1.isNaN) })
        }
    }

    @Test(arguments: [1, 5, 16, 17, 48, 64, 80, 128, 200], [63, 64])
    func forwardSubstitutionKeepsGenericBits(cols: Int, n: Int) {
        var rng = SplitMix(seed: UInt64(cols * n))
        let b = Float32Backend(capacity: 1 << 16)
        let l = b.allocate(rows: n, cols: n), x = b.allocate(rows: n, cols: cols)
        let lb = b.buffer(l), xb = b.buffer(x)
        for i in 0..<(n * n) { lb[i] = Float(rng.normal() * 0.3) }
        for i in 0..<(n * cols) { xb[i] = Float(rng.normal()) }
        lb[5 * n + 2] = .nan; lb[9 * n + 4] = .infinity  // specials propagate the same way
        // The generic loop: row i −= l_ij · row j for j < i, one fma per element, j ascending.
        var want = Array(xb)
        for i in 0..<n {
            for j in 0..<i {
                let lij = -lb[i * n + j]
                for c in 0..<cols { want[i * cols + c] = want[i * cols + c].addingProduct(lij, want[j * cols + c]) }
            }
        }
        b.solveUnitLower(l, x)
        let got = Array(b.buffer(x))
        #expect(zip(got, want).allSatisfy { $0.bitPattern == $1.bitPattern || ($0.isNaN && $1.isNaN) })
    }
}
