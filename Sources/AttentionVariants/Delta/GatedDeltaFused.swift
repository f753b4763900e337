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

/// What the fused kernel does to the state at its store point.
@usableFromInline
protocol FusedStateStore {
    func round(_ x: SIMD8<Float>) -> SIMD8<Float>
}

@usableFromInline
struct KeepFloat32: FusedStateStore {
    @inlinable init() {}
    @inlinable @inline(__always) func round(_ x: SIMD8<Float>) -> SIMD8<Float> { x }
}

@usableFromInline
struct BitsStore: FusedStateStore {
    @usableFromInline let lanes: NearestEvenLanes
    @inlinable init(_ l: NearestEvenLanes) { lanes = l }
    @inlinable @inline(__always) func round(_ x: SIMD8<Float>) -> SIMD8<Float> { lanes.roundBits(x) }
}

@usableFromInline
struct MagicStore: FusedStateStore {
    @usableFromInline let lanes: NearestEvenLanes
    @inlinable init(_ l: NearestEvenLanes) { lanes = l }
    @inlinable @inline(__always) func round(_ x: SIMD8<Float>) -> SIMD8<Float> { lanes.roundMagic(x) }
}

/// Gated DeltaNet decode on Float32 in one pass over S per token (DESIGN.md §2's fast path),
/// bit-identical to the generic definition (`DeltaRuleDecode` on `Float32Backend`, same store
/// points), which a test checks.
///
/// The generic step is S' = α_t S, kS = S'ᵀk_t, u = β_t (v_t − kS), S_t = S' + k_t uᵀ (rounded at
/// the `state` store), o_t = S_tᵀ q_t from the unrounded S_t. The fused pass over row i of token
/// t reads P = α_t S_{t−1} (kept in memory already decayed), forms S_t = fma(k_i, u, P),
/// accumulates o_t += S_t q_i before the store rounds S_t, rounds, writes P' = α_{t+1} S_t and
/// accumulates the next token's kS += P' k_{t+1,i}: the same products and fma chains (rows in
/// ascending order) as the generic code, four floating-point operations per element. After the
/// last token memory holds S_T itself (α = 1).
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

    /// Runs `tokens` tokens from the inputs (row t of q: scale·q̂_t, k: k̂_t, v: v_t; alpha, beta
    /// per token), updating `state` (K×V, row-major; S_T on return) and writing o_t to row t of
    /// `output`. `kS` (V) is workspace.
    public func run(
        state: UnsafeMutablePointer<Float>, q: UnsafePointer<Float>, k: UnsafePointer<Float>, v: UnsafePointer<Float>,
        alpha: UnsafePointer<Float>, beta: UnsafePointer<Float>, output: UnsafeMutablePointer<Float>, tokens: Int,
        kS: UnsafeMutablePointer<Float>
    ) {
        if let lanes {
            switch lanes.method {
            case .bits: runStore(BitsStore(lanes), state, q, k, v, alpha, beta, output, tokens, kS)
            case .magic: runStore(MagicStore(lanes), state, q, k, v, alpha, beta, output, tokens, kS)
            }
        } else {
            runStore(KeepFloat32(), state, q, k, v, alpha, beta, output, tokens, kS)
        }
    }

    @inline(__always)
    func runStore<R: FusedStateStore>(
        _ store: R, _ S: UnsafeMutablePointer<Float>, _ q: UnsafePointer<Float>, _ k: UnsafePointer<Float>,
        _ v: UnsafePointer<Float>, _ alpha: UnsafePointer<Float>, _ beta: UnsafePointer<Float>,
        _ out: UnsafeMutablePointer<Float>, _ tokens: Int, _ kS: UnsafeMutablePointer<Float>
    ) {
        let K = keyDim, V = valueDim
        guard tokens > 0 else { return }
        // Prime: P = α_0 S_{−1}, kS = Pᵀ k_0.
        kS.update(repeating: 0, count: V)
        let a0 = alpha[0]
        for i in 0..<K {
            let row = S + i * V, ki = k[i]
            for j in 0..<V {
                let p = row[j] * a0
                row[j] = p
                kS[j] = kS[j].addingProduct(p, ki)
            }
        }
        for t in 0..<tokens {
            let qt = q + t * K, kt = k + t * K, vt = v + t * V, ot = out + t * V
            let last = t == tokens - 1
            let kn = kt + K  // read only when !last
            let b = beta[t]
            // u = (v − kS)·β, kept in kS's place.
            for j in 0..<V { kS[j] = (vt[j] - kS[j]) * b }
            let an = SIMD8<Float>(repeating: last ? 1 : alpha[t + 1])
            var j0 = 0
            while j0 < V {
                let u0 = UnsafeRawPointer(kS + j0).loadUnaligned(as: SIMD8<Float>.self)
                let u1 = UnsafeRawPointer(kS + j0 + 8).loadUnaligned(as: SIMD8<Float>.self)
                var ak0 = SIMD8<Float>(), ak1 = SIMD8<Float>(), ao0 = SIMD8<Float>(), ao1 = SIMD8<Float>()
                var row = S + j0
                for i in 0..<K {
                    let p0 = UnsafeRawPointer(row).loadUnaligned(as: SIMD8<Float>.self)
                    let p1 = UnsafeRawPointer(row + 8).loadUnaligned(as: SIMD8<Float>.self)
                    let ki = SIMD8<Float>(repeating: kt[i]), qi = SIMD8<Float>(repeating: qt[i])
                    let s0 = p0.addingProduct(ki, u0), s1 = p1.addingProduct(ki, u1)
                    ao0 = ao0.addingProduct(s0, qi); ao1 = ao1.addingProduct(s1, qi)
                    let n0 = store.round(s0) * an, n1 = store.round(s1) * an
                    UnsafeMutableRawPointer(row).storeBytes(of: n0, as: SIMD8<Float>.self)
                    UnsafeMutableRawPointer(row + 8).storeBytes(of: n1, as: SIMD8<Float>.self)
                    if !last {
                        let kni = SIMD8<Float>(repeating: kn[i])
                        ak0 = ak0.addingProduct(n0, kni); ak1 = ak1.addingProduct(n1, kni)
                    }
                    row += V
                }
                UnsafeMutableRawPointer(kS + j0).storeBytes(of: ak0, as: SIMD8<Float>.self)
                UnsafeMutableRawPointer(kS + j0 + 8).storeBytes(of: ak1, as: SIMD8<Float>.self)
                UnsafeMutableRawPointer(ot + j0).storeBytes(of: ao0, as: SIMD8<Float>.self)
                UnsafeMutableRawPointer(ot + j0 + 8).storeBytes(of: ao1, as: SIMD8<Float>.self)
                j0 += 16
            }
        }
    }
}
