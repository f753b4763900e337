import ExactArithmetic
import Workloads

/// The parallel (prefill) form of MHA/GQA/MQA/SWA: FlashAttention-2's blocked forward pass.
///
/// Tokens come in chunks of C = 64 (the chunk is appended to the KV cache at once, store
/// points `k_cache`/`v_cache`, as a prefill kernel writes it). For the chunk's queries Q̃
/// (C×d, scaled) and each block of 64 visible keys, in ascending order: S = Q̃ K_blkᵀ (gemm, an
/// fma chain over d per score, as the decode's dot), masked entries (future keys, keys outside
/// the window and sinks) set to −∞, m' = max(m, rowmax S), c = e^{m−m'}, P = e^{S−m'},
/// l ← l·c + rowsum P, acc ← diag(c)·acc + P V_blk (gemm, accumulate), m ← m'; finally
/// O = acc / l (store point `output`). m starts at −2^127 (finite in every tier) so a row whose
/// keys are all masked in a block gets c = 1, P = 0. A GPT-OSS sink logit joins each row's
/// denominator after the last block. Every position's output is computed; a step returns its
/// row of the chunk.
public final class SoftmaxPrefill<B: Backend>: SteppedRun, StoreDiagnostics {
    public let config: SoftmaxAttentionConfig
    public let backend: B
    public let chunk = 64
    public private(set) var position = -1

    let decode: SoftmaxDecode<B>
    let group: Int
    let qT: Tensor, kT: Tensor, vT: Tensor, sT: Tensor, rowMax: Tensor, correction: Tensor, rowSum: Tensor
    let m: Tensor, l: Tensor, scaleT: Tensor
    let update: FlashBlockUpdate<B>
    let acc: [Tensor]
    public let output: Tensor
    var rowQ: [Double]
    /// The key/value blocks read so far, per KV head and block index (`keyValueBlock`).
    var heldBlocks: [[(keys: Tensor, values: Tensor, keysByColumn: Tensor?)?]]
    var heldElements = 0

    public init(config: SoftmaxAttentionConfig, backend: B, recipe: Recipe = .exact) throws {
        decode = try SoftmaxDecode(config: config, backend: backend, recipe: recipe)
        self.config = config
        self.backend = backend
        let H = config.queryHeads, d = config.headDim, dv = config.valueDim, C = chunk
        group = H / config.kvHeads
        qT = backend.allocate(rows: H * C, cols: d)
        kT = backend.allocate(rows: C, cols: d)
        vT = backend.allocate(rows: C, cols: dv)
        sT = backend.allocate(rows: C, cols: C)
        update = FlashBlockUpdate(backend: backend, rows: C)
        (rowMax, correction, rowSum) = (update.rowMax, update.correction, update.rowSum)
        m = backend.allocate(H * C)
        l = backend.allocate(H * C)
        scaleT = decode.scaleT
        acc = (0..<H).map { _ in backend.allocate(rows: C, cols: dv) }
        output = backend.allocate(rows: H, cols: dv)
        rowQ = [Double](repeating: 0, count: d)
        heldBlocks = [[(keys: Tensor, values: Tensor, keysByColumn: Tensor?)?]](repeating: [], count: config.kvHeads)
    }

    public var tier: BackendTier { backend.tier }
    public var outputCount: Int { config.queryHeads * config.valueDim }
    public var stateCount: Int { 0 }
    public var storedNonFinite: NonFiniteCount { decode.storedNonFinite }

    func visible(query i: Int, key j: Int) -> Bool {
        if j > i { return false }
        guard let w = config.window else { return true }
        return j < config.sinkTokens || j >= i - w + 1
    }

    /// The replayed sequence's length (no limit for generated inputs): a last partial chunk
    /// reads no position past it.
    var limit: Int { config.replay?.streams["q"]?.tokens ?? .max }

    public func step() {
        position += 1
        let t = position, C = chunk
        if t % C == 0 { computeChunk(start: t) }
        let i = t % C
        for h in 0..<config.queryHeads {
            let o = output.row(h)
            backend.copy(o, acc[h].row(i))
            decode.qStores[h].store(.output, o, on: backend, step: t)
        }
    }

    func computeChunk(start c0: Int) {
        let b = backend, C = chunk, d = config.headDim
        appendToCaches(start: c0)
        loadQueries(start: c0)
        let last = min(c0 + C, limit) - 1
        var firstKey = 0
        if let w = config.window, config.sinkTokens == 0 { firstKey = max(0, c0 - w + 1) }
        var k0 = (firstKey / C) * C
        while k0 <= last {
            let keysHere = (k0..<k0 + C).contains { j in (c0...last).contains { visible(query: $0, key: j) } }
            if !keysHere { k0 += C; continue }
            // Below the diagonal without a window every key is visible to every query.
            let masked = config.window != nil || k0 + C > c0 + 1
            for g in 0..<config.kvHeads {
                let (kT, vT, keysByColumn) = keyValueBlock(kvHead: g, start: k0)
                for h in g * group..<(g + 1) * group {
                    let q = qT.block(rows: h * C..<(h + 1) * C, cols: 0..<d)
                    if let kc = keysByColumn {
                        b.gemm(sT, q, transposeA: false, kc, transposeB: false, accumulate: false)
                    } else {
                        b.gemm(sT, q, transposeA: false, kT, transposeB: true, accumulate: false)
                    }
                    let hidden: ((Int, Int) -> Bool)? = masked ? { i, j in !self.visible(query: c0 + i, key: k0 + j) } : nil
                    update(sT, hidden: hidden, max: m.block(rows: 0..<1, cols: h * C..<(h + 1) * C),
                           sum: l.block(rows: 0..<1, cols: h * C..<(h + 1) * C), acc: acc[h], values: vT)
                }
            }
            k0 += C
        }
        addSinkLogit()
        for h in 0..<config.queryHeads {
            for i in 0..<C { b.divide(acc[h].row(i), acc[h].row(i), l.element(h * C + i)) }
        }
    }

    /// The keys and values of the block at k0 (C rows each) as the kernel reads them. A block
    /// lies wholly before the current chunk's end, so its entries are final once the chunk is
    /// appended: it is read from the caches (or regenerated) once and kept while the kept blocks
    /// hold at most `heldElementLimit` elements, instead of once per query chunk — the same
    /// values, so the same bits. Not for `group:N` caches, whose newest group is re-rounded when
    /// it fills: those are read every time, as past the limit. A kept block also keeps its keys
    /// transposed (d × C), the operand `gemm` would otherwise copy Kᵀ to for every query chunk.
    func keyValueBlock(kvHead g: Int, start k0: Int) -> (keys: Tensor, values: Tensor, keysByColumn: Tensor?) {
        let index = k0 / chunk, C = chunk
        if index < heldBlocks[g].count, let held = heldBlocks[g][index] { return held }
        let blockElements = C * (2 * config.headDim + config.valueDim)
        let regrouped = decode.keys[g].cache.map { $0.groupTokens > 0 } == true || decode.values[g].cache.map { $0.groupTokens > 0 } == true
        let hold = !regrouped && heldElements + blockElements <= Self.heldElementLimit
        let (k, v) = hold ? (backend.allocate(rows: C, cols: config.headDim), backend.allocate(rows: C, cols: config.valueDim)) : (kT, vT)
        for j in 0..<C {
            // Past a replayed sequence's end: zero rows, masked for every query before it.
            if k0 + j >= limit {
                backend.fill(k.row(j), 0)
                backend.fill(v.row(j), 0)
                continue
            }
            decode.loadStored(&decode.keys[g], position: k0 + j, row: &decode.rowK, into: k.row(j), kvHead: g)
            decode.loadStored(&decode.values[g], position: k0 + j, row: &decode.rowV, into: v.row(j), kvHead: g)
        }
        guard hold else { return (k, v, nil) }
        let byColumn = backend.allocate(rows: config.headDim, cols: C)
        backend.transpose(byColumn, k)
        while heldBlocks[g].count <= index { heldBlocks[g].append(nil) }
        heldBlocks[g][index] = (k, v, byColumn)
        heldElements += blockElements
        return (k, v, byColumn)
    }

    /// At most 2^25 elements of key/value blocks kept per run (256 MB in binary64: the keys,
    /// transposed keys and values of 32,768 tokens at d = 256 and more in binary32).
    static var heldElementLimit: Int { 1 << 25 }

    /// Appends the chunk's keys and values to the caches (each entry rounded once).
    func appendToCaches(start c0: Int) {
        let b = backend, C = chunk
        for g in 0..<config.kvHeads {
            for t in c0..<min(c0 + C, limit) {
                if decode.keys[g].cache != nil {
                    let k1 = kT.row(0)
                    decode.loadExact(&decode.keys[g], position: t, row: &decode.rowK, into: k1, kvHead: g)
                    decode.rowK.withUnsafeMutableBufferPointer { b.read(k1, into: $0) }
                    decode.rowK.withUnsafeBufferPointer { decode.keys[g].cache!.append($0) }
                }
                if decode.values[g].cache != nil {
                    let v1 = vT.row(0)
                    decode.loadExact(&decode.values[g], position: t, row: &decode.rowV, into: v1, kvHead: g)
                    decode.rowV.withUnsafeMutableBufferPointer { b.read(v1, into: $0) }
                    decode.rowV.withUnsafeBufferPointer { decode.values[g].cache!.append($0) }
                }
            }
        }
    }

    /// Loads the chunk's scaled queries, one C×d block per head, and resets the running max,
    /// sum and accumulators.
    func loadQueries(start c0: Int) {
        let b = backend, C = chunk
        for h in 0..<config.queryHeads {
            for i in 0..<C {
                let r = qT.row(h * C + i)
                if c0 + i >= limit {
                    b.fill(r, 0)
                    continue
                }
                rowQ.withUnsafeMutableBufferPointer { decode.qGen.fill($0, head: h, position: c0 + i) }
                decode.rotate(&rowQ)
                b.load(r, rowQ)
                decode.qStores[h].store(.q, r, on: b, step: c0 + i)
                b.multiply(r, r, scaleT)
            }
            b.fill(acc[h], 0)
        }
        b.fill(m, -0x1p127)
        b.fill(l, 0)
    }

    /// The sink logit joins the denominator only (OnlineSoftmax.addSink's order).
    func addSinkLogit() {
        let b = backend, C = chunk
        guard let sink = decode.sinkT else { return }
        for h in 0..<config.queryHeads {
            for i in 0..<C {
                let mi = m.element(h * C + i), li = l.element(h * C + i), ci = correction.element(0)
                b.maximum(rowMax, mi, sink)
                b.subtract(ci, mi, rowMax)
                b.apply(.exp, ci, ci)
                b.subtract(rowSum, sink, rowMax)
                b.apply(.exp, rowSum, rowSum)
                b.fma(li, li, ci, rowSum)
                b.scale(acc[h].row(i), by: ci)
            }
        }
    }

    /// The chunked prefill → decode handoff: the decode run that shares this prefill's KV caches
    /// (the entries as the prefill appended them, not copied or re-rounded) and continues at the
    /// next position. Only at a chunk end (the prefill appends whole chunks).
    public func handOff() -> SoftmaxDecode<B> {
        precondition((position + 1) % chunk == 0, "handOff: at a chunk end only, position \(position)")
        decode.resume(after: position)
        return decode
    }

    public func exportOutput(into out: MPFRArray) { backend.export(output, into: out, at: 0) }
    public func exportState(into out: MPFRArray) {}
    public func readOutput(into out: UnsafeMutableBufferPointer<Double>) { backend.read(output, into: out) }
    public func readState(into out: UnsafeMutableBufferPointer<Double>) {}
}

/// FlashAttention-2's update of a block of query rows by one block of keys (the loop body of the
/// blocked prefills, `SoftmaxPrefill` and `MLAPrefill`), given the scores S = Q̃ K_blkᵀ: per row
/// i, hidden entries set to −∞, m' = max(m_i, rowmax S_i), c_i = e^{m_i − m'}, P_i = e^{S_i − m'}
/// (in place), l_i ← l_i·c_i + Σ P_i, m_i ← m'; then acc ← diag(c)·acc + P V_blk (gemm,
/// accumulate).
struct FlashBlockUpdate<B: Backend> {
    let backend: B
    let rowMax: Tensor, correction: Tensor, rowSum: Tensor, negInf: Tensor

    init(backend: B, rows: Int) {
        self.backend = backend
        rowMax = backend.allocate(1)
        correction = backend.allocate(rows)
        rowSum = backend.allocate(1)
        negInf = backend.scalar(-.infinity)
    }

    /// `s` (rows × keys) holds the scores and is left holding P; `max` and `sum` are the rows'
    /// running max and sum (1 × rows); `hidden(i, j)` masks key j for row i (nil: none).
    func callAsFunction(_ s: Tensor, hidden: ((Int, Int) -> Bool)?, max m: Tensor, sum l: Tensor, acc: Tensor, values: Tensor) {
        let b = backend
        for i in 0..<s.rows {
            let row = s.row(i)
            if let hidden { for j in 0..<s.cols where hidden(i, j) { b.copy(row.element(j), negInf) } }
            let mi = m.element(i), li = l.element(i), ci = correction.element(i)
            b.max(rowMax, row)
            b.maximum(rowMax, rowMax, mi)
            b.subtract(ci, mi, rowMax)
            b.apply(.exp, ci, ci)
            b.subtract(row, row, rowMax)
            b.apply(.exp, row, row)
            b.sum(rowSum, row)
            b.fma(li, li, ci, rowSum)
            b.copy(mi, rowMax)
        }
        b.scaleRows(acc, by: correction.block(rows: 0..<1, cols: 0..<s.rows))
        b.gemm(acc, s, transposeA: false, values, transposeB: false, accumulate: true)
    }
}
