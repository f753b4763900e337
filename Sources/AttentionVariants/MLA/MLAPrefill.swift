import ExactArithmetic
import Workloads

/// MLA's prefill (chunked) form as serving stacks run it — vLLM's and SGLang's MLA prefill,
/// DeepSeek's non-absorbed path: the cached latent is decompressed per head and the layer runs
/// as multi-head attention with key dim N + R and value dim V.
///
/// Tokens come in chunks of C = 64, appended to the caches at once (store points `latent`,
/// `rope_cache`). Each cached token s is decompressed once, from the latent as the cache holds it:
/// k_s,h = [W_UK,h c_s; k_pe_s] (gemm over L), v_s,h = W_UV,h c_s. For the chunk's queries
/// Q̃_h = scale·[q_nope; q_pe] (C × (N+R), store point `q` before the scale) and each block of 64
/// keys up to the chunk's end, ascending: FlashAttention-2's blocked update (`FlashBlockUpdate`,
/// future keys masked); O_h = acc / l (store point `output`). The same function as the absorbed
/// decode — q_nope·(W_UK c) = (W_UKᵀ q_nope)·c — summed in another order. Every cached token is
/// read from the cache, the current chunk's too (a real prefill takes its own chunk's latents
/// before they are stored: this form rounds them as the decode reads them). The decompressed keys
/// and values stay for the run: T·H·(N+R+V) elements.
public final class MLAPrefill<B: Backend>: SteppedRun, StoreDiagnostics {
    public let config: MLAConfig
    public let backend: B
    public let chunk = 64
    public private(set) var position = -1

    let decode: MLADecode<B>
    let update: FlashBlockUpdate<B>
    let latentBlock: Tensor, keyBlock: Tensor, sT: Tensor, m: Tensor, l: Tensor
    let queries: [Tensor], acc: [Tensor]
    /// Per head, per key block: the decompressed keys by column ((N+R) × C) and values (C × V).
    var keys: [[Tensor]], values: [[Tensor]]
    public let output: Tensor
    var qRow: [Double]

    public init(config: MLAConfig, backend: B, recipe: Recipe = .exact) throws {
        decode = try MLADecode(config: config, backend: backend, recipe: recipe)
        self.config = config
        self.backend = backend
        let H = config.heads, C = chunk, d = config.nopeDim + config.ropeDim, V = config.valueDim
        update = FlashBlockUpdate(backend: backend, rows: C)
        latentBlock = backend.allocate(rows: C, cols: config.latentDim)
        keyBlock = backend.allocate(rows: C, cols: d)
        sT = backend.allocate(rows: C, cols: C)
        m = backend.allocate(C)
        l = backend.allocate(C)
        queries = (0..<H).map { _ in backend.allocate(rows: C, cols: d) }
        acc = (0..<H).map { _ in backend.allocate(rows: C, cols: V) }
        keys = [[Tensor]](repeating: [], count: H)
        values = [[Tensor]](repeating: [], count: H)
        output = backend.allocate(rows: H, cols: V)
        qRow = [Double](repeating: 0, count: max(config.nopeDim, config.ropeDim, 1))
    }

    public var tier: BackendTier { backend.tier }
    public var outputCount: Int { config.heads * config.valueDim }
    public var stateCount: Int { 0 }
    public var cacheRelativeError: Double { decode.cacheRelativeError }
    public var storedNonFinite: NonFiniteCount { decode.storedNonFinite }

    /// The replayed sequence's length (no limit for generated inputs).
    var limit: Int { config.replay?.streams["q_nope"]?.tokens ?? .max }

    public func step() {
        position += 1
        let t = position
        if t % chunk == 0 { computeChunk(start: t) }
        for h in 0..<config.heads {
            let o = output.row(h)
            backend.copy(o, acc[h].row(t % chunk))
            decode.stores[h].store(.output, o, on: backend, step: t)
        }
    }

    func computeChunk(start c0: Int) {
        let b = backend, C = chunk, last = min(c0 + C, limit) - 1
        for t in c0...last { decode.append(t) }
        decompress(start: c0, last: last)
        loadQueries(start: c0)
        for h in 0..<config.heads {
            b.fill(m, -0x1p127)
            b.fill(l, 0)
            b.fill(acc[h], 0)
            for index in 0...(c0 / C) {
                b.gemm(sT, queries[h], transposeA: false, keys[h][index], transposeB: false, accumulate: false)
                let k0 = index * C
                let hidden: ((Int, Int) -> Bool)? = k0 == c0 ? { i, j in j > i } : nil
                update(sT, hidden: hidden, max: m, sum: l, acc: acc[h], values: values[h][index])
            }
            for i in 0..<C { b.divide(acc[h].row(i), acc[h].row(i), l.element(i)) }
        }
    }

    /// Decompresses the chunk's cached tokens into each head's key and value blocks (rows past a
    /// replayed sequence's end are zero, masked for every query before them).
    func decompress(start c0: Int, last: Int) {
        let b = backend, C = chunk, N = config.nopeDim, R = config.ropeDim, d = N + R
        for j in 0..<C {
            guard c0 + j <= last else {
                b.fill(latentBlock.row(j), 0)
                b.fill(keyBlock.row(j), 0)
                continue
            }
            decode.loadKey(c0 + j)
            b.copy(latentBlock.row(j), decode.keyLatent)
            if R > 0 { b.copy(keyBlock.block(rows: j..<(j + 1), cols: N..<d), decode.keyRope) }
        }
        for h in 0..<config.heads {
            b.gemm(keyBlock.block(rows: 0..<C, cols: 0..<N), latentBlock, transposeA: false, decode.wUK[h], transposeB: true, accumulate: false)
            let byColumn = b.allocate(rows: d, cols: C), v = b.allocate(rows: C, cols: config.valueDim)
            b.transpose(byColumn, keyBlock)
            b.gemm(v, latentBlock, transposeA: false, decode.wUV[h], transposeB: true, accumulate: false)
            keys[h].append(byColumn)
            values[h].append(v)
        }
    }

    /// The chunk's queries per head, [q_nope; q_pe] (RoPE applied to generated ones), scaled.
    func loadQueries(start c0: Int) {
        let b = backend, C = chunk, N = config.nopeDim, R = config.ropeDim
        for h in 0..<config.heads {
            for i in 0..<C {
                let r = queries[h].row(i)
                if c0 + i >= limit {
                    b.fill(r, 0)
                    continue
                }
                let t = c0 + i, qNope = r.block(rows: 0..<1, cols: 0..<N)
                qRow.withUnsafeMutableBufferPointer { decode.qNopeGen.fill($0, head: h, position: t) }
                qRow.withUnsafeBufferPointer { b.load(qNope, UnsafeBufferPointer(rebasing: $0[0..<N])) }
                decode.stores[h].store(.q, qNope, on: b, step: t)
                if R > 0 {
                    let qPe = r.block(rows: 0..<1, cols: N..<(N + R))
                    decode.loadQueryRope(head: h, position: t, into: qPe, row: &qRow)
                    decode.stores[h].store(.q, qPe, on: b, step: t)
                }
                b.multiply(r, r, decode.scaleT)
            }
        }
    }

    public func exportOutput(into out: MPFRArray) { backend.export(output, into: out, at: 0) }
    public func exportState(into out: MPFRArray) {}
    public func readOutput(into out: UnsafeMutableBufferPointer<Double>) { backend.read(output, into: out) }
    public func readState(into out: UnsafeMutableBufferPointer<Double>) {}
}
