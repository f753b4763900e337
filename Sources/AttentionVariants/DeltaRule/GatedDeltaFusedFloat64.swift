/// Gated DeltaNet (and DeltaNet, α = 1) decode on binary64 in one pass over S per token: the
/// reference tier's fast path, bit-identical to the generic definition (`DeltaRuleDecode` on
/// `Float64Backend` with no state or output store, as a reference run is), which a test checks.
///
/// The same schedule as `GatedDeltaFusedKernel` without a store: memory holds P = α_{t+1} S_t
/// between tokens (S_T itself after the last), and the pass over row i of token t forms
/// S_t = fma(k_i, u, P), accumulates o_t += S_t q_i, writes P' = α_{t+1} S_t and accumulates the
/// next token's kS += P' k_{t+1,i}: the products and fma chains of the generic code (α·S rounded,
/// rows in ascending order in every sum), so the same bits. DeltaNet's missing decay is α = 1,
/// an exact multiplication.
public struct GatedDeltaFusedFloat64Kernel: Sendable {
    public let keyDim: Int
    public let valueDim: Int

    /// Nil when V is not a multiple of 8 (use the generic path).
    public init?(keyDim: Int, valueDim: Int) {
        guard keyDim > 0, valueDim > 0, valueDim % 8 == 0 else { return nil }
        self.keyDim = keyDim
        self.valueDim = valueDim
    }

    /// Runs `tokens` tokens (row t of q: scale·q̂_t, k: k̂_t, v: v_t; alpha, beta per token),
    /// updating `state` (K×V row-major, S_T on return) and writing o_t to row t of `output`.
    /// `kS` (V) is workspace.
    public func run(
        state S: UnsafeMutablePointer<Double>, q: UnsafePointer<Double>, k: UnsafePointer<Double>, v: UnsafePointer<Double>,
        alpha: UnsafePointer<Double>, beta: UnsafePointer<Double>, output out: UnsafeMutablePointer<Double>, tokens: Int,
        kS: UnsafeMutablePointer<Double>
    ) {
        typealias D = SIMD8<Double>
        let K = keyDim, V = valueDim
        guard tokens > 0 else { return }
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
            let kn = kt + K
            let b = beta[t]
            for j in 0..<V { kS[j] = (vt[j] - kS[j]) * b }
            let an = D(repeating: last ? 1 : alpha[t + 1])
            var j0 = 0
            // Two vectors of 8 columns per sweep where V allows, one otherwise.
            while j0 + 16 <= V {
                let u0 = UnsafeRawPointer(kS + j0).loadUnaligned(as: D.self)
                let u1 = UnsafeRawPointer(kS + j0 + 8).loadUnaligned(as: D.self)
                var ak0 = D(), ak1 = D(), ao0 = D(), ao1 = D()
                var row = S + j0
                for i in 0..<K {
                    let p0 = UnsafeRawPointer(row).loadUnaligned(as: D.self)
                    let p1 = UnsafeRawPointer(row + 8).loadUnaligned(as: D.self)
                    let ki = D(repeating: kt[i]), qi = D(repeating: qt[i])
                    let s0 = p0.addingProduct(ki, u0), s1 = p1.addingProduct(ki, u1)
                    ao0 = ao0.addingProduct(s0, qi); ao1 = ao1.addingProduct(s1, qi)
                    let n0 = s0 * an, n1 = s1 * an
                    UnsafeMutableRawPointer(row).storeBytes(of: n0, as: D.self)
                    UnsafeMutableRawPointer(row + 8).storeBytes(of: n1, as: D.self)
                    if !last {
                        let kni = D(repeating: kn[i])
                        ak0 = ak0.addingProduct(n0, kni); ak1 = ak1.addingProduct(n1, kni)
                    }
                    row += V
                }
                UnsafeMutableRawPointer(kS + j0).storeBytes(of: ak0, as: D.self)
                UnsafeMutableRawPointer(kS + j0 + 8).storeBytes(of: ak1, as: D.self)
                UnsafeMutableRawPointer(ot + j0).storeBytes(of: ao0, as: D.self)
                UnsafeMutableRawPointer(ot + j0 + 8).storeBytes(of: ao1, as: D.self)
                j0 += 16
            }
            while j0 < V {
                let u0 = UnsafeRawPointer(kS + j0).loadUnaligned(as: D.self)
                var ak0 = D(), ao0 = D()
                var row = S + j0
                for i in 0..<K {
                    let p0 = UnsafeRawPointer(row).loadUnaligned(as: D.self)
                    let ki = D(repeating: kt[i]), qi = D(repeating: qt[i])
                    let s0 = p0.addingProduct(ki, u0)
                    ao0 = ao0.addingProduct(s0, qi)
                    let n0 = s0 * an
                    UnsafeMutableRawPointer(row).storeBytes(of: n0, as: D.self)
                    if !last { ak0 = ak0.addingProduct(n0, D(repeating: kn[i])) }
                    row += V
                }
                UnsafeMutableRawPointer(kS + j0).storeBytes(of: ak0, as: D.self)
                UnsafeMutableRawPointer(ot + j0).storeBytes(of: ao0, as: D.self)
                j0 += 8
            }
        }
    }
}
