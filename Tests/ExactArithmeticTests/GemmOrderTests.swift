import Foundation
import Testing
@testable import ExactArithmetic

/// The binary32 gemm's fixed summation order: every element is the fma chain over k = 0, 1, …
/// in turn from 0, added to C once when accumulating, whatever the shape, transposes, strides,
/// vector width or blocking — checked bit for bit against that loop written out, with values
/// whose sums round at every step (so any other order or a missing fma shows).
@Suite struct GemmOrderTests {
    /// The definition: s ← fma(a_ik, b_kj, s), k ascending from s = 0; c_ij ← s, or c_ij + s.
    /// `chainFromC` instead starts the chain from c_ij (the order the test shows is not taken).
    static func reference(
        _ a: [Float], _ b: [Float], _ c0: [Float], m: Int, n: Int, k: Int, ta: Bool, tb: Bool, accumulate: Bool, chainFromC: Bool = false
    ) -> [Float] {
        var c = c0
        for i in 0..<m {
            for j in 0..<n {
                var x: Float = chainFromC && accumulate ? c[i * n + j] : 0
                for l in 0..<k {
                    let aik = ta ? a[l * m + i] : a[i * k + l], bkj = tb ? b[j * k + l] : b[l * n + j]
                    x = x.addingProduct(aik, bkj)
                }
                c[i * n + j] = accumulate && !chainFromC ? c[i * n + j] + x : x
            }
        }
        return c
    }

    static func values(_ count: Int, seed: UInt64) -> [Float] {
        var s = seed
        return (0..<count).map { _ in
            s = s &* 6364136223846793005 &+ 1442695040888963407
            // Mixed magnitudes: products and partial sums round differently in every order.
            let u = Float(Int64(bitPattern: s >> 11) % 1_000_003) / 1_000_003
            return u * Float(1 << Int((s >> 3) % 7)) / 8
        }
    }

    static let shapes: [(Int, Int, Int)] = [
        (1, 1, 1), (6, 16, 1), (7, 17, 33), (13, 40, 9), (64, 64, 64), (64, 128, 128), (12, 8, 70), (5, 31, 64),
        // The last 2, 3 and 4 rows through the 6-row kernel (repeated rows computed, not stored).
        (8, 24, 17), (9, 9, 5), (2, 33, 8), (3, 8, 4), (64, 256, 64),
    ]

    @Test(arguments: [(false, false), (true, false), (false, true), (true, true)])
    func everyShapeMatchesTheSequentialFmaLoop(_ ta: Bool, _ tb: Bool) {
        for (m, n, k) in Self.shapes {
            for accumulate in [false, true] {
                let a = Self.values(m * k, seed: UInt64(m * 131 + k)), b = Self.values(k * n, seed: UInt64(n * 17 + k)), c0 = Self.values(m * n, seed: 9)
                let want = Self.reference(a, b, c0, m: m, n: n, k: k, ta: ta, tb: tb, accumulate: accumulate)
                let backend = Float32Backend(capacity: 4 * (m * k + k * n + m * n) + 64)
                // Operands inside wider rows (a row stride larger than the row) as the chunked forms use them.
                let A = backend.allocate(rows: ta ? k : m, cols: (ta ? m : k) + 3), B = backend.allocate(rows: tb ? n : k, cols: (tb ? k : n) + 5)
                let C = backend.allocate(rows: m, cols: n + 2)
                let av = A.block(rows: 0..<A.rows, cols: 0..<(ta ? m : k)), bv = B.block(rows: 0..<B.rows, cols: 0..<(tb ? k : n))
                let cv = C.block(rows: 0..<m, cols: 0..<n)
                let pa = backend.core.base + A.offset, pb = backend.core.base + B.offset, pc = backend.core.base + C.offset
                for r in 0..<av.rows { for q in 0..<av.cols { pa[r * A.rowStride + q] = a[r * av.cols + q] } }
                for r in 0..<bv.rows { for q in 0..<bv.cols { pb[r * B.rowStride + q] = b[r * bv.cols + q] } }
                for width in [8, 16, 0] {
                    for r in 0..<m { for q in 0..<n { pc[r * C.rowStride + q] = c0[r * n + q] } }
                    switch width {
                    case 8, 16:
                        let g = GemmOperands(a: pa, rowStep: ta ? 1 : A.rowStride, kStep: ta ? A.rowStride : 1, b: pb, ldb: B.rowStride, c: pc, ldc: C.rowStride,
                                             n: n, k: k, accumulate: accumulate)
                        if tb {
                            // The transposed B through gemm only (it is packed there).
                            backend.gemm(cv, av, transposeA: ta, bv, transposeB: tb, accumulate: accumulate)
                        } else if width == 8 {
                            FixedOrderGemm.blocked(SIMD8<Float>.self, g, rows: m)
                        } else {
                            FixedOrderGemm.blocked(SIMD16<Float>.self, g, rows: m)
                        }
                    default:
                        backend.gemm(cv, av, transposeA: ta, bv, transposeB: tb, accumulate: accumulate)
                    }
                    var got = [Float](repeating: 0, count: m * n)
                    for r in 0..<m { for q in 0..<n { got[r * n + q] = pc[r * C.rowStride + q] } }
                    let bad = zip(got, want).filter { $0.bitPattern != $1.bitPattern }.count
                    #expect(bad == 0, "m=\(m) n=\(n) k=\(k) ta=\(ta) tb=\(tb) acc=\(accumulate) width=\(width): \(bad) elements differ")
                }
            }
        }
    }

    /// Accumulating adds the finished sum to C once (as `acc += dot(…)` in a GPU kernel): on
    /// these operands that differs from chaining the fmas from C, so the test above could tell.
    @Test func accumulatingAddsTheSumOnce() {
        let m = 64, n = 64, k = 64
        let backend = Float32Backend(capacity: 4 * m * n + 64)
        let A = backend.allocate(rows: m, cols: k), B = backend.allocate(rows: k, cols: n), C = backend.allocate(rows: m, cols: n)
        let a = Self.values(m * k, seed: 3), b = Self.values(k * n, seed: 4), c0 = Self.values(m * n, seed: 5).map { $0 * 64 }
        backend.load(A, a.map(Double.init))
        backend.load(B, b.map(Double.init))
        backend.load(C, c0.map(Double.init))
        backend.gemm(C, A, transposeA: false, B, transposeB: false, accumulate: true)
        let own = Array(backend.buffer(C))
        #expect(own == Self.reference(a, b, c0, m: m, n: n, k: k, ta: false, tb: false, accumulate: true))
        let chained = Self.reference(a, b, c0, m: m, n: n, k: k, ta: false, tb: false, accumulate: true, chainFromC: true)
        #expect(zip(own, chained).contains { $0.bitPattern != $1.bitPattern })
    }
}

/// The binary64 gemm (SIMD across a row's columns, B packed when transposed) keeps the generic
/// chain c_ij ← fma(a_ik, b_kj, c_ij), k ascending from C (accumulating) or 0: checked bit for bit.
@Suite struct GemmOrderFloat64Tests {
    @Test(arguments: [(false, false), (true, false), (false, true), (true, true)])
    func everyShapeMatchesTheChainFromC(_ ta: Bool, _ tb: Bool) {
        for (m, n, k) in GemmOrderTests.shapes {
            for accumulate in [false, true] {
                let a = GemmOrderTests.values(m * k, seed: UInt64(m * 7 + k)).map { Double($0) * 1.000000119 }
                let b = GemmOrderTests.values(k * n, seed: UInt64(n * 3 + k)).map { Double($0) / 3 }
                let c0 = GemmOrderTests.values(m * n, seed: 5).map { Double($0) / 7 }
                var want = c0
                for i in 0..<m {
                    for j in 0..<n {
                        var x = accumulate ? c0[i * n + j] : 0
                        for l in 0..<k { x = x.addingProduct(ta ? a[l * m + i] : a[i * k + l], tb ? b[j * k + l] : b[l * n + j]) }
                        want[i * n + j] = x
                    }
                }
                let backend = Float64Backend()
                let A = backend.allocate(rows: ta ? k : m, cols: (ta ? m : k) + 3), B = backend.allocate(rows: tb ? n : k, cols: (tb ? k : n) + 5)
                let C = backend.allocate(rows: m, cols: n + 2)
                let av = A.block(rows: 0..<A.rows, cols: 0..<(ta ? m : k)), bv = B.block(rows: 0..<B.rows, cols: 0..<(tb ? k : n))
                let cv = C.block(rows: 0..<m, cols: 0..<n)
                for r in 0..<av.rows { backend.load(av.row(r), Array(a[(r * av.cols)..<((r + 1) * av.cols)])) }
                for r in 0..<bv.rows { backend.load(bv.row(r), Array(b[(r * bv.cols)..<((r + 1) * bv.cols)])) }
                for r in 0..<m { backend.load(cv.row(r), Array(c0[(r * n)..<((r + 1) * n)])) }
                backend.gemm(cv, av, transposeA: ta, bv, transposeB: tb, accumulate: accumulate)
                let got = (0..<m).flatMap { backend.read(cv.row($0)) }
                let bad = zip(got, want).filter { $0.bitPattern != $1.bitPattern }.count
                #expect(bad == 0, "m=\(m) n=\(n) k=\(k) ta=\(ta) tb=\(tb) acc=\(accumulate): \(bad) elements differ")
                // Both vector widths directly (the build picks one): 4 lanes (AVX2) and 8 (AVX-512).
                guard !tb else { continue }
                let base = backend.core.base
                for width in [4, 8] {
                    for r in 0..<m { backend.load(cv.row(r), Array(c0[(r * n)..<((r + 1) * n)])) }
                    let g = GemmOperands(a: base + A.offset, rowStep: ta ? 1 : A.rowStride, kStep: ta ? A.rowStride : 1, b: base + B.offset, ldb: B.rowStride,
                                         c: base + C.offset, ldc: C.rowStride, n: n, k: k, accumulate: accumulate, chainFromC: true)
                    if width == 4 { FixedOrderGemm.blocked(SIMD4<Double>.self, g, rows: m) } else { FixedOrderGemm.blocked(SIMD8<Double>.self, g, rows: m) }
                    let direct = (0..<m).flatMap { backend.read(cv.row($0)) }
                    #expect(zip(direct, want).allSatisfy { $0.bitPattern == $1.bitPattern }, "width \(width): m=\(m) n=\(n) k=\(k) ta=\(ta) acc=\(accumulate)")
                }
            }
        }
    }
}
