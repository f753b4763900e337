import ExactArithmetic
import Workloads

/// RWKV-7's chunked (prefill) form: the generalized (diagonal-plus-low-rank) delta rule over a
/// chunk, as FLA's `chunk_dplr_delta_rule` organises it, with matrix products and one
/// forward substitution per chunk.
///
/// With M_t = Diag(w_t) + b_t ãᵀ_t (b = κ̂⊙a, ã = −κ̂), b_j the inclusive cumulative log decays
/// and b⁻_j = b_{j−1} (b⁻_0 = 0), the pseudo-values h_j = S_{j−1}ᵀ ã_j solve
///
///     (I − L_ab) H = (Ã ⊙ e^{b⁻}) S_chunk + L_ak V,   L_xy[j, l] = Σ_c x_jc y_lc e^{b⁻_jc − b_lc} (l < j)
///
/// (unit lower triangular: forward substitution, `tri_inverse` not materialised), then
///
///     O = (R ⊙ e^b) S_chunk + A_rb H + A_rk V,      A_xy[i, j] = Σ_c x_ic y_jc e^{b_ic − b_jc} (j ≤ i)
///     S ← Diag(e^{b_last}) S + (B ⊙ e^{b_last − b})ᵀ H + (K' ⊙ e^{b_last − b})ᵀ V.
///
/// Scores use `DecayedScores` (every exponent ≤ 0). The carried state stays at compute
/// precision; `chunk_state` rounds the copy used in the two S products, `state` the carried
/// state at chunk ends. Chunk length configurable, the last one shorter when `length` is set.
public final class RWKV7Chunked<B: Backend>: SteppedRun {
    public let config: RWKV7Config
    public let backend: B
    public let stores: StorePoints
    public let chunkSize: Int
    public let length: Int?
    public private(set) var position = -1

    let N: Int, C: Int
    let s: Tensor, sCopy: Tensor, s0: Tensor, sMid: Tensor
    let r: Tensor, k: Tensor, v: Tensor, wRaw: Tensor, aRaw: Tensor, g: Tensor, bm: Tensor, am: Tensor
    let cumIn: Tensor, cumEx: Tensor, expIn: Tensor, scratch: Tensor, xh: Tensor, yh: Tensor, factors: Tensor, row: Tensor
    let lab: Tensor, lak: Tensor, arb: Tensor, ark: Tensor, h: Tensor, o: Tensor
    let prep: RWKV7TokenPrep
    let inputs: RWKV7Inputs
    var chunkStart = 0, chunkLength = 0
    var rowBuffer: [Double]

    public init(config: RWKV7Config, backend: B, recipe: Recipe = .exact, chunkSize: Int = 64, length: Int? = nil) throws {
        try config.validate()
        if chunkSize < 1 || chunkSize > 4096 { throw VariantError("rwkv7: chunk_size must be in 1...4096, got \(chunkSize)") }
        if let length, length < 1 { throw VariantError("rwkv7: length must be positive, got \(length)") }
        self.config = config
        self.backend = backend
        self.chunkSize = chunkSize
        self.length = length
        stores = StorePoints(recipe: recipe, seed: config.seed, head: config.head)
        let n = config.headDim, c = chunkSize, be = backend
        N = n; C = c
        s = be.allocate(rows: n, cols: n); sCopy = be.allocate(rows: n, cols: n)
        s0 = be.allocate(rows: n, cols: n); sMid = be.allocate(rows: n, cols: n)
        func cn() -> Tensor { be.allocate(rows: c, cols: n) }
        r = cn(); k = cn(); v = cn(); wRaw = cn(); aRaw = cn(); g = cn(); bm = cn(); am = cn()
        cumIn = cn(); cumEx = cn(); expIn = cn(); scratch = cn(); xh = cn(); yh = cn(); factors = cn(); h = cn(); o = cn()
        row = be.allocate(n)
        func cc() -> Tensor { be.allocate(rows: c, cols: c) }
        lab = cc(); lak = cc(); arb = cc(); ark = cc()
        prep = RWKV7TokenPrep(config, backend: be)
        inputs = RWKV7Inputs(config)
        rowBuffer = [Double](repeating: 0, count: n)
    }

    public var tier: BackendTier { backend.tier }
    public var outputCount: Int { N }
    public var stateCount: Int { N * N }

    public func step() {
        position += 1
        if let length { precondition(position < length, "stepped past the configured length \(length)") }
        if position == chunkStart + chunkLength {
            chunkStart = position
            chunkLength = Swift.min(C, (length ?? Int.max) - position)
            runChunk()
        }
    }

    func runChunk() {
        let be = backend, m = chunkLength, t0 = chunkStart, hd = config.head
        let rows = 0..<m, cols = 0..<N
        for i in 0..<m {
            let t = t0 + i
            for (stream, dst) in [r, k, v, wRaw, aRaw].enumerated() {
                rowBuffer.withUnsafeMutableBufferPointer { buf in
                    inputs.fill(stream, buf, head: hd, position: t)
                    be.load(dst.row(i), UnsafeBufferPointer(buf))
                }
            }
            prep.prepare(be, r: r.row(i), k: k.row(i), v: v.row(i), wRaw: wRaw.row(i), aRaw: aRaw.row(i), decay: g.row(i),
                         kappa: am.row(i), b: bm.row(i), wantLog: true, stores: stores, step: t)
        }
        // Cumulative log decays, inclusive and exclusive, summed in ascending order.
        be.copy(cumIn.row(0), g.row(0))
        be.fill(cumEx.row(0), 0)
        for i in 1..<Swift.max(m, 1) {
            be.add(cumIn.row(i), cumIn.row(i - 1), g.row(i))
            be.copy(cumEx.row(i), cumIn.row(i - 1))
        }
        be.apply(.exp, expIn.block(rows: rows, cols: cols), cumIn.block(rows: rows, cols: cols))
        let scores = DecayedScores(m: m, width: N, subChunk: 16)
        be.copy(sCopy, s)
        stores.store(.chunkState, sCopy, on: be, step: t0)
        // H = (I − L_ab)⁻¹ ((Ã ⊙ e^{b⁻}) S_chunk + L_ak V).
        let H = h.block(rows: rows, cols: cols), X = scratch.block(rows: rows, cols: cols)
        be.apply(.exp, X, cumEx.block(rows: rows, cols: cols))
        be.multiply(X, X, am.block(rows: rows, cols: cols))
        be.gemm(H, X, transposeA: false, sCopy, transposeB: false, accumulate: false)
        scores.compute(be, into: [lak, lab], x: am, qc: cumEx, ys: [k, bm], kc: cumIn, inclusive: false, xh: xh, yh: yh, factors: factors, row: row)
        be.gemm(H, lak.block(rows: rows, cols: rows), transposeA: false, v.block(rows: rows, cols: cols), transposeB: false, accumulate: true)
        let minusOne = prep.minusOne
        be.multiply(lab.block(rows: rows, cols: rows), lab.block(rows: rows, cols: rows), minusOne)
        be.solveUnitLower(lab.block(rows: rows, cols: rows), H)
        // O = (R ⊙ e^b) S_chunk + A_rb H + A_rk V.
        let O = o.block(rows: rows, cols: cols)
        be.multiply(X, r.block(rows: rows, cols: cols), expIn.block(rows: rows, cols: cols))
        be.gemm(O, X, transposeA: false, sCopy, transposeB: false, accumulate: false)
        scores.compute(be, into: [arb, ark], x: r, qc: cumIn, ys: [bm, k], kc: cumIn, inclusive: true, xh: xh, yh: yh, factors: factors, row: row)
        be.gemm(O, arb.block(rows: rows, cols: rows), transposeA: false, H, transposeB: false, accumulate: true)
        be.gemm(O, ark.block(rows: rows, cols: rows), transposeA: false, v.block(rows: rows, cols: cols), transposeB: false, accumulate: true)
        for i in 0..<m { stores.store(.output, o.row(i), on: be, step: t0 + i) }
        be.copy(s0, s)
        advanceState(s, through: m - 1)
        stores.store(.state, s, on: be, step: t0 + m - 1)
    }

    /// dst ← Diag(e^{b_i}) s0 + Σ_{j≤i} (b_j ⊙ e^{b_i − b_j}) h_jᵀ + (k'_j ⊙ e^{b_i − b_j}) v_jᵀ.
    func advanceState(_ dst: Tensor, through i: Int) {
        let be = backend, rows = 0..<i + 1, cols = 0..<N
        if dst != s0 { be.copy(dst, s0) }
        be.scaleRows(dst, by: expIn.row(i))
        for j in 0...i {
            be.subtract(row, cumIn.row(i), cumIn.row(j))
            be.apply(.exp, row, row)
            be.multiply(xh.row(j), bm.row(j), row)
            be.multiply(yh.row(j), k.row(j), row)
        }
        be.gemm(dst, xh.block(rows: rows, cols: cols), transposeA: true, h.block(rows: rows, cols: cols), transposeB: false, accumulate: true)
        be.gemm(dst, yh.block(rows: rows, cols: cols), transposeA: true, v.block(rows: rows, cols: cols), transposeB: false, accumulate: true)
    }

    var indexInChunk: Int { position - chunkStart }

    func currentState() -> Tensor {
        let i = indexInChunk
        if i == chunkLength - 1 { return s }
        advanceState(sMid, through: i)
        return sMid
    }

    public func exportOutput(into out: MPFRArray) { backend.export(o.row(indexInChunk), into: out, at: 0) }
    public func readOutput(into out: UnsafeMutableBufferPointer<Double>) { backend.read(o.row(indexInChunk), into: out) }
    public func exportState(into out: MPFRArray) { backend.export(currentState(), into: out, at: 0) }
    public func readState(into out: UnsafeMutableBufferPointer<Double>) { backend.read(currentState(), into: out) }
}
