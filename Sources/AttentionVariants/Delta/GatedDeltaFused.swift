import ExactArithmetic
import NumberFormats

/// Round-to-nearest-even of binary32 lanes to a smaller element format, vectorised: the same
/// result as `ElementRounder.round` for the formats it accepts (signed, with subnormals and
/// −0, 1…22 mantissa bits, inside binary32's range, nearest-even, no flush; NaN stays a NaN),
/// which a test checks value by value.
///
/// Formats with binary32's exponent range (bf16, tf32) round on the bits (add half − 1 + lsb,
/// mask), where carries into the exponent are correct rounding and overflow to infinity comes
/// out by itself. Others add and subtract c = 2^(max(e, emin) − m + 23), which rounds to the
/// format's quantum at every exponent (subnormals included), then clamp the overflow.
public struct NearestEvenLanes: Sendable {
    @usableFromInline enum Method: Sendable { case bits, magic }
    @usableFromInline let method: Method
    @usableFromInline let shift: SIMD8<UInt32>
    @usableFromInline let halfMinusOne: SIMD8<UInt32>
    @usableFromInline let mask: SIMD8<UInt32>
    @usableFromInline let minNormalExponentBits: SIMD8<UInt32>
    @usableFromInline let magicOffset: SIMD8<UInt32>
    @usableFromInline let clampBits: SIMD8<UInt32>
    @usableFromInline let maxFiniteBits: SIMD8<UInt32>
    @usableFromInline let overflowBits: SIMD8<UInt32>
    @usableFromInline let saturates: Bool
    /// The smallest positive binary32 magnitude whose rounding overflows or saturates: below
    /// it, rounding equals rounding with an unbounded exponent.
    @usableFromInline let overflowThreshold: Float
    @usableFromInline let mantissaBits: Int

    public init?(_ r: ElementRounder) {
        let f = r.format
        guard r.rounding == .nearestEven, !r.flushSubnormals, f.isSigned, f.hasSubnormals, f.hasNegativeZero,
              (1...22).contains(f.mantissaBits), f.minNormalExponent >= -126, f.maxFinite <= Double(Float.greatestFiniteMagnitude)
        else { return nil }
        let drop = UInt32(23 - f.mantissaBits)
        let maxFinite = Float(f.maxFinite).bitPattern
        let overflow = r.round(Float.greatestFiniteMagnitude).bitPattern & 0x7FFF_FFFF
        let infinity = r.round(Float.infinity).bitPattern & 0x7FFF_FFFF
        // One overflow result for finite and infinite inputs (true of every policy here).
        guard overflow == infinity, overflow == maxFinite || overflow >= 0x7F80_0000 else { return nil }
        saturates = overflow == maxFinite
        mantissaBits = f.mantissaBits
        // Where rounding with an unbounded exponent first goes above maxFinite: past the
        // midpoint to the next grid value, or at it when maxFinite's last bit is odd. The fast
        // magic rounding is exact below this (and below the rounder's own overflow point).
        let top = Double(sign: .plus, exponent: f.maxFinite.exponent - f.mantissaBits, significand: 1)
        let midpoint = Float(f.maxFinite + top / 2)
        let maxFiniteEven = (f.maxFinite / top).truncatingRemainder(dividingBy: 2) == 0
        let unboundedThreshold = maxFiniteEven ? midpoint.nextUp : midpoint
        // Rounding is monotone in the magnitude: bisect on the bit patterns of finite inputs.
        func overflows(_ bits: UInt32) -> Bool {
            let y = r.round(Float(bitPattern: bits))
            return !y.isFinite || Double(y) > f.maxFinite
        }
        if overflows(Float.greatestFiniteMagnitude.bitPattern) {
            var lo: UInt32 = 0, hi = Float.greatestFiniteMagnitude.bitPattern
            while hi - lo > 1 {
                let mid = lo + (hi - lo) / 2
                if overflows(mid) { hi = mid } else { lo = mid }
            }
            overflowThreshold = min(Float(bitPattern: hi), unboundedThreshold)
        } else {
            overflowThreshold = unboundedThreshold
        }
        let ieeeTop = f.minNormalExponent == -126 && f.hasInfinity && f.maxExponent == 127
        method = ieeeTop ? .bits : .magic
        if method == .magic {
            // The clamp below must stay above every value that rounds to a finite result.
            guard f.maxFinite < Double(sign: .plus, exponent: 127 - Int(drop), significand: 1) else { return nil }
        }
        shift = SIMD8(repeating: drop)
        halfMinusOne = SIMD8(repeating: (UInt32(1) << (drop - 1)) - 1)
        mask = SIMD8(repeating: ~((UInt32(1) << drop) - 1))
        minNormalExponentBits = SIMD8(repeating: Float(f.minNormal).bitPattern)
        magicOffset = SIMD8(repeating: drop << 23)
        // Inputs above 2^(127 − drop) would overflow c; any value there overflows the format too.
        clampBits = SIMD8(repeating: (254 - drop) << 23)
        maxFiniteBits = SIMD8(repeating: maxFinite)
        overflowBits = SIMD8(repeating: overflow)
    }

    @inlinable @inline(__always)
    public func round(_ x: SIMD8<Float>) -> SIMD8<Float> {
        switch method {
        case .bits: return roundBits(x)
        case .magic: return roundMagic(x)
        }
    }

    /// Formats sharing binary32's exponent range and infinities (bf16, tf32): 8 vector
    /// operations (10 when overflow saturates).
    @inlinable @inline(__always)
    func roundBits(_ x: SIMD8<Float>) -> SIMD8<Float> {
        typealias U = SIMD8<UInt32>
        let xb = unsafeBitCast(x, to: U.self)
        let signMask = U(repeating: 0x8000_0000), one = U(repeating: 1), inf = U(repeating: 0x7F80_0000)
        let a = xb & ~signMask
        var r = (a &+ halfMinusOne &+ ((a &>> shift) & one)) & mask
        if saturates { r = r.replacing(with: maxFiniteBits, where: r .> maxFiniteBits) }
        return unsafeBitCast(r.replacing(with: a, where: a .> inf) | (xb & signMask), to: SIMD8<Float>.self)
    }

    /// Every other accepted format: the magic-number rounding at the value's own quantum. NaN
    /// needs no fix-up: the float compares leave it in place and the additions propagate it.
    @inlinable @inline(__always)
    func roundMagic(_ x: SIMD8<Float>) -> SIMD8<Float> {
        typealias U = SIMD8<UInt32>
        typealias F = SIMD8<Float>
        let xb = unsafeBitCast(x, to: U.self)
        let signMask = U(repeating: 0x8000_0000), expMask = U(repeating: 0x7F80_0000)
        let af = unsafeBitCast(xb & ~signMask, to: F.self)
        let clamp = unsafeBitCast(clampBits, to: F.self)
        let ac = af.replacing(with: clamp, where: af .> clamp)
        let e = pointwiseMax(unsafeBitCast(ac, to: U.self) & expMask, minNormalExponentBits)
        let c = unsafeBitCast(e &+ magicOffset, to: F.self)
        var r = (ac + c) - c
        let maxF = unsafeBitCast(maxFiniteBits, to: F.self)
        r = r.replacing(with: unsafeBitCast(overflowBits, to: F.self), where: r .> maxF)
        return unsafeBitCast(unsafeBitCast(r, to: U.self) | (xb & signMask), to: F.self)
    }

    @inlinable
    public func round(_ x: Float) -> Float { round(SIMD8(repeating: x))[0] }
}

/// The fused kernel's store rounding, 16 lanes at a time. `track` keeps the largest exponent
/// field seen (the bound that decides whether the next token may take a fast rounding).
@usableFromInline
protocol FusedRounding {
    func round(_ x: SIMD16<Float>, _ track: inout SIMD16<UInt32>) -> SIMD16<Float>
}

@inlinable @inline(__always)
func laneMax(_ a: SIMD16<UInt32>, _ b: SIMD16<UInt32>) -> SIMD16<UInt32> {
    // A select rather than `pointwiseMax`, which LLVM scalarised inside the kernel loop.
    a.replacing(with: b, where: b .> a)
}

@usableFromInline
struct KeepFloat32: FusedRounding {
    @inlinable init() {}
    @inlinable @inline(__always)
    func round(_ x: SIMD16<Float>, _ track: inout SIMD16<UInt32>) -> SIMD16<Float> { x }
}

/// Nearest-even on the signed bits (bf16, tf32 without saturation): add half − 1 + lsb, mask.
/// Exact for every finite or infinite input (a carry into the exponent is the correct rounding,
/// overflow becomes ±∞, the sign bit is never reached) and for a NaN whose bits below the
/// kept mantissa are zero, which stays a NaN. The kernel keeps every NaN it feeds here in that
/// form (see `GatedDeltaFusedKernel`), so no NaN fix-up is needed: 5 vector operations.
@usableFromInline
struct BitsRounding: FusedRounding {
    @usableFromInline let shift: SIMD16<UInt32>, bias: SIMD16<UInt32>, mask: SIMD16<UInt32>
    @inlinable init(_ l: NearestEvenLanes) {
        let drop = UInt32(23 - l.mantissaBits)
        shift = SIMD16(repeating: drop)
        bias = SIMD16(repeating: (UInt32(1) << (drop - 1)) - 1)
        mask = SIMD16(repeating: ~((UInt32(1) << drop) - 1))
    }
    @inlinable @inline(__always)
    func round(_ x: SIMD16<Float>, _ track: inout SIMD16<UInt32>) -> SIMD16<Float> {
        let xb = unsafeBitCast(x, to: SIMD16<UInt32>.self)
        return unsafeBitCast((xb &+ bias &+ ((xb &>> shift) & SIMD16(repeating: 1))) & mask, to: SIMD16<Float>.self)
    }
}

/// Nearest-even by the magic number c = 1.5·2^(max(e, emin) − m + 23) with the sign of x:
/// x + c stays in c's binade for |x| < 2^(e+1) when m ≤ 21, so (x + c) − c is x rounded to the
/// format's quantum at its exponent (subnormals included, ties to even since c/quantum is
/// even); the sign is OR-ed back for results that cancel to +0. Only for finite inputs below
/// the format's overflow threshold (the kernel's gate); 7 vector operations with the tracker.
@usableFromInline
struct MagicRounding: FusedRounding {
    @usableFromInline let minExponent: SIMD16<UInt32>, offset: SIMD16<UInt32>
    @inlinable init(_ l: NearestEvenLanes) {
        let drop = UInt32(23 - l.mantissaBits)
        minExponent = SIMD16(repeating: l.minNormalExponentBits[0])
        offset = SIMD16(repeating: (drop << 23) | 0x0040_0000)
    }
    @inlinable @inline(__always)
    func round(_ x: SIMD16<Float>, _ track: inout SIMD16<UInt32>) -> SIMD16<Float> {
        let xb = unsafeBitCast(x, to: SIMD16<UInt32>.self)
        let e = laneMax(xb & SIMD16(repeating: 0x7F80_0000), minExponent)
        track = laneMax(track, e)
        let c = unsafeBitCast(e &+ offset, to: SIMD16<Float>.self)
        let r = unsafeBitCast((x + c) - c, to: SIMD16<UInt32>.self)
        return unsafeBitCast(r | (xb & SIMD16(repeating: 0x8000_0000)), to: SIMD16<Float>.self)
    }
}

/// `NearestEvenLanes.round` itself (every input, every accepted format), with the tracker.
@usableFromInline
struct ExactRounding: FusedRounding {
    @usableFromInline let lanes: NearestEvenLanes
    @inlinable init(_ l: NearestEvenLanes) { lanes = l }
    @inlinable @inline(__always)
    func round(_ x: SIMD16<Float>, _ track: inout SIMD16<UInt32>) -> SIMD16<Float> {
        track = laneMax(track, unsafeBitCast(x, to: SIMD16<UInt32>.self) & SIMD16(repeating: 0x7F80_0000))
        return SIMD16(lowHalf: lanes.round(x.lowHalf), highHalf: lanes.round(x.highHalf))
    }
}

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
        switch lanes.method {
        case .bits: return lanes.saturates ? .exact : .bits
        case .magic: return lanes.mantissaBits <= 21 ? .magic : .exact
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
