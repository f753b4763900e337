/// Double-word arithmetic on 8 lanes at once: the same algorithms as `DoubleDouble` (same
/// operations in the same order, so the same values), vectorised for the decode step.
@usableFromInline typealias DD8 = (hi: SIMD8<Double>, lo: SIMD8<Double>)

/// −x by a sign flip. (SIMD's prefix minus is 0 − x: an addition, and one that an fma cannot
/// absorb, since it maps −0 to +0.)
@inlinable @inline(__always)
func negated(_ x: SIMD8<Double>) -> SIMD8<Double> { x * -1 }

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
    let cl1 = negated(ch).addingProduct(x.hi, y.hi)
    let tl0 = x.lo * y.lo
    let tl1 = tl0.addingProduct(x.hi, y.lo)
    let cl2 = tl1.addingProduct(x.lo, y.hi)
    let cl3 = cl1 + cl2
    return ddFastTwoSum(ch, cl3)
}

/// `ddMul(x, (y, 0))`: the terms with y.lo = 0 dropped. Same values as `ddMul` (only the sign
/// of a zero low word can differ): tl0 and tl1 are zeros, so cl2 = RN(x.lo·y).
@inlinable @inline(__always)
func ddMulDouble(_ x: DD8, _ y: SIMD8<Double>) -> DD8 {
    let ch = x.hi * y
    let cl1 = negated(ch).addingProduct(x.hi, y)
    let cl3 = cl1 + x.lo * y
    return ddFastTwoSum(ch, cl3)
}

/// `ddMul((x, 0), (y, 0))` as the exact product x·y = ch + cl1 (TwoProd, Dekker 1971 with an
/// fma). Same values as `ddMul` for finite products: cl2 is a zero, and RN(ch + cl1) = ch
/// because ch + cl1 = x·y exactly and ch = RN(x·y), so its final FastTwoSum returns (ch, cl1).
@inlinable @inline(__always)
func ddTwoProduct(_ x: SIMD8<Double>, _ y: SIMD8<Double>) -> DD8 {
    let ch = x * y
    return (ch, negated(ch).addingProduct(x, y))
}

/// Lanes (0, 2, 4, 6) of a and b interleaved: one `vunpcklpd`.
@inlinable @inline(__always)
func unpackLow(_ a: SIMD8<Double>, _ b: SIMD8<Double>) -> SIMD8<Double> {
    SIMD8(a[0], b[0], a[2], b[2], a[4], b[4], a[6], b[6])
}

/// Lanes (1, 3, 5, 7) of a and b interleaved: one `vunpckhpd`.
@inlinable @inline(__always)
func unpackHigh(_ a: SIMD8<Double>, _ b: SIMD8<Double>) -> SIMD8<Double> {
    SIMD8(a[1], b[1], a[3], b[3], a[5], b[5], a[7], b[7])
}

/// What a column sweep does to each state element before reading it out.
@usableFromInline enum DDUpdate {
    /// Read only (matTvec).
    case none
    /// S ← x yᵀ + S with the double-word product.
    case rank1
    /// S ← x yᵀ + S with x and y double-valued (every low word zero): the exact product.
    case rank1DoubleInputs
}

/// The decay a·S applied first (or not).
@usableFromInline enum DDDecay {
    case none
    /// a double-valued (low word zero).
    case double
    case doubleWord
}

extension ArrayBackend where S == DoubleDouble {
    /// Eight consecutive elements as (hi, lo) vectors, in the lane order (0, 4, 1, 5, 2, 6, 3, 7):
    /// two plain loads and two in-lane unpacks. Every operand of a sweep is loaded this way, so
    /// the permutation is the same for all of them and `store8` undoes it.
    @inlinable @inline(__always)
    func load8(_ p: UnsafeMutablePointer<DoubleDouble>) -> DD8 {
        let raw = UnsafeRawPointer(p)
        let a = raw.loadUnaligned(as: SIMD8<Double>.self)
        let b = raw.loadUnaligned(fromByteOffset: 64, as: SIMD8<Double>.self)
        return (unpackLow(a, b), unpackHigh(a, b))
    }

    @inlinable @inline(__always)
    func store8(_ p: UnsafeMutablePointer<DoubleDouble>, _ x: DD8) {
        let raw = UnsafeMutableRawPointer(p)
        raw.storeBytes(of: unpackLow(x.hi, x.lo), as: SIMD8<Double>.self)
        raw.storeBytes(of: unpackHigh(x.hi, x.lo), toByteOffset: 64, as: SIMD8<Double>.self)
    }

    /// The first `count` (< 8) elements in lanes 0..<count, zeros after.
    @inlinable @inline(__always)
    func loadPartial(_ p: UnsafeMutablePointer<DoubleDouble>, _ count: Int) -> DD8 {
        var h = SIMD8<Double>(), l = SIMD8<Double>()
        for i in 0..<count { h[i] = p[i].hi; l[i] = p[i].lo }
        return (h, l)
    }

    @inlinable @inline(__always)
    func storePartial(_ p: UnsafeMutablePointer<DoubleDouble>, _ count: Int, _ x: DD8) {
        for i in 0..<count { p[i] = DoubleDouble(hi: x.hi[i], lo: x.lo[i]) }
    }

    /// Rows whose read-out low words are summed in one double before they are renormalised.
    @inlinable static var readOutBlock: Int { 4 }

    /// S ← a·S + x yᵀ, out ← Sᵀq, eight columns at a time down all rows, so each state element
    /// is loaded and stored once and the eight outputs stay in registers.
    ///
    /// The state update is the scalar `DoubleDouble` one (a·S by the double-word product, then
    /// x·y + S): the same values. When every x and y is a double, x·y is the exact TwoProd.
    ///
    /// The read-out out_c = Σ_r S_rc·q_r runs in row order as a compensated dot product
    /// (Ogita, Rump, Oishi, "Accurate sum and dot product", SIAM J. Sci. Comput. 26(6), 2005,
    /// Dot2) extended to double-word operands: the high words are summed by TwoSum into `ah`;
    /// the TwoSum errors, the product error of S.hi·q.hi (an fma) and the cross terms
    /// S.hi·q.lo, S.lo·q.hi go into one double `al`; every `readOutBlock` rows and at the end
    /// (ah, al) ← TwoSum(ah, al). S.lo·q.lo (≤ u²|S_rc q_r|) is dropped.
    ///
    /// Error Bounds: to first order in u = 2^−53, with T = Σ_r |S_rc q_r|, n = rows and
    /// B = `readOutBlock`: a row's low terms are below 3u|S_rc q_r| + uT, so |al| ≤ (B + 4)uT
    /// (the residual uT of the last renormalisation plus at most B rows); adding them to al
    /// rounds by ≤ (B + 4)u²T per row, forming them by ≤ u²(8|S_rc q_r| + T), and the dropped
    /// S.lo·q.lo is ≤ u²|S_rc q_r|. So |computed − exact| ≤ ((B + 5)·n + 9)·u²·T: the
    /// c·n·u·Σ|terms| form of a dot product with u = 2^−104 and c ≈ (B + 5)/4 = 2.25. The
    /// double-word algorithm it replaces (AccurateDWPlusDW after DWTimesDW3 per row, Joldes et
    /// al.) has c ≈ 0.75 but costs 30 operations per element instead of 12; the read-out is one
    /// dot product per token and its error does not accumulate over time, unlike the state's.
    @inlinable @inline(__always)
    func ddColumnSweep(
        _ m: Tensor, update: DDUpdate, decay: DDDecay, a: DoubleDouble,
        _ xs: UnsafeMutablePointer<DoubleDouble>, _ ys: UnsafeMutablePointer<DoubleDouble>,
        _ qs: UnsafeMutablePointer<DoubleDouble>, _ os: UnsafeMutablePointer<DoubleDouble>
    ) {
        let rows = m.rows, n = m.cols, stride = m.rowStride, base = p(m)
        let a8: DD8 = (SIMD8(repeating: a.hi), SIMD8(repeating: a.lo))
        let block = Self.readOutBlock
        var c = 0
        while c < n {
            let width = Swift.min(8, n - c), full = width == 8
            let y8: DD8 = update == .none ? (SIMD8(), SIMD8()) : (full ? load8(ys + c) : loadPartial(ys + c, width))
            var ah = SIMD8<Double>(), al = SIMD8<Double>()
            var r = 0
            while r < rows {
                let end = Swift.min(r + block, rows)
                while r < end {
                    let rp = base + r * stride + c
                    var s = full ? load8(rp) : loadPartial(rp, width)
                    switch decay {
                    case .none: break
                    case .double: s = ddMulDouble(s, a8.hi)
                    case .doubleWord: s = ddMul(s, a8)
                    }
                    switch update {
                    case .none: break
                    case .rank1:
                        let xr = xs[r]
                        s = ddAdd(ddMul((SIMD8(repeating: xr.hi), SIMD8(repeating: xr.lo)), y8), s)
                    case .rank1DoubleInputs:
                        s = ddAdd(ddTwoProduct(SIMD8(repeating: xs[r].hi), y8.hi), s)
                    }
                    if update != .none || decay != .none {
                        if full { store8(rp, s) } else { storePartial(rp, width, s) }
                    }
                    let qr = qs[r]
                    let qh = SIMD8(repeating: qr.hi), ql = SIMD8(repeating: qr.lo)
                    let ph = s.hi * qh
                    var lt = negated(ph).addingProduct(s.hi, qh)
                    lt = lt.addingProduct(s.hi, ql)
                    lt = lt.addingProduct(s.lo, qh)
                    let t = ddTwoSum(ah, ph)
                    ah = t.hi
                    al = al + (t.lo + lt)
                    r += 1
                }
                (ah, al) = ddTwoSum(ah, al)
            }
            if full { store8(os + c, (ah, al)) } else { storePartial(os + c, width, (ah, al)) }
            c += 8
        }
    }

    /// `decayRank1MatTvec` for double-word elements (see `ddColumnSweep`).
    @inlinable
    public func decayRank1MatTvecSIMD(_ m: Tensor, decay: Tensor?, _ x: Tensor, _ y: Tensor, _ q: Tensor, _ out: Tensor) {
        precondition(x.count == m.rows && y.count == m.cols && q.count == m.rows && out.count == m.cols)
        let xs = p(x), ys = p(y), qs = p(q), os = p(out)
        var doubleInputs = true
        for i in 0..<x.count where xs[i].lo != 0 { doubleInputs = false }
        for i in 0..<y.count where ys[i].lo != 0 { doubleInputs = false }
        // One specialised sweep per case: the switches fold away in each.
        let a = decay.map { p($0)[0] } ?? .zero
        switch (decay == nil ? DDDecay.none : (a.lo == 0 ? .double : .doubleWord), doubleInputs) {
        case (.none, true): ddColumnSweep(m, update: .rank1DoubleInputs, decay: .none, a: a, xs, ys, qs, os)
        case (.none, false): ddColumnSweep(m, update: .rank1, decay: .none, a: a, xs, ys, qs, os)
        case (.double, true): ddColumnSweep(m, update: .rank1DoubleInputs, decay: .double, a: a, xs, ys, qs, os)
        case (.double, false): ddColumnSweep(m, update: .rank1, decay: .double, a: a, xs, ys, qs, os)
        case (.doubleWord, true): ddColumnSweep(m, update: .rank1DoubleInputs, decay: .doubleWord, a: a, xs, ys, qs, os)
        case (.doubleWord, false): ddColumnSweep(m, update: .rank1, decay: .doubleWord, a: a, xs, ys, qs, os)
        }
    }

    /// y ← mᵀx with the read-out of `ddColumnSweep` (same bits as the fused step's output).
    @inlinable
    public func matTvecSIMD(_ y: Tensor, _ m: Tensor, _ x: Tensor) {
        precondition(x.count == m.rows && y.count == m.cols)
        let xs = p(x)
        ddColumnSweep(m, update: .none, decay: .none, a: .zero, xs, xs, xs, p(y))
    }
}
