import ExactArithmetic
import NumberFormats
import Workloads

/// The rows of one KV stream (keys or values of one KV head): regenerated exactly from the
/// counter-based inputs, or read from a quantized cache.
struct KVRowSource {
    let generator: InputGenerator
    let streamHead: Int
    let role: Role
    var cache: QuantizedRows?
}

/// One layer of softmax attention (all heads) decoding on backend `B`.
public final class SoftmaxDecode<B: Backend>: SteppedRun, AttentionDiagnostics, InputAmax, PStoreProbing {
    public let config: SoftmaxAttentionConfig
    public let backend: B
    public let recipe: Recipe
    public private(set) var position = -1
    public let selector: KeySelector

    let group: Int
    let qStores: [StorePoints], kvStores: [StorePoints]
    var keys: [KVRowSource], values: [KVRowSource]
    let qGen: InputGenerator
    let qT: Tensor, qScaled: [Tensor], kT: Tensor, vT: Tensor, score: Tensor, scaleT: Tensor
    let sinkT: Tensor?
    let softmax: [OnlineSoftmax<B>]
    public let output: Tensor
    var rowQ: [Double], rowK: [Double], rowV: [Double], spikeQ: [Double]
    var selected: [Int] = []
    /// Keys read at the last evaluated position (per KV head 0), for tests and metrics.
    public private(set) var lastSelection: [Int] = []
    /// When set, the scores (scaled logits) of query head 0 at the last evaluated position,
    /// in `lastSelection` order, for the KL divergence of the attention distribution.
    public var recordScores = false
    public private(set) var lastScores: [Double] = []
    var scoreBuffer = [Double](repeating: 0, count: 1)
    /// A restored prefix (`restorePrefix`): per KV head, the key and value rows of positions
    /// below `restoredCount`, row-major, read instead of the live cache.
    var restoredKeys: [[Double]] = [], restoredValues: [[Double]] = []
    public private(set) var restoredCount = 0
    /// Non-finite elements the k/v input roles made, rounded as each token arrives (no cache).
    var inputNonFinite = NonFiniteCount()
    /// Key-block evaluation (`SoftmaxBlocked.swift`) for recipes with compute store points.
    var blocked: SoftmaxBlockedWorkspace<B>?
    /// `rotation=hadamard`: the random signs D of the rotation H·D applied to q and k.
    let rotationSigns: [Double]?
    /// When set, counts the P values the `p` store flushes to zero (blocked evaluation).
    public var pStoreProbe: PStoreProbe?

    public init(config: SoftmaxAttentionConfig, backend: B, recipe: Recipe = .exact, selector: KeySelector? = nil) throws {
        try config.validate()
        let allowed = SoftmaxAttentionConfig.roles + SoftmaxAttentionConfig.computeRoles
        if let bad = recipe.roles.first(where: { !allowed.contains($0) }) {
            throw VariantError("recipe: role '\(bad.rawValue)' does not exist for softmax attention; its roles: \(allowed.map(\.rawValue).joined(separator: ", "))")
        }
        self.config = config
        self.backend = backend
        self.recipe = recipe
        self.selector = selector ?? WindowSelector(window: config.window, sinkTokens: config.sinkTokens)
        let H = config.queryHeads, G = config.kvHeads, d = config.headDim, dv = config.valueDim
        group = H / G
        qStores = (0..<H).map { StorePoints(recipe: recipe, seed: config.seed, head: $0) }
        kvStores = (0..<G).map { StorePoints(recipe: recipe, seed: config.seed, head: $0) }
        qGen = InputGenerator(seed: config.seed, stream: "q", dimension: d, distribution: config.distribution).replaying(config.replay?["q"])
        let kGen = InputGenerator(seed: config.seed, stream: "k", dimension: d, distribution: config.keyDistribution ?? config.distribution)
            .replaying(config.replay?["k"])
        let vGen = InputGenerator(seed: config.seed, stream: "v", dimension: dv, distribution: config.distribution).replaying(config.replay?["v"])
        func cache(_ role: Role, _ width: Int, _ g: Int) throws -> QuantizedRows? {
            guard let q = recipe[role] else { return nil }
            guard let spec = q as? FormatSpec else { throw VariantError("recipe: role '\(role.rawValue)' needs a format spec") }
            do { return try QuantizedRows(spec: spec, role: role.rawValue, width: width, seed: config.seed, head: g) } catch let e as QuantizedRows.UnsupportedGranularity {
                throw VariantError("recipe: \(e.description)")
            }
        }
        keys = try (0..<G).map { g in
            KVRowSource(generator: kGen, streamHead: config.repeatedKV ? 0 : g, role: .k, cache: try cache(.kCache, d, g))
        }
        values = try (0..<G).map { g in
            KVRowSource(generator: vGen, streamHead: config.repeatedKV ? 0 : g, role: .v, cache: try cache(.vCache, dv, g))
        }
        qT = backend.allocate(d)
        qScaled = (0..<H).map { _ in backend.allocate(d) }
        kT = backend.allocate(d)
        vT = backend.allocate(dv)
        score = backend.allocate(1)
        if let s = config.scale {
            scaleT = backend.scalar(s)
        } else {
            scaleT = backend.scalar(Double(d))
            backend.apply(.rsqrt, scaleT, scaleT)
        }
        sinkT = config.sinkLogit.map { backend.scalar($0) }
        softmax = (0..<H).map { _ in OnlineSoftmax(backend: backend, valueCount: dv) }
        output = backend.allocate(rows: H, cols: dv)
        rowQ = [Double](repeating: 0, count: d)
        rowK = rowQ
        rowV = [Double](repeating: 0, count: dv)
        spikeQ = rowQ
        if case .spike(_, let factor)? = config.closedForm {
            spikeQ = qGen.row(head: 0, position: 0).map { $0 * factor }
        }
        if recipe.blocking.hadamard {
            guard d & (d - 1) == 0 else { throw VariantError("recipe: rotation=hadamard needs a power-of-two head dim, got \(d)") }
            let random = CounterRandom(seed: config.seed, role: "hadamard")
            rotationSigns = (0..<d).map { random.bits($0) & 1 == 0 ? 1 : -1 }
        } else {
            rotationSigns = nil
        }
        if Self.evaluatesBlocked(recipe) {
            blocked = SoftmaxBlockedWorkspace(backend: backend, heads: H, headDim: d, valueDim: dv)
        }
        // Block selectors pool the keys the kernel has: the stored (dequantized) ones.
        (self.selector as? BlockSelector)?.keySource = { [unowned self] g, s, row in self.storedRow(.k, kvHead: g, position: s, into: &row) }
    }

    /// The key (`.k`) or value (`.v`) row of position s ≤ the current one as the kernel reads it
    /// (dequantized from the cache, or the exact input after its rounding), in binary64.
    public func storedRow(_ which: Role, kvHead g: Int, position s: Int, into row: inout [Double]) {
        if which == .k {
            loadStored(&keys[g], position: s, row: &row, into: kT, kvHead: g)
            row.withUnsafeMutableBufferPointer { backend.read(kT, into: $0) }
        } else {
            loadStored(&values[g], position: s, row: &row, into: vT, kvHead: g)
            row.withUnsafeMutableBufferPointer { backend.read(vT, into: $0) }
        }
    }

    /// Replaces the first `count` cache entries (positions 0..<count ≤ the current position + 1)
    /// by a checkpointed copy, as a prefix cache resumes a request: the entries as the kernel
    /// reads them now (dequantized, or the exact rows after their input rounding) are handed to
    /// `store` per KV head and role (`.k`, `.v`) as a count × width row-major block, which
    /// rounds them in place to the pool's format; from then on the kernel reads those rows for
    /// positions below `count`, and appends later positions to its live cache as before.
    public func restorePrefix(count: Int, store: (_ role: Role, _ kvHead: Int, _ rows: UnsafeMutableBufferPointer<Double>, _ width: Int) -> Void) {
        precondition(count >= 0 && count <= position + 1, "restorePrefix: \(count) entries, the cache holds \(position + 1)")
        func copy(_ which: Role, _ g: Int, _ width: Int) -> [Double] {
            var block = [Double](repeating: 0, count: count * width)
            var row = [Double](repeating: 0, count: width)
            for s in 0..<count {
                storedRow(which, kvHead: g, position: s, into: &row)
                for c in 0..<width { block[s * width + c] = row[c] }
            }
            block.withUnsafeMutableBufferPointer { store(which, g, $0, width) }
            return block
        }
        let keysNow = (0..<config.kvHeads).map { copy(.k, $0, config.headDim) }
        let valuesNow = (0..<config.kvHeads).map { copy(.v, $0, config.valueDim) }
        restoredKeys = keysNow
        restoredValues = valuesNow
        restoredCount = count
    }

    /// Whether `rollback` can drop entries: every cache quantizes each entry on its own.
    public var canRollback: Bool { (keys + values).allSatisfy { $0.cache?.truncatable ?? true } }

    /// A speculative rollback: drops the cache entries of positions ≥ `length` (the drafted
    /// tokens past the accepted ones) so that the next `step` appends position `length`. The
    /// kept entries keep their codes.
    public func rollback(to length: Int) {
        precondition(canRollback, "rollback: a group:N cache cannot drop entries")
        precondition(length >= 0 && length <= position + 1, "rollback: to \(length) entries, the cache holds \(position + 1)")
        for g in 0..<config.kvHeads {
            keys[g].cache?.truncate(to: length)
            values[g].cache?.truncate(to: length)
        }
        restoredCount = min(restoredCount, length)
        position = length - 1
    }

    /// Continues after a prefill that appended positions 0…p to this run's caches
    /// (`SoftmaxPrefill.handOff`).
    func resume(after p: Int) { position = p }

    /// Query head h's scaled query at the last evaluated position.
    public func scaledQuery(head h: Int) -> Tensor { qScaled[h] }

    public var tier: BackendTier { backend.tier }
    public var sinkLogit: Double? { config.sinkLogit }
    public var outputCount: Int { config.queryHeads * config.valueDim }
    public var stateCount: Int { 0 }

    /// cache_rel_err: ‖Ĉ − C‖/‖C‖ over the quantized key and value entries so far.
    public var cacheRelativeError: Double {
        var e = 0.0, n = 0.0
        for c in keys.compactMap(\.cache) + values.compactMap(\.cache) {
            e += c.errorSquares
            n += c.normSquares
        }
        return n > 0 ? (e / n).squareRoot() : 0
    }

    /// Non-finite values the caches stored, and the k/v input roles made in rows no evaluated
    /// query read (runs without a cache), at every position.
    public var storedNonFinite: NonFiniteCount {
        (keys + values).compactMap(\.cache).reduce(selector.storedNonFinite.merged(inputNonFinite)) { $0.merged($1.nonFinite) }
    }

    /// Bytes the quantized caches hold now.
    public var cacheBytes: Int { (keys.compactMap(\.cache) + values.compactMap(\.cache)).reduce(0) { $0 + $1.storedBytes } }

    public func step() {
        position += 1
        let t = position
        for g in 0..<config.kvHeads {
            if keys[g].cache != nil {
                loadExact(&keys[g], position: t, row: &rowK, into: kT, kvHead: g)
                rowK.withUnsafeMutableBufferPointer { backend.read(kT, into: $0) }
                rowK.withUnsafeBufferPointer { keys[g].cache!.append($0) }
            }
            if values[g].cache != nil {
                loadExact(&values[g], position: t, row: &rowV, into: vT, kvHead: g)
                rowV.withUnsafeMutableBufferPointer { backend.read(vT, into: $0) }
                rowV.withUnsafeBufferPointer { values[g].cache!.append($0) }
            }
            // Without a cache an input role rounds a row when a query reads it; a row no
            // evaluated query reads (it left the window first) is rounded here as well, so a
            // NaN it makes is counted at the position it arrives (the same bits: the rounding
            // depends only on the role, head and position).
            if keys[g].cache == nil && recipe[.k] != nil { countRounded(&keys[g], position: t, row: &rowK, into: kT, kvHead: g) }
            if values[g].cache == nil && recipe[.v] != nil { countRounded(&values[g], position: t, row: &rowV, into: vT, kvHead: g) }
        }
        selector.didAppend(position: t)
        if config.evaluation.contains(t) { evaluate(t) }
    }

    /// Rounds the row of `position` through its input role and counts its non-finite elements.
    func countRounded(_ src: inout KVRowSource, position t: Int, row: inout [Double], into tensor: Tensor, kvHead g: Int) {
        loadExact(&src, position: t, row: &row, into: tensor, kvHead: g)
        row.withUnsafeMutableBufferPointer { backend.read(tensor, into: $0) }
        inputNonFinite.add(row.reduce(0) { $0 + ($1.isFinite ? 0 : 1) }, at: t)
    }

    /// Loads the exact row of `position` (after its input role's rounding) into `tensor`.
    func loadExact(_ src: inout KVRowSource, position s: Int, row: inout [Double], into tensor: Tensor, kvHead g: Int) {
        var p = s
        if src.role == .k, let cf = config.closedForm {
            switch cf {
            case .identicalKeys: p = 0
            case .spike(let at, _) where s == at:
                backend.load(tensor, spikeQ)
                kvStores[g].store(.k, tensor, on: backend, step: s)
                return
            case .spike: break
            }
        }
        row.withUnsafeMutableBufferPointer { src.generator.fill($0, head: src.streamHead, position: p) }
        if src.role == .k { rotate(&row) }
        backend.load(tensor, row)
        kvStores[g].store(src.role, tensor, on: backend, step: s)
    }

    /// The largest |x| over positions 0..<n of the q (every query head), k or v (every KV head)
    /// rows as the kernel has them before their stores (rotated under `rotation=hadamard`): what
    /// a per-tensor scale amax / max_finite of the whole tensor is computed from.
    public func inputAmax(_ role: Role, tokens n: Int) -> Double {
        var row = [Double](repeating: 0, count: role == .v ? config.valueDim : config.headDim), amax = 0.0
        func scan(_ fill: (UnsafeMutableBufferPointer<Double>) -> Void, rotated: Bool) {
            row.withUnsafeMutableBufferPointer { fill($0) }
            if rotated { rotate(&row) }
            for x in row { amax = Swift.max(amax, abs(x)) }
        }
        for t in 0..<n {
            switch role {
            case .q: for h in 0..<config.queryHeads { scan({ qGen.fill($0, head: h, position: t) }, rotated: true) }
            case .k: for src in keys { scan({ src.generator.fill($0, head: src.streamHead, position: t) }, rotated: true) }
            default: for src in values { scan({ src.generator.fill($0, head: src.streamHead, position: t) }, rotated: false) }
            }
        }
        return amax
    }

    /// x ← H·D x (binary64) under `rotation=hadamard`; nothing otherwise.
    func rotate(_ x: inout [Double]) {
        guard let signs = rotationSigns else { return }
        for i in signs.indices { x[i] *= signs[i] }
        x.withUnsafeMutableBufferPointer { hadamardRotate($0, count: signs.count) }
    }

    /// Loads the row of `position` as the kernel reads it: dequantized, or exact.
    func loadStored(_ src: inout KVRowSource, position s: Int, row: inout [Double], into tensor: Tensor, kvHead g: Int) {
        if s < restoredCount {
            let block = src.role == .k ? restoredKeys[g] : restoredValues[g], w = row.count
            for c in 0..<w { row[c] = block[s * w + c] }
            backend.load(tensor, row)
        } else if let c = src.cache {
            row.withUnsafeMutableBufferPointer { c.read(row: s, into: $0) }
            backend.load(tensor, row)
        } else {
            loadExact(&src, position: s, row: &row, into: tensor, kvHead: g)
        }
    }

    /// Computes the outputs of every head at position t.
    public func evaluate(_ t: Int) {
        let b = backend
        for g in 0..<config.kvHeads {
            for h in g * group..<(g + 1) * group {
                if case .spike? = config.closedForm {
                    rowQ.withUnsafeMutableBufferPointer { qGen.fill($0, head: h, position: 0) }
                } else {
                    rowQ.withUnsafeMutableBufferPointer { qGen.fill($0, head: h, position: t) }
                }
                rotate(&rowQ)
                b.load(qT, rowQ)
                qStores[h].store(.q, qT, on: b, step: t)
                b.multiply(qScaled[h], qT, scaleT)
                softmax[h].reset()
            }
            selector.select(position: t, kvHead: g, into: &selected)
            if g == 0 {
                lastSelection = selected
                lastScores.removeAll(keepingCapacity: true)
            }
            if blocked != nil {
                if recordScores { recordScoresOfHead0(kvHead: g) }
                evaluateBlocked(t, kvHead: g, heads: g * group..<(g + 1) * group)
                continue
            }
            for s in selected {
                loadStored(&keys[g], position: s, row: &rowK, into: kT, kvHead: g)
                loadStored(&values[g], position: s, row: &rowV, into: vT, kvHead: g)
                for h in g * group..<(g + 1) * group {
                    b.dot(score, qScaled[h], kT)
                    if recordScores && h == 0 {
                        scoreBuffer.withUnsafeMutableBufferPointer { b.read(score, into: $0) }
                        lastScores.append(scoreBuffer[0])
                    }
                    softmax[h].add(score: score, value: vT)
                }
            }
            for h in g * group..<(g + 1) * group {
                if let sinkT { softmax[h].addSink(logit: sinkT) }
                let o = output.row(h)
                softmax[h].finish(into: o)
                qStores[h].store(.output, o, on: b, step: t)
            }
        }
    }

    /// The scores of query head 0 (KV head 0) in selection order, for the KL divergence.
    func recordScoresOfHead0(kvHead g: Int) {
        guard g == 0 else { return }
        for s in selected {
            loadStored(&keys[g], position: s, row: &rowK, into: kT, kvHead: g)
            backend.dot(score, qScaled[0], kT)
            scoreBuffer.withUnsafeMutableBufferPointer { backend.read(score, into: $0) }
            lastScores.append(scoreBuffer[0])
        }
    }

    public func exportOutput(into out: MPFRArray) { backend.export(output, into: out, at: 0) }
    public func exportState(into out: MPFRArray) {}
    public func readOutput(into out: UnsafeMutableBufferPointer<Double>) { backend.read(output, into: out) }
    public func readState(into out: UnsafeMutableBufferPointer<Double>) {}
}
