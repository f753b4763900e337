import ExactArithmetic
import Foundation
import NumberFormats
import Workloads

/// One MLA layer (all heads) decoding on backend `B`; `selector` picks the keys (dense by
/// default; DSA passes its indexer).
public final class MLADecode<B: Backend>: SteppedRun, AttentionDiagnostics {
    public let config: MLAConfig
    public let backend: B
    public let recipe: Recipe
    public let selector: KeySelector
    public private(set) var position = -1

    let stores: [StorePoints], cacheStores: StorePoints
    var latentCache: QuantizedRows?, ropeCache: QuantizedRows?
    let latentGen: InputGenerator, ropeGen: InputGenerator, qNopeGen: InputGenerator, qPeGen: InputGenerator
    let rotary: RotaryEmbedding
    let wUK: [Tensor], wUV: [Tensor]
    let qNope: Tensor, query: [Tensor], key: Tensor, keyLatent: Tensor, keyRope: Tensor, score: Tensor, scaleT: Tensor
    let latentOut: Tensor
    let softmax: [OnlineSoftmax<B>]
    public let output: Tensor
    var row: [Double], ropeRow: [Double], qRow: [Double]
    var selected: [Int] = []
    public private(set) var lastSelection: [Int] = []
    /// When set, the scaled logits of head 0 at the last evaluated position (`lastSelection` order).
    public var recordScores = false
    public private(set) var lastScores: [Double] = []
    var scoreBuffer = [Double](repeating: 0, count: 1)

    public init(config: MLAConfig, backend: B, recipe: Recipe = .exact, selector: KeySelector? = nil, extraRoles: [Role] = []) throws {
        try config.validate()
        let allowed = MLAConfig.roles + extraRoles
        if let bad = recipe.roles.first(where: { !allowed.contains($0) }) {
            throw VariantError("recipe: role '\(bad.rawValue)' does not exist for mla; its roles: \(allowed.map(\.rawValue).joined(separator: ", "))")
        }
        self.config = config
        self.backend = backend
        self.recipe = recipe
        self.selector = selector ?? WindowSelector(window: nil, sinkTokens: 0)
        let H = config.heads, L = config.latentDim, R = config.ropeDim, N = config.nopeDim, V = config.valueDim
        stores = (0..<H).map { StorePoints(recipe: recipe, seed: config.seed, head: $0) }
        cacheStores = StorePoints(recipe: recipe, seed: config.seed, head: 0)
        func cache(_ role: Role, _ width: Int) throws -> QuantizedRows? {
            guard let q = recipe[role] else { return nil }
            guard let spec = q as? FormatSpec else { throw VariantError("recipe: role '\(role.rawValue)' needs a format spec") }
            do { return try QuantizedRows(spec: spec, role: role.rawValue, width: width, seed: config.seed, head: 0) } catch let e as QuantizedRows.UnsupportedGranularity {
                throw VariantError("recipe: \(e.description)")
            }
        }
        latentCache = try cache(.latent, L)
        ropeCache = R > 0 ? try cache(.ropeCache, R) : nil
        let replay = config.replay
        latentGen = InputGenerator(seed: config.seed, stream: "latent", dimension: L, distribution: config.distribution, float32Representable: false)
            .replaying(replay?["kv_cache"])
        ropeGen = InputGenerator(seed: config.seed, stream: "k_pe", dimension: max(R, 1), distribution: config.distribution, float32Representable: false)
            .replaying(replay?["pe_cache"])
        qNopeGen = InputGenerator(seed: config.seed, stream: "q_nope", dimension: N, distribution: config.distribution).replaying(replay?["q_nope"])
        qPeGen = InputGenerator(seed: config.seed, stream: "q_pe", dimension: max(R, 1), distribution: config.distribution, float32Representable: false)
            .replaying(replay?["q_pe"])
        rotary = RotaryEmbedding(dimension: max(R, 2), base: config.ropeBase)
        // Fixed projections, one row per output channel: W_UK,h ∈ R^{N×L}, W_UV,h ∈ R^{V×L}.
        var w = [Double](repeating: 0, count: L)
        let r = 1 / Double(L).squareRoot()
        func weights(_ stream: String, _ rows: Int, _ h: Int) -> Tensor {
            let t = backend.allocate(rows: rows, cols: L)
            let g = InputGenerator(seed: config.seed, stream: stream, dimension: L)
            var all = [Double](repeating: 0, count: rows * L)
            if let wkvB = replay?.constants["wkv_b"] {
                // DeepSeek's wkv_b.weight viewed as [H, N+V, L]: W_UK first, then W_UV.
                let first = h * (N + V) + (stream == "w_uk" ? 0 : N)
                all.withUnsafeMutableBufferPointer { wkvB.fill($0, from: first * L) }
                backend.load(t, all)
                return t
            }
            for i in 0..<rows {
                w.withUnsafeMutableBufferPointer { g.fill($0, head: h, position: i) }
                for j in 0..<L { all[i * L + j] = Double(Float(w[j] * r)) }
            }
            backend.load(t, all)
            return t
        }
        wUK = (0..<H).map { weights("w_uk", N, $0) }
        wUV = (0..<H).map { weights("w_uv", V, $0) }
        qNope = backend.allocate(N)
        query = (0..<H).map { _ in backend.allocate(L + R) }
        key = backend.allocate(L + R)
        keyLatent = Tensor(offset: key.offset, rows: 1, cols: L)
        keyRope = Tensor(offset: key.offset + L, rows: 1, cols: R)
        score = backend.allocate(1)
        scaleT = backend.scalar(config.scale)
        latentOut = backend.allocate(L)
        softmax = (0..<H).map { _ in OnlineSoftmax(backend: backend, valueCount: L) }
        output = backend.allocate(rows: H, cols: V)
        row = [Double](repeating: 0, count: L)
        ropeRow = [Double](repeating: 0, count: max(R, 1))
        qRow = [Double](repeating: 0, count: max(N, R))
    }

    public var tier: BackendTier { backend.tier }
    public var sinkLogit: Double? { nil }
    public var outputCount: Int { config.heads * config.valueDim }
    public var stateCount: Int { 0 }

    /// cache_rel_err over the quantized latent and RoPE entries.
    public var cacheRelativeError: Double {
        let cs = [latentCache, ropeCache].compactMap { $0 }
        let e = cs.reduce(0) { $0 + $1.errorSquares }, n = cs.reduce(0) { $0 + $1.normSquares }
        return n > 0 ? (e / n).squareRoot() : 0
    }

    public var storedNonFinite: NonFiniteCount {
        [latentCache, ropeCache].compactMap { $0 }.reduce(selector.storedNonFinite) { $0.merged($1.nonFinite) }
    }

    /// The exact latent of token s (RMSNorm, binary32).
    func exactLatent(_ s: Int) {
        let L = config.latentDim
        row.withUnsafeMutableBufferPointer {
            latentGen.fill($0, head: 0, position: s)
            if latentGen.replay == nil { rmsNormalize($0, count: L) }
            roundToFloat32($0, count: L)
        }
    }

    /// The exact RoPE key of token s (binary32).
    func exactRope(_ s: Int) {
        let R = config.ropeDim
        ropeRow.withUnsafeMutableBufferPointer {
            ropeGen.fill($0, head: 0, position: s)
            if config.rope && ropeGen.replay == nil { rotary.apply($0, position: s) }
            roundToFloat32($0, count: R)
        }
    }

    public func step() {
        position += 1
        let t = position
        append(t)
        selector.didAppend(position: t)
        if config.evaluation.contains(t) { evaluate(t) }
    }

    /// Appends token t's latent and RoPE key to the caches (each entry rounded once).
    func append(_ t: Int) {
        if latentCache != nil {
            exactLatent(t)
            row.withUnsafeBufferPointer { latentCache!.append($0) }
        }
        if ropeCache != nil {
            exactRope(t)
            ropeRow.withUnsafeBufferPointer { ropeCache!.append(UnsafeBufferPointer(rebasing: $0[0..<config.ropeDim])) }
        }
    }

    /// Loads the cached key of token s as the kernel reads it into `key` (latent ‖ rope).
    func loadKey(_ s: Int) {
        let b = backend, R = config.ropeDim
        if let c = latentCache {
            row.withUnsafeMutableBufferPointer { c.read(row: s, into: $0) }
        } else {
            exactLatent(s)
        }
        b.load(keyLatent, row)
        guard R > 0 else { return }
        if let c = ropeCache {
            ropeRow.withUnsafeMutableBufferPointer { c.read(row: s, into: $0) }
        } else {
            exactRope(s)
        }
        ropeRow.withUnsafeBufferPointer { b.load(keyRope, UnsafeBufferPointer(rebasing: $0[0..<R])) }
    }

    /// Loads head h's RoPE query at position t (rotated when generated; binary32) into `qPe`.
    func loadQueryRope(head h: Int, position t: Int, into qPe: Tensor, row: inout [Double]) {
        let R = config.ropeDim
        row.withUnsafeMutableBufferPointer {
            qPeGen.fill($0, head: h, position: t)
            if config.rope && qPeGen.replay == nil { rotary.apply($0, position: t) }
            roundToFloat32($0, count: R)
        }
        row.withUnsafeBufferPointer { backend.load(qPe, UnsafeBufferPointer(rebasing: $0[0..<R])) }
    }

    public func evaluate(_ t: Int) {
        let b = backend, L = config.latentDim, R = config.ropeDim, N = config.nopeDim
        for h in 0..<config.heads {
            qRow.withUnsafeMutableBufferPointer { qNopeGen.fill($0, head: h, position: t) }
            qRow.withUnsafeBufferPointer { b.load(qNope, UnsafeBufferPointer(rebasing: $0[0..<N])) }
            stores[h].store(.q, qNope, on: b, step: t)
            let qLat = Tensor(offset: query[h].offset, rows: 1, cols: L)
            b.matTvec(qLat, wUK[h], qNope)
            if R > 0 {
                let qPe = Tensor(offset: query[h].offset + L, rows: 1, cols: R)
                loadQueryRope(head: h, position: t, into: qPe, row: &qRow)
                stores[h].store(.q, qPe, on: b, step: t)
            }
            b.multiply(query[h], query[h], scaleT)
            softmax[h].reset()
        }
        selector.select(position: t, kvHead: 0, into: &selected)
        lastSelection = selected
        lastScores.removeAll(keepingCapacity: true)
        for s in selected {
            loadKey(s)
            for h in 0..<config.heads {
                b.dot(score, query[h], key)
                if recordScores && h == 0 {
                    scoreBuffer.withUnsafeMutableBufferPointer { b.read(score, into: $0) }
                    lastScores.append(scoreBuffer[0])
                }
                softmax[h].add(score: score, value: keyLatent)
            }
        }
        for h in 0..<config.heads {
            softmax[h].finish(into: latentOut)
            let o = output.row(h)
            b.matvec(o, wUV[h], latentOut)
            stores[h].store(.output, o, on: b, step: t)
        }
    }

    public func exportOutput(into out: MPFRArray) { backend.export(output, into: out, at: 0) }
    public func exportState(into out: MPFRArray) {}
    public func readOutput(into out: UnsafeMutableBufferPointer<Double>) { backend.read(output, into: out) }
    public func readState(into out: UnsafeMutableBufferPointer<Double>) {}
}
