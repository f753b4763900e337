import ExactArithmetic
import NumberFormats

/// Round-to-nearest-even of binary32 lanes to a smaller element format, vectorised: the same
/// result as `ElementRounder.round` for the formats it accepts (signed, with subnormals and
/// −0, 1…22 mantissa bits, inside binary32's range, nearest-even, no flush), which a test
/// checks value by value. Normal results round on the bits (add half − 1 + lsb, mask);
/// subnormal ones by adding and subtracting 2^(emin − m + 23).
public struct NearestEvenLanes: Sendable {
    @usableFromInline let shift: SIMD8<UInt32>
    @usableFromInline let halfMinusOne: SIMD8<UInt32>
    @usableFromInline let mask: SIMD8<UInt32>
    @usableFromInline let minNormalBits: SIMD8<UInt32>
    @usableFromInline let subnormalMagic: SIMD8<Float>
    @usableFromInline let maxFiniteBits: SIMD8<UInt32>
    @usableFromInline let overflowBits: SIMD8<UInt32>
    @usableFromInline let infinityBits: SIMD8<UInt32>

    public init?(_ r: ElementRounder) {
        let f = r.format
        guard r.rounding == .nearestEven, !r.flushSubnormals, f.isSigned, f.hasSubnormals, f.hasNegativeZero,
              (1...22).contains(f.mantissaBits), f.minNormalExponent >= -126, f.maxFinite <= Double(Float.greatestFiniteMagnitude)
        else { return nil }
        let drop = UInt32(23 - f.mantissaBits)
        shift = SIMD8(repeating: drop)
        halfMinusOne = SIMD8(repeating: (UInt32(1) << (drop - 1)) - 1)
        mask = SIMD8(repeating: ~((UInt32(1) << drop) - 1))
        minNormalBits = SIMD8(repeating: Float(f.minNormal).bitPattern)
        subnormalMagic = SIMD8(repeating: Float(sign: .plus, exponent: f.minNormalExponent - f.mantissaBits + 23, significand: 1))
        maxFiniteBits = SIMD8(repeating: Float(f.maxFinite).bitPattern)
        overflowBits = SIMD8(repeating: r.round(Float.greatestFiniteMagnitude).bitPattern & 0x7FFF_FFFF)
        infinityBits = SIMD8(repeating: r.round(Float.infinity).bitPattern & 0x7FFF_FFFF)
    }

    @inlinable @inline(__always)
    public func round(_ x: SIMD8<Float>) -> SIMD8<Float> {
        typealias U = SIMD8<UInt32>
        let xb = unsafeBitCast(x, to: U.self)
        let signMask = U(repeating: 0x8000_0000), one = U(repeating: 1), inf = U(repeating: 0x7F80_0000)
        let sign = xb & signMask
        let a = xb & ~signMask
        let normal = (a &+ halfMinusOne &+ ((a &>> shift) & one)) & mask
        let ax = unsafeBitCast(a, to: SIMD8<Float>.self)
        let sub = unsafeBitCast((ax + subnormalMagic) - subnormalMagic, to: U.self)
        var r = normal.replacing(with: sub, where: a .< minNormalBits)
        r = r.replacing(with: overflowBits, where: r .> maxFiniteBits)
        r = r.replacing(with: infinityBits, where: a .== inf)
        r = r.replacing(with: a, where: a .> inf)
        return unsafeBitCast(r | sign, to: SIMD8<Float>.self)
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

extension NearestEvenLanes: FusedStateStore {}

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
            runStore(lanes, state, q, k, v, alpha, beta, output, tokens, kS)
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
