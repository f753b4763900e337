import ExactArithmetic
import NumberFormats

@inline(__always) func load16(_ p: UnsafePointer<Float>) -> SIMD16<Float> {
    UnsafeRawPointer(p).loadUnaligned(as: SIMD16<Float>.self)
}
@inline(__always) func store16(_ p: UnsafeMutablePointer<Float>, _ x: SIMD16<Float>) {
    UnsafeMutableRawPointer(p).storeBytes(of: x, as: SIMD16<Float>.self)
}

/// Gated DeltaNet decode on Float32 in one pass over S per token (DESIGN.md §2's fast path),
/// bit-identical to the generic definition (`DeltaRuleDecode` on `Float32Backend`, same store
/// points), which tests check, NaN results excepted: a NaN stays a NaN, its payload may differ.
///
/// The generic step is S' = α_t S, kS = S'ᵀk_t, u = β_t (v_t − kS), S_t = S' + k_t uᵀ (rounded at
/// the `state` store), o_t = S_tᵀ q_t from the unrounded S_t. The fused pass over row i of token
/// t reads P = α_t S_{t−1} (kept in memory already decayed), forms S_t = fma(k_i, u, P),
/// accumulates o_t += S_t q_i before the store rounds S_t, rounds, writes P' = α_{t+1} S_t and
/// accumulates the next token's kS += P' k_{t+1,i}: the same products and fma chains (rows in
/// ascending order) as the generic code, four floating-point operations per element. After the
/// last token memory holds S_T itself (α = 1).
///
/// Columns go in blocks of 64 (four SIMD16 vectors, 12 accumulators; 16 for the rest of V) when
/// the build targets AVX-512 (`BenchEnvironment.nativeAVX512`), else in blocks of 16 (64-column
/// blocks spill on 16 AVX2 registers: fp32 559k against 669k tokens/s built for Haswell here),
/// each block one sweep of the K rows. The block width changes no result. The store rounding takes a short form where it is exact:
/// - bf16-like formats (binary32's exponent range, no saturation): `BitsRounding`, exact for
///   every input except a NaN with payload bits below the kept mantissa. Every NaN that can
///   reach it has none: u, k_t, α and the first P are replaced by the canonical NaN when NaN,
///   stored values are rounded ones (low bits zero), and x86/ARM propagate an operand's payload
///   or produce the default NaN.
/// - other formats: `MagicRounding` when the block cannot overflow this token:
///   (max|k_t|·max|u_block| + 2^(E+1)·max(1, |α_t|))·(1 + 2^−20) < the overflow threshold, E the
///   largest exponent of the block's previous S_t (or first P) — a bound on every |S_t| of the
///   block, NaN and ∞ failing it — otherwise `ExactRounding` for that block and token.
public struct GatedDeltaFusedKernel {
    public let keyDim: Int
    public let valueDim: Int
    @usableFromInline let lanes: NearestEvenLanes?

    /// `state` nil: the state stays binary32; otherwise rounded by it every token.
    /// Nil when the rounder is not one the fused path reproduces (use the generic path).
    public init?(keyDim: Int, valueDim: Int, state: ElementRounder?) {
        guard keyDim > 0, valueDim > 0, valueDim % 16 == 0 else { return nil }
        self.keyDim = keyDim
        self.valueDim = valueDim
        if let state {
            guard let l = NearestEvenLanes(state) else { return nil }
            lanes = l
        } else {
            lanes = nil
        }
    }

    /// The fused path for a recipe's `state` entry: element formats it can reproduce, or none.
    public init?(keyDim: Int, valueDim: Int, recipe: Recipe) {
        guard let q = recipe[.state] else { self.init(keyDim: keyDim, valueDim: valueDim, state: nil); return }
        guard let spec = q as? FormatSpec, !spec.isScaled, let r = spec.elementRounder else { return nil }
        self.init(keyDim: keyDim, valueDim: valueDim, state: r)
    }

    /// Which store rounding `run` uses (tests reach each path through it).
    enum Path { case float32, bits, magic, exact }

    var path: Path {
        guard let lanes else { return .float32 }
        switch lanes.shortForm {
        case .bits: return .bits
        case .magic: return .magic
        case .exact: return .exact
        }
    }

    /// Runs `tokens` tokens from the inputs (row t of q: scale·q̂_t, k: k̂_t, v: v_t; alpha, beta
    /// per token), updating `state` (K×V, row-major; S_T on return) and writing o_t to row t of
    /// `output`. `kS` (V) is workspace.
    public func run(
        state: UnsafeMutablePointer<Float>, q: UnsafePointer<Float>, k: UnsafePointer<Float>, v: UnsafePointer<Float>,
        alpha: UnsafePointer<Float>, beta: UnsafePointer<Float>, output: UnsafeMutablePointer<Float>, tokens: Int,
        kS: UnsafeMutablePointer<Float>
    ) {
        run(path: path, wide: BenchEnvironment.nativeAVX512, state: state, q: q, k: k, v: v, alpha: alpha, beta: beta,
            output: output, tokens: tokens, kS: kS)
    }

    /// `wide`: 64-column blocks where V allows, else 16-column blocks only.
    func run(
        path: Path, wide: Bool, state: UnsafeMutablePointer<Float>, q: UnsafePointer<Float>, k: UnsafePointer<Float>,
        v: UnsafePointer<Float>, alpha: UnsafePointer<Float>, beta: UnsafePointer<Float>,
        output: UnsafeMutablePointer<Float>, tokens: Int, kS: UnsafeMutablePointer<Float>
    ) {
        guard tokens > 0 else { return }
        let a = (state, q, k, v, alpha, beta, output, tokens, kS)
        switch (path, lanes) {
        case (.bits, let l?): drive(BitsRounding(l), ExactRounding(l), clean: true, threshold: nil, wide: wide, a)
        case (.magic, let l?):
            drive(MagicRounding(l), ExactRounding(l), clean: false, threshold: Double(l.overflowThreshold), wide: wide, a)
        case (_, let l?): drive(ExactRounding(l), ExactRounding(l), clean: false, threshold: nil, wide: wide, a)
        case (_, nil): drive(KeepFloat32(), KeepFloat32(), clean: false, threshold: nil, wide: wide, a)
        }
    }

    typealias Arguments = (
        UnsafeMutablePointer<Float>, UnsafePointer<Float>, UnsafePointer<Float>, UnsafePointer<Float>,
        UnsafePointer<Float>, UnsafePointer<Float>, UnsafeMutablePointer<Float>, Int, UnsafeMutablePointer<Float>
    )

    /// `threshold` nil: `fast` on every block; otherwise the overflow gate chooses per block.
    /// `clean`: NaN in u, k_t, α and the first P become the canonical NaN (for `BitsRounding`).
    @inline(__always)
    func drive<F: FusedRounding, X: FusedRounding>(
        _ fast: F, _ exact: X, clean: Bool, threshold: Double?, wide wideBlocks: Bool, _ a: Arguments
    ) {
        let (S, q, k, v, alpha, beta, out, tokens, kS) = a
        let K = keyDim, V = valueDim
        let wide = wideBlocks ? V / 64 : 0, blocks = wide + (V - wide * 64) / 16
        let canonicalNaN = Float(bitPattern: 0x7FC0_0000)
        @inline(__always) func cleaned(_ x: Float) -> Float { clean && x.isNaN ? canonicalNaN : x }
        withUnsafeTemporaryAllocation(of: Float.self, capacity: K) { kClean in
            withUnsafeTemporaryAllocation(of: UInt32.self, capacity: blocks) { track in
                // Prime: P = α_0 S_{−1} in place, kS = Pᵀ k_0, the exponent bound of each block.
                let a0 = SIMD16<Float>(repeating: cleaned(alpha[0]))
                let nan16 = SIMD16<Float>(repeating: canonicalNaN), exponentMask = SIMD16<UInt32>(repeating: 0x7F80_0000)
                for blk in 0..<blocks {
                    let j0 = blk < wide ? blk * 64 : wide * 64 + (blk - wide) * 16
                    var tr = SIMD16<UInt32>()
                    for j in stride(from: j0, to: j0 + (blk < wide ? 64 : 16), by: 16) {
                        var acc = SIMD16<Float>()
                        for i in 0..<K {
                            var p = load16(S + i * V + j) * a0
                            if clean { p = p.replacing(with: nan16, where: p .!= p) }
                            store16(S + i * V + j, p)
                            acc = acc.addingProduct(p, SIMD16(repeating: k[i]))
                            tr = laneMax(tr, unsafeBitCast(p, to: SIMD16<UInt32>.self) & exponentMask)
                        }
                        store16(kS + j, acc)
                    }
                    track[blk] = tr.max()
                }
                for t in 0..<tokens {
                    let qt = q + t * K, vt = v + t * V, ot = out + t * V
                    let last = t == tokens - 1
                    var kt = k + t * K
                    // The last token accumulates into kS from k_t itself (discarded): no branch in the sweep.
                    let kn = last ? kt : kt + K
                    let b = beta[t]
                    for j in 0..<V { kS[j] = cleaned((vt[j] - kS[j]) * b) }
                    if clean {
                        for i in 0..<K { kClean[i] = cleaned(kt[i]) }
                        kt = UnsafePointer(kClean.baseAddress!)
                    }
                    let kMax = threshold == nil ? 0 : Self.maxMagnitude(kt, K)
                    let an = SIMD16<Float>(repeating: last ? 1 : cleaned(alpha[t + 1]))
                    let pScale = t == 0 ? 1 : (alpha[t].isFinite ? max(1, Double(alpha[t].magnitude)) : .infinity)
                    for blk in 0..<blocks {
                        let j0 = blk < wide ? blk * 64 : wide * 64 + (blk - wide) * 16
                        let width = blk < wide ? 64 : 16
                        var useFast = true
                        if let threshold {
                            let uMax = Self.maxMagnitude(UnsafePointer(kS + j0), width)
                            let e = Int(track[blk] >> 23)
                            let pMax = e == 255 ? .infinity : Double(sign: .plus, exponent: e - 126, significand: 1) * pScale
                            useFast = (kMax * uMax + pMax) * (1 + 0x1p-20) < threshold
                        }
                        let r: UInt32
                        switch (useFast, width == 64) {
                        case (true, true): r = Self.sweep4(fast, S + j0, K, V, kS + j0, kt, qt, kn, an, ot + j0)
                        case (true, false): r = Self.sweep1(fast, S + j0, K, V, kS + j0, kt, qt, kn, an, ot + j0)
                        case (false, true): r = Self.sweep4(exact, S + j0, K, V, kS + j0, kt, qt, kn, an, ot + j0)
                        case (false, false): r = Self.sweep1(exact, S + j0, K, V, kS + j0, kt, qt, kn, an, ot + j0)
                        }
                        track[blk] = r
                    }
                }
            }
        }
    }

    /// max |x_i| over n values as a Double, +∞ when any is ∞ or NaN (vectorised on the bits:
    /// the magnitude's bit pattern orders like its value, and every NaN lies above +∞).
    @inline(__always)
    static func maxMagnitude(_ p: UnsafePointer<Float>, _ n: Int) -> Double {
        let magnitudeBits = SIMD16<UInt32>(repeating: 0x7FFF_FFFF)
        var m16 = SIMD16<UInt32>()
        var i = 0
        while i + 16 <= n {
            m16 = laneMax(m16, unsafeBitCast(load16(p + i), to: SIMD16<UInt32>.self) & magnitudeBits)
            i += 16
        }
        var m = m16.max()
        while i < n { m = max(m, p[i].bitPattern & 0x7FFF_FFFF); i += 1 }
        return m >= 0x7F80_0000 ? .infinity : Double(Float(bitPattern: m))
    }

    /// One block of 64 columns over all K rows; u (in kS's place) becomes the next token's kS.
    @inline(__always)
    static func sweep4<R: FusedRounding>(
        _ rnd: R, _ S: UnsafeMutablePointer<Float>, _ K: Int, _ V: Int, _ u: UnsafeMutablePointer<Float>,
        _ kt: UnsafePointer<Float>, _ qt: UnsafePointer<Float>, _ kn: UnsafePointer<Float>, _ an: SIMD16<Float>,
        _ ot: UnsafeMutablePointer<Float>
    ) -> UInt32 {
        let u0 = load16(u), u1 = load16(u + 16), u2 = load16(u + 32), u3 = load16(u + 48)
        var ak0 = SIMD16<Float>(), ak1 = SIMD16<Float>(), ak2 = SIMD16<Float>(), ak3 = SIMD16<Float>()
        var ao0 = SIMD16<Float>(), ao1 = SIMD16<Float>(), ao2 = SIMD16<Float>(), ao3 = SIMD16<Float>()
        var tr = SIMD16<UInt32>()
        var row = S
        for i in 0..<K {
            let ki = SIMD16<Float>(repeating: kt[i]), qi = SIMD16<Float>(repeating: qt[i]), kni = SIMD16<Float>(repeating: kn[i])
            let s0 = load16(row).addingProduct(ki, u0), s1 = load16(row + 16).addingProduct(ki, u1)
            let s2 = load16(row + 32).addingProduct(ki, u2), s3 = load16(row + 48).addingProduct(ki, u3)
            ao0 = ao0.addingProduct(s0, qi); ao1 = ao1.addingProduct(s1, qi)
            ao2 = ao2.addingProduct(s2, qi); ao3 = ao3.addingProduct(s3, qi)
            let n0 = rnd.round(s0, &tr) * an, n1 = rnd.round(s1, &tr) * an
            let n2 = rnd.round(s2, &tr) * an, n3 = rnd.round(s3, &tr) * an
            store16(row, n0); store16(row + 16, n1); store16(row + 32, n2); store16(row + 48, n3)
            ak0 = ak0.addingProduct(n0, kni); ak1 = ak1.addingProduct(n1, kni)
            ak2 = ak2.addingProduct(n2, kni); ak3 = ak3.addingProduct(n3, kni)
            row += V
        }
        store16(u, ak0); store16(u + 16, ak1); store16(u + 32, ak2); store16(u + 48, ak3)
        store16(ot, ao0); store16(ot + 16, ao1); store16(ot + 32, ao2); store16(ot + 48, ao3)
        return tr.max()
    }

    /// One block of 16 columns (the rest of V when V is not a multiple of 64).
    @inline(__always)
    static func sweep1<R: FusedRounding>(
        _ rnd: R, _ S: UnsafeMutablePointer<Float>, _ K: Int, _ V: Int, _ u: UnsafeMutablePointer<Float>,
        _ kt: UnsafePointer<Float>, _ qt: UnsafePointer<Float>, _ kn: UnsafePointer<Float>, _ an: SIMD16<Float>,
        _ ot: UnsafeMutablePointer<Float>
    ) -> UInt32 {
        let u0 = load16(u)
        var ak0 = SIMD16<Float>(), ao0 = SIMD16<Float>()
        var tr = SIMD16<UInt32>()
        var row = S
        for i in 0..<K {
            let s0 = load16(row).addingProduct(SIMD16(repeating: kt[i]), u0)
            ao0 = ao0.addingProduct(s0, SIMD16(repeating: qt[i]))
            let n0 = rnd.round(s0, &tr) * an
            store16(row, n0)
            ak0 = ak0.addingProduct(n0, SIMD16(repeating: kn[i]))
            row += V
        }
        store16(u, ak0); store16(ot, ao0)
        return tr.max()
    }
}
