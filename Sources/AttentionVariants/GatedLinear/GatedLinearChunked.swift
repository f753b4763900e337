import ExactArithmetic
import Workloads

/// The chunked (prefill) form of the gated-linear family: per chunk of C tokens (the last one
/// shorter when `length` is set), with b_i = Σ_{j≤i} log α_j inside the chunk,
///
///     O = (Q̃ ⊙ e^b) S_chunk + ((Q̃ K̃ᵀ) ⊙ L) V,        L_ij = e^{b_i − b_j} (i ≥ j), 0 above
///     S ← e^{b_last} S + (K̃ ⊙ e^{b_last − b})ᵀ V
///
/// computed as matrix products (`gemm`) over the chunk. S is carried at compute precision;
/// `chunk_state` rounds the per-chunk copy used in Q̃·S (FLA's `h` in the input dtype), `state`
/// rounds the carried state at each chunk boundary.
///
/// The decay factors follow the reference code of each family:
/// - constant decays (linear, RetNet, Lightning) without a `decay` store: L_ij = e^{(i−j)·g},
///   e^{b_i} = e^{(i+1)·g} — MiniMax's blockwise `diag_decay`, `q_decay`, `k_decay`, and
///   RetNet's chunkwise decay mask;
/// - data-dependent scalar decays (Mamba2, or stored constants): Mamba2's stable segment sum,
///   seg_ij = Σ_{j<l≤i} g_l accumulated row by row, never b_i − b_j; Mamba2 scales X by Δ here
///   (`ssd_minimal`), B by Δ in decode (`selective_state_update`);
/// - per-channel decays (GLA): FLA's sub-chunk scheme — blocks of 16 below the diagonal as a
///   gemm of Q̃ ⊙ e^{b_i − b_r} and K ⊙ e^{b_r − b_j} with r the last token before the query
///   block (both exponents ≤ 0, no overflow), diagonal blocks as Σ_c q_ic k_jc e^{b_ic − b_jc}.
///
/// The state at a position inside a chunk (for comparisons) is the same formula with the
/// chunk truncated there.
public final class GatedLinearChunked<B: Backend>: SteppedRun {
    public let config: GatedLinearConfig
    public let backend: B
    public let stores: StorePoints
    public private(set) var position = -1

    let K: Int, V: Int, W: Int, C: Int
    /// K×W carried state (W = V + 1 with the normaliser: its last column is z).
    let s: Tensor, sCopy: Tensor, s0: Tensor, sMid: Tensor
    let q: Tensor, k: Tensor, vw: Tensor, x: Tensor?
    let raw: Tensor?, dt: Tensor?
    let g: Tensor, cum: Tensor, expCum: Tensor
    let seg: Tensor, lmask: Tensor, a: Tensor, dist: Tensor?, counts: Tensor?
    let qd: Tensor, kd: Tensor, row: Tensor, factors: Tensor?
    let o: Tensor
    let scale: Tensor?, one: Tensor, skip: Tensor?
    let gateUnit: GateUnit<B>
    let source: GatedInputSource
    let scaleKeys: Bool, perChannel: Bool, hasDecay: Bool, constantDecay: Bool
    var chunkStart = 0, chunkLength = 0
    var rowBuffer: [Double]
    static var subChunk: Int { 16 }

    public init(config: GatedLinearConfig, backend: B, recipe: Recipe = .exact) throws {
        try config.validate()
        try recipe.checkChunkSize(config.chunkSize)
        self.config = config
        self.backend = backend
        stores = StorePoints(recipe: recipe, seed: config.seed, head: config.head)
        let b = backend
        K = config.keyDim; V = config.valueDim; C = config.chunkSize
        W = V + (config.normalizer ? 1 : 0)
        s = b.allocate(rows: K, cols: W); sCopy = b.allocate(rows: K, cols: W)
        s0 = b.allocate(rows: K, cols: W); sMid = b.allocate(rows: K, cols: W)
        q = b.allocate(rows: C, cols: K); k = b.allocate(rows: C, cols: K)
        vw = b.allocate(rows: C, cols: W)
        x = config.kind == .mamba2 ? b.allocate(rows: C, cols: V) : nil
        let gate = config.gate
        perChannel = gate.perChannel
        hasDecay = gate != .none
        constantDecay = gate.isConstant && !stores.has(.decay)
        let gw = perChannel ? K : 1
        let n = gate.rawCount(keyDim: K)
        raw = n > 0 ? b.allocate(rows: C, cols: n) : nil
        dt = config.kind == .mamba2 ? b.allocate(rows: C, cols: 1) : nil
        g = b.allocate(rows: C, cols: gw); cum = b.allocate(rows: C, cols: gw); expCum = b.allocate(rows: C, cols: gw)
        seg = b.allocate(rows: C, cols: C); lmask = b.allocate(rows: C, cols: C); a = b.allocate(rows: C, cols: C)
        if constantDecay {
            let d = b.allocate(rows: C, cols: C)
            var values = [Double](repeating: 0, count: C * C)
            for i in 0..<C { for j in 0...i { values[i * C + j] = Double(i - j) } }
            b.load(d, values)
            dist = d
            let c = b.allocate(rows: C, cols: 1)
            b.load(c, (0..<C).map { Double($0 + 1) })
            counts = c
        } else {
            dist = nil
            counts = nil
        }
        qd = b.allocate(rows: C, cols: K); kd = b.allocate(rows: C, cols: K); row = b.allocate(K)
        factors = perChannel ? b.allocate(rows: C, cols: K) : nil
        o = b.allocate(rows: C, cols: W)
        one = b.scalar(1)
        if let sc = config.scale ?? config.defaultScale {
            scale = sc == 1 ? nil : b.scalar(sc)
        } else {
            let sc = b.scalar(Double(K))
            b.apply(.rsqrt, sc, sc)
            scale = sc
        }
        scaleKeys = config.kind == .retnet
        skip = config.kind == .mamba2 ? b.scalar(config.skip) : nil
        gateUnit = GateUnit(config, backend: b)
        source = GatedInputSource(config)
        rowBuffer = [Double](repeating: 0, count: Swift.max(K, W, n, 1))
    }

    public var tier: BackendTier { backend.tier }
    public var outputCount: Int { V }
    public var stateCount: Int { K * V }

    public func step() {
        position += 1
        if let length = config.length { precondition(position < length, "stepped past the configured length \(length)") }
        if position == chunkStart + chunkLength {
            chunkStart = position
            chunkLength = Swift.min(C, (config.length ?? Int.max) - position)
            runChunk()
        }
    }

    // MARK: the chunk

    func load(_ t: Tensor, _ gen: (UnsafeMutableBufferPointer<Double>) -> Void) {
        rowBuffer.withUnsafeMutableBufferPointer { buf in
            let part = UnsafeMutableBufferPointer(rebasing: buf[0..<t.count])
            gen(part)
            backend.load(t, UnsafeBufferPointer(part))
        }
    }

    func runChunk() {
        let b = backend, m = chunkLength, t0 = chunkStart, h = config.head
        let rowsK = 0..<m
        let Q = q.block(rows: rowsK, cols: 0..<K), Kc = k.block(rows: rowsK, cols: 0..<K)
        let Vc = vw.block(rows: rowsK, cols: 0..<V), VW = vw.block(rows: rowsK, cols: 0..<W)
        // Inputs and their store points, token by token as in decode (same stochastic keys).
        for i in 0..<m {
            let t = t0 + i
            load(q.row(i)) { source.q.fill($0, head: source.keyHead, position: t) }
            load(k.row(i)) { source.k.fill($0, head: source.keyHead, position: t) }
            load(vw.block(rows: i..<i + 1, cols: 0..<V)) { source.v.fill($0, head: h, position: t) }
            if let raw { load(raw.row(i)) { source.fillGate($0, position: t) } }
            stores.store(.q, q.row(i), on: b, step: t)
            stores.store(.k, k.row(i), on: b, step: t)
            stores.store(.v, vw.block(rows: i..<i + 1, cols: 0..<V), on: b, step: t)
        }
        b.applyFeatureMap(config.featureMap, Q, one: one)
        b.applyFeatureMap(config.featureMap, Kc, one: one)
        if let scale { b.multiply(scaleKeys ? Kc : Q, scaleKeys ? Kc : Q, scale) }
        if config.normalizer { b.fill(vw.block(rows: rowsK, cols: V..<W), 1) }
        // Gates, token by token (their store points are per token).
        if hasDecay {
            if constantDecay {
                gateUnit.compute(b, raw: nil, dt: nil, out: g.row(0), wantLog: true, stores: stores, step: t0)
            } else {
                for i in 0..<m {
                    gateUnit.compute(b, raw: raw?.row(i), dt: dt?.row(i), out: g.row(i), wantLog: true, stores: stores, step: t0 + i)
                }
            }
        }
        if let x, let dt {
            b.copy(x.block(rows: rowsK, cols: 0..<V), Vc)
            b.scaleRows(Vc, by: dt.block(rows: rowsK, cols: 0..<1))
        }
        if hasDecay { perChannel ? channelDecays(m) : scalarDecays(m) }

        // Inter-chunk: O = (Q̃ ⊙ e^b) S_chunk.
        let O = o.block(rows: rowsK, cols: 0..<W)
        b.copy(sCopy, s)
        stores.store(.chunkState, sCopy.block(rows: 0..<K, cols: 0..<V), on: b, step: t0)
        let Qd = qd.block(rows: rowsK, cols: 0..<K)
        b.copy(Qd, Q)
        if hasDecay {
            if perChannel {
                b.multiply(Qd, Qd, expCum.block(rows: rowsK, cols: 0..<K))
            } else {
                b.scaleRows(Qd, by: expCum.block(rows: rowsK, cols: 0..<1))
            }
        }
        if hasDecay { stores.store(.qDecayed, Qd, on: b, step: t0) }
        b.gemm(O, Qd, transposeA: false, sCopy, transposeB: false, accumulate: false)
        // Intra-chunk: O += ((Q̃ K̃ᵀ) ⊙ L) V.
        let A = a.block(rows: rowsK, cols: rowsK)
        if perChannel {
            channelScores(m)
        } else {
            b.gemm(A, Q, transposeA: false, Kc, transposeB: true, accumulate: false)
            for i in 0..<m {
                if hasDecay { b.multiply(A.block(rows: i..<i + 1, cols: 0..<i + 1), A.block(rows: i..<i + 1, cols: 0..<i + 1), lmask.block(rows: i..<i + 1, cols: 0..<i + 1)) }
                if i + 1 < m { b.fill(A.block(rows: i..<i + 1, cols: i + 1..<m), 0) }
            }
        }
        stores.store(.attn, A, on: b, step: t0)
        b.gemm(O, A, transposeA: false, VW, transposeB: false, accumulate: true)
        if config.normalizer {
            for i in 0..<m { b.divide(o.block(rows: i..<i + 1, cols: 0..<V), o.block(rows: i..<i + 1, cols: 0..<V), o.element(i, V)) }
        }
        if let x, let skip { b.fma(o.block(rows: rowsK, cols: 0..<V), x.block(rows: rowsK, cols: 0..<V), skip, o.block(rows: rowsK, cols: 0..<V)) }
        for i in 0..<m { stores.store(.output, o.block(rows: i..<i + 1, cols: 0..<V), on: b, step: t0 + i) }
        // State: S ← e^{b_last} S + (K̃ ⊙ e^{b_last − b})ᵀ V.
        b.copy(s0, s)
        advanceState(s, through: m - 1)
        stores.store(.state, s.block(rows: 0..<K, cols: 0..<V), on: b, step: t0 + m - 1)
    }

    /// dst ← (decay through i)·s0 + Σ_{j≤i} (k̃_j ⊙ decay(j→i)) vw_jᵀ; dst may be `s` (s0 holds
    /// the chunk's initial state).
    func advanceState(_ dst: Tensor, through i: Int) {
        let b = backend, rows = 0..<i + 1
        if dst != s0 { b.copy(dst, s0) }
        let Kd = kd.block(rows: rows, cols: 0..<K)
        b.copy(Kd, k.block(rows: rows, cols: 0..<K))
        if hasDecay {
            if perChannel {
                let last = expCum.row(i)
                b.scaleRows(dst, by: last)
                for j in 0...i {
                    b.subtract(row, cum.row(i), cum.row(j))
                    b.apply(.exp, row, row)
                    b.multiply(kd.row(j), kd.row(j), row)
                }
            } else {
                b.scale(dst, by: expCum.element(i))
                b.scaleRows(Kd, by: lmask.block(rows: i..<i + 1, cols: rows))
            }
        }
        if hasDecay { stores.store(.kDecayed, Kd, on: b, step: chunkStart) }
        b.gemm(dst, Kd, transposeA: true, vw.block(rows: rows, cols: 0..<W), transposeB: false, accumulate: true)
    }

    /// Scalar decays: cum (b_i), expCum (e^{b_i}) and L (e^{seg_ij} on and below the diagonal).
    func scalarDecays(_ m: Int) {
        let b = backend
        if let dist {
            // Constant decay g: seg_ij = (i − j)·g, b_i = (i + 1)·g (MiniMax, RetNet).
            let g0 = g.element(0)
            for i in 0..<m {
                let r = seg.block(rows: i..<i + 1, cols: 0..<i + 1)
                b.multiply(r, dist.block(rows: i..<i + 1, cols: 0..<i + 1), g0)
                b.apply(.exp, lmask.block(rows: i..<i + 1, cols: 0..<i + 1), r)
            }
            b.multiply(cum.block(rows: 0..<m, cols: 0..<1), counts!.block(rows: 0..<m, cols: 0..<1), g0)
        } else {
            // Stable segment sum: seg[i, j] = seg[i−1, j] + g_i for j < i, seg[i, i] = 0.
            b.fill(seg.element(0, 0), 0)
            b.copy(cum.element(0), g.element(0))
            for i in 1..<Swift.max(m, 1) {
                b.add(seg.block(rows: i..<i + 1, cols: 0..<i), seg.block(rows: i - 1..<i, cols: 0..<i), g.element(i))
                b.fill(seg.element(i, i), 0)
                b.add(cum.element(i), cum.element(i - 1), g.element(i))
            }
            for i in 0..<m { b.apply(.exp, lmask.block(rows: i..<i + 1, cols: 0..<i + 1), seg.block(rows: i..<i + 1, cols: 0..<i + 1)) }
        }
        b.apply(.exp, expCum.block(rows: 0..<m, cols: 0..<1), cum.block(rows: 0..<m, cols: 0..<1))
    }

    /// Per-channel decays: cum (b_i per channel, summed ascending) and expCum.
    func channelDecays(_ m: Int) {
        let b = backend
        b.copy(cum.row(0), g.row(0))
        for i in 1..<Swift.max(m, 1) { b.add(cum.row(i), cum.row(i - 1), g.row(i)) }
        b.apply(.exp, expCum.block(rows: 0..<m, cols: 0..<K), cum.block(rows: 0..<m, cols: 0..<K))
    }

    /// GLA's intra-chunk scores A_ij = Σ_c q̃_ic k_jc e^{b_ic − b_jc} (j ≤ i), zero above.
    func channelScores(_ m: Int) {
        DecayedScores(m: m, width: K, subChunk: Self.subChunk).compute(
            backend, into: [a], x: q, qc: cum, ys: [k], kc: cum, inclusive: true, xh: qd, yh: kd, factors: factors!, row: row)
    }

    // MARK: read-out

    var indexInChunk: Int { position - chunkStart }

    /// The state after the current position: the carried state at a chunk's end, else the
    /// chunk formula truncated at the position.
    func currentState() -> Tensor {
        let i = indexInChunk
        if i == chunkLength - 1 { return s }
        advanceState(sMid, through: i)
        return sMid
    }

    public func exportOutput(into out: MPFRArray) { backend.export(o.block(rows: indexInChunk..<indexInChunk + 1, cols: 0..<V), into: out, at: 0) }
    public func readOutput(into out: UnsafeMutableBufferPointer<Double>) { backend.read(o.block(rows: indexInChunk..<indexInChunk + 1, cols: 0..<V), into: out) }
    public func exportState(into out: MPFRArray) { backend.export(currentState().block(rows: 0..<K, cols: 0..<V), into: out, at: 0) }
    public func readState(into out: UnsafeMutableBufferPointer<Double>) { backend.read(currentState().block(rows: 0..<K, cols: 0..<V), into: out) }
}
