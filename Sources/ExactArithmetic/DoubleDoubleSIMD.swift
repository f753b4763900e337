/// Double-word arithmetic on 8 lanes at once: the same algorithms as `DoubleDouble` (same
/// operations in the same order, so bit-identical results), vectorised for the decode step.
@usableFromInline typealias DD8 = (hi: SIMD8<Double>, lo: SIMD8<Double>)

@inlinable @inline(__always)
func ddTwoSum(_ a: SIMD8<Double>, _ b: SIMD8<Double>) -> DD8 {
    let s = a + b
    let bb = s - a
    return (s, (a - (s - bb)) + (b - bb))
}

@inlinable @inline(__always)
func ddFastTwoSum(_ a: SIMD8<Double>, _ b: SIMD8<Double>) -> DD8 {
    let s = a + b
    return (s, b - (s - a))
}

@inlinable @inline(__always)
func ddAdd(_ x: DD8, _ y: DD8) -> DD8 {
    let s = ddTwoSum(x.hi, y.hi)
    let t = ddTwoSum(x.lo, y.lo)
    let c = s.lo + t.hi
    let v = ddFastTwoSum(s.hi, c)
    let w = t.lo + v.lo
    return ddFastTwoSum(v.hi, w)
}

@inlinable @inline(__always)
func ddMul(_ x: DD8, _ y: DD8) -> DD8 {
    let ch = x.hi * y.hi
    let cl1 = (-ch).addingProduct(x.hi, y.hi)
    let tl0 = x.lo * y.lo
    let tl1 = tl0.addingProduct(x.hi, y.lo)
    let cl2 = tl1.addingProduct(x.lo, y.hi)
    let cl3 = cl1 + cl2
    return ddFastTwoSum(ch, cl3)
}

extension ArrayBackend where S == DoubleDouble {
    @inlinable @inline(__always)
    func load8(_ p: UnsafeMutablePointer<DoubleDouble>) -> DD8 {
        let v = UnsafeRawPointer(p).loadUnaligned(as: SIMD16<Double>.self)
        return (v.evenHalf, v.oddHalf)
    }

    @inlinable @inline(__always)
    func store8(_ p: UnsafeMutablePointer<DoubleDouble>, _ x: DD8) {
        var v = SIMD16<Double>()
        for i in 0..<8 { v[2 * i] = x.hi[i]; v[2 * i + 1] = x.lo[i] }
        UnsafeMutableRawPointer(p).storeBytes(of: v, as: SIMD16<Double>.self)
    }

    /// `decayRank1MatTvec` with 8 columns per vector operation; bit-identical to the scalar loop.
    @inlinable
    public func decayRank1MatTvecSIMD(_ m: Tensor, decay: Tensor?, _ x: Tensor, _ y: Tensor, _ q: Tensor, _ out: Tensor) {
        precondition(x.count == m.rows && y.count == m.cols && q.count == m.rows && out.count == m.cols)
        let xs = p(x), ys = p(y), qs = p(q), os = p(out)
        let n = m.cols, n8 = n & ~7
        os.update(repeating: .zero, count: n)
        let a = decay.map { p($0)[0] }
        let a8: DD8? = a.map { (SIMD8(repeating: $0.hi), SIMD8(repeating: $0.lo)) }
        for r in 0..<m.rows {
            let row = p(m) + r * m.rowStride, xr = xs[r], qr = qs[r]
            let x8: DD8 = (SIMD8(repeating: xr.hi), SIMD8(repeating: xr.lo))
            let q8: DD8 = (SIMD8(repeating: qr.hi), SIMD8(repeating: qr.lo))
            var c = 0
            while c < n8 {
                var sv = load8(row + c)
                if let a8 { sv = ddMul(sv, a8) }
                let s = ddAdd(ddMul(x8, load8(ys + c)), sv)
                store8(row + c, s)
                store8(os + c, ddAdd(ddMul(s, q8), load8(os + c)))
                c += 8
            }
            while c < n {
                var sv = row[c]
                if let a { sv = sv * a }
                let s = DoubleDouble.fused(xr, ys[c], sv)
                row[c] = s
                os[c] = DoubleDouble.fused(s, qr, os[c])
                c += 1
            }
        }
    }
}
