import CBLAS
import CMPFR
import NumberFormats

extension ArrayBackend {
    /// `solveUnitLower` on binary32, 16 columns per vector and up to 64 columns of row i in
    /// registers: every element takes the same fma chain (j ascending) as the generic loop.
    @usableFromInline
    func solveUnitLowerFloat(_ l: Tensor, _ b: Tensor) {
        @inline(__always) func f(_ t: Tensor) -> UnsafeMutablePointer<Float> {
            UnsafeMutableRawPointer(p(t)).assumingMemoryBound(to: Float.self)
        }
        @inline(__always) func load(_ q: UnsafeMutablePointer<Float>) -> SIMD16<Float> {
            UnsafeRawPointer(q).loadUnaligned(as: SIMD16<Float>.self)
        }
        @inline(__always) func store(_ q: UnsafeMutablePointer<Float>, _ v: SIMD16<Float>) {
            UnsafeMutableRawPointer(q).storeBytes(of: v, as: SIMD16<Float>.self)
        }
        let pl = f(l), pb = f(b), ls = l.rowStride, bs = b.rowStride, cols = b.cols
        let vectorCols = cols - cols % 16
        var i = 0
        // Rows i and i + 1 together where 64 columns fit (eight independent fma chains instead
        // of four): both take the terms j < i, then row i + 1 the term j = i from the final row i.
        while i + 1 < b.rows && vectorCols == cols && cols % 64 == 0 {
            let bi = pb + i * bs, bn = bi + bs, li = pl + i * ls, ln = li + ls
            for c0 in stride(from: 0, to: cols, by: 64) {
                var a0 = load(bi + c0), a1 = load(bi + c0 + 16), a2 = load(bi + c0 + 32), a3 = load(bi + c0 + 48)
                var n0 = load(bn + c0), n1 = load(bn + c0 + 16), n2 = load(bn + c0 + 32), n3 = load(bn + c0 + 48)
                for j in 0..<i {
                    let m = SIMD16<Float>(repeating: -li[j]), mn = SIMD16<Float>(repeating: -ln[j]), bj = pb + j * bs + c0
                    let x0 = load(bj), x1 = load(bj + 16), x2 = load(bj + 32), x3 = load(bj + 48)
                    a0 = a0.addingProduct(m, x0); a1 = a1.addingProduct(m, x1)
                    a2 = a2.addingProduct(m, x2); a3 = a3.addingProduct(m, x3)
                    n0 = n0.addingProduct(mn, x0); n1 = n1.addingProduct(mn, x1)
                    n2 = n2.addingProduct(mn, x2); n3 = n3.addingProduct(mn, x3)
                }
                let mi = SIMD16<Float>(repeating: -ln[i])
                n0 = n0.addingProduct(mi, a0); n1 = n1.addingProduct(mi, a1)
                n2 = n2.addingProduct(mi, a2); n3 = n3.addingProduct(mi, a3)
                store(bi + c0, a0); store(bi + c0 + 16, a1); store(bi + c0 + 32, a2); store(bi + c0 + 48, a3)
                store(bn + c0, n0); store(bn + c0 + 16, n1); store(bn + c0 + 32, n2); store(bn + c0 + 48, n3)
            }
            i += 2
        }
        while i < b.rows {
            let bi = pb + i * bs, li = pl + i * ls
            defer { i += 1 }
            var c0 = 0
            while c0 + 64 <= vectorCols {
                var a0 = load(bi + c0), a1 = load(bi + c0 + 16), a2 = load(bi + c0 + 32), a3 = load(bi + c0 + 48)
                for j in 0..<i {
                    let m = SIMD16<Float>(repeating: -li[j]), bj = pb + j * bs + c0
                    a0 = a0.addingProduct(m, load(bj)); a1 = a1.addingProduct(m, load(bj + 16))
                    a2 = a2.addingProduct(m, load(bj + 32)); a3 = a3.addingProduct(m, load(bj + 48))
                }
                store(bi + c0, a0); store(bi + c0 + 16, a1); store(bi + c0 + 32, a2); store(bi + c0 + 48, a3)
                c0 += 64
            }
            while c0 < vectorCols {
                var a0 = load(bi + c0)
                for j in 0..<i { a0 = a0.addingProduct(SIMD16(repeating: -li[j]), load(pb + j * bs + c0)) }
                store(bi + c0, a0)
                c0 += 16
            }
            for c in vectorCols..<cols {
                var a = bi[c]
                for j in 0..<i { a = a.addingProduct(-li[j], pb[j * bs + c]) }
                bi[c] = a
            }
        }
    }
}

extension ArrayBackend where S == Double {
    /// `decayRank1MatTvec` for binary64, 32 columns at a time down all rows: each state element
    /// is loaded and stored once and the 32 outputs stay in registers. Every element sees the
    /// same operations in the same order as the scalar sweep (a·S, then fma(x, y, ·), then
    /// fma(s, q, out) in row order), so the bits are the same.
    @inlinable
    public func decayRank1MatTvecColumns(_ m: Tensor, decay: Tensor?, _ x: Tensor, _ y: Tensor, _ q: Tensor, _ out: Tensor) {
        precondition(x.count == m.rows && y.count == m.cols && q.count == m.rows && out.count == m.cols)
        if let decay {
            columnSweep(m, decayed: true, a: p(decay)[0], p(x), p(y), p(q), p(out))
        } else {
            columnSweep(m, decayed: false, a: 0, p(x), p(y), p(q), p(out))
        }
    }

    @inlinable @inline(__always)
    func columnSweep(
        _ m: Tensor, decayed: Bool, a: Double, _ xs: UnsafeMutablePointer<Double>,
        _ ys: UnsafeMutablePointer<Double>, _ qs: UnsafeMutablePointer<Double>, _ os: UnsafeMutablePointer<Double>
    ) {
        typealias V8 = SIMD8<Double>
        let rows = m.rows, n = m.cols, stride = m.rowStride, base = p(m)
        let a8 = V8(repeating: a)
        @inline(__always) func load(_ p: UnsafeMutablePointer<Double>) -> V8 {
            UnsafeRawPointer(p).loadUnaligned(as: V8.self)
        }
        @inline(__always) func store(_ p: UnsafeMutablePointer<Double>, _ v: V8) {
            UnsafeMutableRawPointer(p).storeBytes(of: v, as: V8.self)
        }
        var c = 0
        while c + 32 <= n {
            let y0 = load(ys + c), y1 = load(ys + c + 8), y2 = load(ys + c + 16), y3 = load(ys + c + 24)
            var o0 = V8(), o1 = V8(), o2 = V8(), o3 = V8()
            for r in 0..<rows {
                let rp = base + r * stride + c
                let xr = V8(repeating: xs[r]), qr = V8(repeating: qs[r])
                var s0 = load(rp), s1 = load(rp + 8), s2 = load(rp + 16), s3 = load(rp + 24)
                if decayed { s0 *= a8; s1 *= a8; s2 *= a8; s3 *= a8 }
                s0 = s0.addingProduct(xr, y0); s1 = s1.addingProduct(xr, y1)
                s2 = s2.addingProduct(xr, y2); s3 = s3.addingProduct(xr, y3)
                store(rp, s0); store(rp + 8, s1); store(rp + 16, s2); store(rp + 24, s3)
                o0 = o0.addingProduct(s0, qr); o1 = o1.addingProduct(s1, qr)
                o2 = o2.addingProduct(s2, qr); o3 = o3.addingProduct(s3, qr)
            }
            store(os + c, o0); store(os + c + 8, o1); store(os + c + 16, o2); store(os + c + 24, o3)
            c += 32
        }
        while c + 8 <= n {
            let y0 = load(ys + c)
            var o0 = V8()
            for r in 0..<rows {
                let rp = base + r * stride + c
                var s0 = load(rp)
                if decayed { s0 *= a8 }
                s0 = s0.addingProduct(V8(repeating: xs[r]), y0)
                store(rp, s0)
                o0 = o0.addingProduct(s0, V8(repeating: qs[r]))
            }
            store(os + c, o0)
            c += 8
        }
        while c < n {
            var o = 0.0
            for r in 0..<rows {
                let rp = base + r * stride + c
                let s = (decayed ? rp[0] * a : rp[0]).addingProduct(xs[r], ys[c])
                rp[0] = s
                o = o.addingProduct(s, qs[r])
            }
            os[c] = o
            c += 1
        }
    }
}
