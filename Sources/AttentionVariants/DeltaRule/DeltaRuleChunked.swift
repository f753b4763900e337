import ExactArithmetic
import Workloads

/// One head of a delta-rule variant in its chunked (prefill) form: the UT transform of
/// Yang et al. (2024, "Parallelizing Linear Transformers with the Delta Rule over Sequence
/// Length"), with the gated extension of FLA's chunk_gated_delta_rule / chunk_kda. Per chunk of
/// n ≤ C tokens, γ = the inclusive cumulative sum of the log-decays g inside the chunk:
///
///     A_ij = β_i e^{γ_i−γ_j} k_iᵀk_j  (i > j)        KDA: β_i Σ_c k_ic e^{γ_ic−γ_jc} k_jc
///     T    = (I + A)⁻¹                  forward substitution          store: tri_inverse
///     W    = T diag(β) (e^γ ⊙ K),  U = T diag(β) V                  (gemm)
///     Ŝ    = S                          per-chunk copy                store: chunk_state
///     V_new = U − W Ŝ                                                 store: v_new
///     O    = (Q ⊙ e^γ) Ŝ + (Q Kᵀ ⊙ e^{γ_i−γ_j} ⊙ [i ≥ j]) V_new
///     S    ← e^{γ_n} S + (K ⊙ e^{γ_n−γ})ᵀ V_new                        store: state (chunk boundary)
///
/// The carried S stays at compute precision unless the recipe names `state` (as in FLA);
/// W·S and Q·S read the stored copy Ŝ. Every product is a `gemm`, the inverse a forward
/// substitution. KDA's intra-chunk products use sub-chunks of 16 rows with the decay split at
/// the sub-chunk's first row (both factors ≤ 1, as in FLA), and the diagonal sub-blocks pair by
/// pair.
///
/// The chunk of position t is computed when t is its first token (outputs are causal, so this
/// changes nothing); the state at a position inside a chunk is formed on demand from the UT
/// representation, S_r = e^{γ_r} S_0 + (K_{≤r} ⊙ e^{γ_r−γ})ᵀ V_new,≤r.
public final class DeltaRuleChunked<B: Backend>: SteppedRun {
    public let config: DeltaRuleConfig
    public let backend: B
    public let stores: StorePoints
    public private(set) var position = -1

    /// The carried K×V state after the last computed chunk. It and `startState` (the state at
    /// the chunk's start, for states inside the chunk) swap buffers at every chunk.
    public private(set) var state: Tensor
    public let output: Tensor
    private(set) var startState: Tensor
    let chunkState: Tensor, exportScratch: Tensor
    let loader: DeltaTokenLoader<B>
    var workspaces: [Int: Workspace] = [:]
    var current: Workspace?
    var chunkStart = 0, chunkIndex = -1

    static var subChunk: Int { 16 }

    /// The per-chunk tensors for a chunk of n tokens (allocated once per distinct n: C and the tail).
    ///
    /// Products that share an operand run as one gemm on stacked tensors: `kbq` holds the rows
    /// of β K and Q interleaved (β k_0, q_0, β k_1, q_1, …), so its product with Kᵀ is `ap`, the
    /// rows of A and P interleaved, and rows below h = n/2 need only Kᵀ's first h columns (A
    /// and P are lower-triangular: the rest is masked to 0), [β e^γ K | β V] = `right` (columns)
    /// gives [W | U] in one product with T, and [W; Q e^γ] (rows of `wuq`) gives
    /// [W Ŝ; Q e^γ Ŝ] = `vo` in one product with Ŝ. Each element is the same dot product as in
    /// separate gemms.
    final class Workspace {
        let n: Int
        let q, k, v, g, expG, beta, d, a, t, p, kb, kbg, qg, kd, vb, w, u, vNew, o: Tensor
        let kbq, ap, ykv, wq, wu, vo: Tensor
        let rowTmp, rowTmp2: Tensor
        let left, leftQ, right: Tensor

        init(n: Int, K: Int, V: Int, gateWidth: Int, backend b: B) {
            self.n = n
            let gw = max(gateWidth, 1)
            kbq = b.allocate(rows: 2 * n, cols: K)
            kb = Tensor(offset: kbq.offset, rows: n, cols: K, rowStride: 2 * K)
            q = Tensor(offset: kbq.offset + K, rows: n, cols: K, rowStride: 2 * K)
            k = b.allocate(rows: n, cols: K); v = b.allocate(rows: n, cols: V)
            g = b.allocate(rows: n, cols: gw); expG = b.allocate(rows: n, cols: gw); beta = b.allocate(rows: n, cols: 1)
            d = b.allocate(rows: n, cols: n)
            ap = b.allocate(rows: 2 * n, cols: n)
            a = Tensor(offset: ap.offset, rows: n, cols: n, rowStride: 2 * n)
            p = Tensor(offset: ap.offset + n, rows: n, cols: n, rowStride: 2 * n)
            t = b.allocate(rows: n, cols: n)
            ykv = b.allocate(rows: n, cols: K + V)
            kbg = ykv.block(rows: 0..<n, cols: 0..<K); vb = ykv.block(rows: 0..<n, cols: K..<(K + V))
            // Rows 0..<n: [W | U]; rows n..<2n: [Q e^γ | unused].
            let wuq = b.allocate(rows: 2 * n, cols: K + V)
            wu = wuq.block(rows: 0..<n, cols: 0..<(K + V)); wq = wuq.block(rows: 0..<(2 * n), cols: 0..<K)
            w = wuq.block(rows: 0..<n, cols: 0..<K); u = wuq.block(rows: 0..<n, cols: K..<(K + V))
            qg = wuq.block(rows: n..<(2 * n), cols: 0..<K)
            kd = b.allocate(rows: n, cols: K)
            vo = b.allocate(rows: 2 * n, cols: V)
            vNew = vo.block(rows: 0..<n, cols: 0..<V); o = vo.block(rows: n..<(2 * n), cols: 0..<V)
            rowTmp = b.allocate(K); rowTmp2 = b.allocate(K)
            let bc = min(DeltaRuleChunked.subChunk, n)
            left = b.allocate(rows: bc, cols: K); leftQ = b.allocate(rows: bc, cols: K); right = b.allocate(rows: n, cols: K)
        }
    }

    public init(config: DeltaRuleConfig, backend: B, recipe: Recipe = .exact) throws {
        try config.validate()
        try recipe.checkChunkSize(config.chunkSize)
        self.config = config
        self.backend = backend
        stores = StorePoints(recipe: recipe, seed: config.seed, head: config.head)
        let K = config.keyDim, V = config.valueDim
        state = backend.allocate(rows: K, cols: V)
        startState = backend.allocate(rows: K, cols: V)
        chunkState = backend.allocate(rows: K, cols: V)
        exportScratch = backend.allocate(rows: K, cols: V)
        output = backend.allocate(V)
        loader = DeltaTokenLoader(config: config, backend: backend, stores: stores)
    }

    public var tier: BackendTier { backend.tier }
    public var outputCount: Int { config.valueDim }
    public var stateCount: Int { config.keyDim * config.valueDim }

    func workspace(_ n: Int) -> Workspace {
        if let w = workspaces[n] { return w }
        let w = Workspace(n: n, K: config.keyDim, V: config.valueDim, gateWidth: config.gateWidth, backend: backend)
        workspaces[n] = w
        return w
    }

    public func step() {
        position += 1
        if current == nil || position == chunkStart + current!.n {
            chunkStart = position
            chunkIndex += 1
            let n = config.tokens.map { min(config.chunkSize, max($0 - position, 1)) } ?? config.chunkSize
            let w = workspace(n)
            current = w
            computeChunk(w)
        }
        let w = current!
        backend.copy(output, w.o.row(position - chunkStart))
        stores.store(.output, output, on: backend, step: position)
    }

    /// Loads the chunk's inputs and runs the UT transform; leaves O in `w.o` and S updated.
    func computeChunk(_ w: Workspace) {
        let hasGate = config.gateWidth > 0
        for i in 0..<w.n {
            loader.load(chunkStart + i, q: w.q.row(i), k: w.k.row(i), v: w.v.row(i),
                        g: hasGate ? w.g.row(i) : nil, beta: w.beta.row(i), asDecay: false)
        }
        transform(w)
    }

    /// Benchmarks: the UT transform of the current chunk again on its loaded inputs (the state
    /// advances once more). The per-token log-decays are re-derived from the stored cumulative
    /// sums once and kept, so that repeated calls time the transform alone.
    public func repeatTransformForBenchmark() {
        guard let w = current else { return }
        let b = backend
        if benchmarkLogDecays == nil {
            for i in stride(from: w.n - 1, to: 0, by: -1) { b.subtract(w.g.row(i), w.g.row(i), w.g.row(i - 1)) }
            let saved = b.allocate(rows: w.g.rows, cols: w.g.cols)
            b.copy(saved, w.g)
            benchmarkLogDecays = saved
        }
        b.copy(w.g, benchmarkLogDecays!)
        transform(w)
    }
    var benchmarkLogDecays: Tensor?

    /// The UT transform of a loaded chunk (γ, A, T, W, U, V_new, O, state update).
    func transform(_ w: Workspace) {
        let b = backend, n = w.n
        // γ: inclusive cumulative sum inside the chunk, in token order.
        b.cumulativeSumRows(w.g)
        b.apply(.exp, w.expG, w.g)
        b.scaleRows(w.kb, w.k, by: w.beta)
        if config.kind.perChannelGate {
            intraPerChannel(w)
            b.multiply(w.kbg, w.kb, w.expG)
            b.multiply(w.qg, w.q, w.expG)
            stores.store(.qDecayed, w.qg, on: b, step: chunkIndex)
        } else {
            // D_ij = e^{γ_i−γ_j} for j ≤ i (the strict upper part stays 0).
            b.decayMatrix(w.d, w.g)
            let h = Self.triangularSplit(n), K = config.keyDim
            if h > 0 {
                // Rows of A and P below h against K's first h rows; the upper right stays 0.
                b.gemm(w.ap.block(rows: 0..<(2 * h), cols: 0..<h), w.kbq.block(rows: 0..<(2 * h), cols: 0..<K),
                       transposeA: false, w.k.block(rows: 0..<h, cols: 0..<K), transposeB: true, accumulate: false)
            }
            b.gemm(w.ap.block(rows: (2 * h)..<(2 * n), cols: 0..<n), w.kbq.block(rows: (2 * h)..<(2 * n), cols: 0..<K),
                   transposeA: false, w.k, transposeB: true, accumulate: false)
            b.multiply(w.a, w.a, w.d)
            b.multiply(w.p, w.p, w.d)
            b.scaleRows(w.kbg, w.kb, by: w.expG)
            b.scaleRows(w.qg, w.q, by: w.expG)
        }
        // A kernel's stored intra-chunk matrices (FLA keeps them in the input dtype).
        stores.store(.attn, w.p, on: b, step: chunkIndex)
        stores.store(.kDecayed, w.kbg, on: b, step: chunkIndex)
        // T = (I + A)⁻¹ by forward substitution on the identity.
        b.fill(w.t, 0)
        for i in 0..<n { b.fill(w.t.element(i, i), 1) }
        b.solveUnitLower(w.a, w.t)
        stores.store(.triInverse, w.t, on: b, step: chunkIndex)
        b.scaleRows(w.vb, w.v, by: w.beta)
        lowerTimes(w.wu, w.t, w.ykv, accumulate: false)
        stores.store(.w, w.w, on: b, step: chunkIndex)
        stores.store(.u, w.u, on: b, step: chunkIndex)
        // Ŝ: the carried state itself unless the recipe stores a per-chunk copy.
        let sHat: Tensor
        if stores.has(.chunkState) {
            b.copy(chunkState, state)
            stores.store(.chunkState, chunkState, on: b, step: chunkIndex)
            sHat = chunkState
        } else {
            sHat = state
        }
        b.gemm(w.vo, w.wq, transposeA: false, sHat, transposeB: false, accumulate: false)
        b.subtract(w.vNew, w.u, w.vNew)
        stores.store(.vNew, w.vNew, on: b, step: chunkIndex)
        lowerTimes(w.o, w.p, w.vNew, accumulate: true)
        swap(&startState, &state)
        advanceState(into: state, from: startState, to: n - 1, w)
        stores.store(.state, state, on: b, step: chunkStart + n - 1)
    }

    /// Where the products with a triangular factor split a chunk of n tokens: rows below h need
    /// only the first h columns. n/2 for chunks of 32 tokens or more (0: no split).
    static func triangularSplit(_ n: Int) -> Int { n >= 32 ? n / 2 : 0 }

    /// C (+)= L·X for a lower-triangular n×n L (T, or P after the decay mask): rows [0, h) take
    /// only L's first h columns (the rest are zeros), h = `triangularSplit(n)`, saving a quarter
    /// of the product. Every element sums the same nonzero terms (the skipped ones are exact
    /// zeros); OpenBLAS may order a shorter sum differently, so Float32 low bits depend on the
    /// split as they depend on the kernel family.
    func lowerTimes(_ c: Tensor, _ l: Tensor, _ x: Tensor, accumulate: Bool) {
        let n = l.rows, h = Self.triangularSplit(n)
        guard h > 0 else {
            backend.gemm(c, l, transposeA: false, x, transposeB: false, accumulate: accumulate)
            return
        }
        let cols = 0..<x.cols
        backend.gemm(c.block(rows: 0..<h, cols: cols), l.block(rows: 0..<h, cols: 0..<h), transposeA: false,
                     x.block(rows: 0..<h, cols: cols), transposeB: false, accumulate: accumulate)
        backend.gemm(c.block(rows: h..<n, cols: cols), l.block(rows: h..<n, cols: 0..<n), transposeA: false,
                     x, transposeB: false, accumulate: accumulate)
    }

    /// s ← e^{γ_r} s₀ + (K_{≤r} ⊙ e^{γ_r−γ})ᵀ V_new,≤r, s₀ the chunk's start state.
    func advanceState(into s: Tensor, from s0: Tensor, to r: Int, _ w: Workspace) {
        let b = backend, rows = 0..<(r + 1)
        let kd = w.kd.block(rows: rows, cols: 0..<config.keyDim)
        if config.kind.perChannelGate {
            b.scaleRows(s, s0, by: w.expG.row(r))
            for i in rows {
                b.subtract(w.rowTmp, w.g.row(r), w.g.row(i))
                b.apply(.exp, w.rowTmp, w.rowTmp)
                b.multiply(w.kd.row(i), w.k.row(i), w.rowTmp)
            }
        } else {
            b.multiply(s, s0, w.expG.element(r))
            b.scaleRows(kd, w.k.block(rows: rows, cols: 0..<config.keyDim), by: Tensor(offset: w.d.offset + r * w.n, rows: 1, cols: r + 1))
        }
        stores.store(.kDecayed, kd, on: b, step: chunkIndex)
        b.gemm(s, kd, transposeA: true, w.vNew.block(rows: rows, cols: 0..<config.valueDim), transposeB: false, accumulate: true)
    }

    /// KDA's A (strictly lower) and P (lower with diagonal): off-diagonal sub-blocks as one gemm
    /// per sub-chunk with the decay split at its first row r, diagonal sub-blocks pair by pair.
    func intraPerChannel(_ w: Workspace) {
        let b = backend, n = w.n, K = config.keyDim, bc = Self.subChunk
        var i0 = 0
        while i0 < n {
            let i1 = min(i0 + bc, n), m = i1 - i0
            let gr = w.g.row(i0)
            if i0 > 0 {
                let left = w.left.block(rows: 0..<m, cols: 0..<K), leftQ = w.leftQ.block(rows: 0..<m, cols: 0..<K)
                for i in i0..<i1 {
                    b.subtract(w.rowTmp, w.g.row(i), gr)
                    b.apply(.exp, w.rowTmp, w.rowTmp)
                    b.multiply(left.row(i - i0), w.kb.row(i), w.rowTmp)
                    b.multiply(leftQ.row(i - i0), w.q.row(i), w.rowTmp)
                }
                for j in 0..<i0 {
                    b.subtract(w.rowTmp, gr, w.g.row(j))
                    b.apply(.exp, w.rowTmp, w.rowTmp)
                    b.multiply(w.right.row(j), w.k.row(j), w.rowTmp)
                }
                let right = w.right.block(rows: 0..<i0, cols: 0..<K)
                b.gemm(w.a.block(rows: i0..<i1, cols: 0..<i0), left, transposeA: false, right, transposeB: true, accumulate: false)
                b.gemm(w.p.block(rows: i0..<i1, cols: 0..<i0), leftQ, transposeA: false, right, transposeB: true, accumulate: false)
            }
            for i in i0..<i1 {
                for j in i0...i {
                    b.subtract(w.rowTmp, w.g.row(i), w.g.row(j))
                    b.apply(.exp, w.rowTmp, w.rowTmp)
                    if j < i {
                        b.multiply(w.rowTmp2, w.kb.row(i), w.rowTmp)
                        b.dot(w.a.element(i, j), w.rowTmp2, w.k.row(j))
                    }
                    b.multiply(w.rowTmp2, w.q.row(i), w.rowTmp)
                    b.dot(w.p.element(i, j), w.rowTmp2, w.k.row(j))
                }
            }
            i0 = i1
        }
    }

    /// The state after the current position: the carried state at a chunk's last token,
    /// otherwise formed from the chunk's UT representation.
    func currentState() -> Tensor {
        guard let w = current else { return state }
        let r = position - chunkStart
        if r == w.n - 1 { return state }
        advanceState(into: exportScratch, from: startState, to: r, w)
        return exportScratch
    }

    public func exportOutput(into out: MPFRArray) { backend.export(output, into: out, at: 0) }
    public func exportState(into out: MPFRArray) { backend.export(currentState(), into: out, at: 0) }
    public func readOutput(into out: UnsafeMutableBufferPointer<Double>) { backend.read(output, into: out) }
    public func readState(into out: UnsafeMutableBufferPointer<Double>) { backend.read(currentState(), into: out) }
}
