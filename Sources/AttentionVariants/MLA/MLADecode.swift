import ExactArithmetic
import Foundation
import NumberFormats
import Workloads

/// Multi-head latent attention, DeepSeek-V3's absorbed decode form (DESIGN.md §4).
///
/// Per token s the cache holds c_s (kv_lora_rank = 512, after RMSNorm; role `latent`) and
/// k_pe_s (64, after RoPE; role `rope_cache`), shared by all heads. Per head h at query
/// position t: q_lat = W_UK,hᵀ q_nope (matTvec, 128 → 512), q̃ = scale·[q_lat; q_pe] (576-d,
/// scale = (128+64)^(−1/2)·mscale²), score_s = q̃·[c_s; k_pe_s] as one fma chain, an online
/// softmax over the selected s with the latent as the value (acc ∈ R^512), and
/// o_h = W_UV,h (acc / l) (matvec, 512 → 128; store point `output`).
///
/// W_UK and W_UV are random but fixed (Gaussian / √fan-in from counter streams "w_uk", "w_uv"),
/// of the published per-head shapes; fewer heads than the model are allowed (the per-head math
/// is the same). Latent, RoPE keys, q_nope and q_pe are generated inputs (RMSNorm and RoPE in
/// binary64, rounded to binary32). `rope: false` is Kimi Linear's NoPE MLA (the 64 rope
/// channels without rotation).
public struct MLAConfig: Hashable, Sendable {
    public var heads: Int
    public var latentDim: Int
    public var ropeDim: Int
    public var nopeDim: Int
    public var valueDim: Int
    public var rope: Bool
    public var ropeBase: Double
    /// YaRN attention factor: scale = (nope + rope)^(−1/2)·mscale².
    public var mscale: Double
    public var seed: UInt64
    public var distribution: InputDistribution
    public var evaluation: EvaluationSchedule
    /// Replayed inputs, as the absorbed kernel receives them: streams `kv_cache` (the latent
    /// after kv_norm), `pe_cache` (k_pe after RoPE), `q_nope`, `q_pe` (after RoPE) — read as
    /// given, no RMSNorm or RoPE applied — and the constant `wkv_b` [H·(N+V), L] (DeepSeek's
    /// `wkv_b.weight`; W_UK,h = rows h·(N+V)..<h·(N+V)+N, W_UV,h the next V rows).
    public var replay: ReplayInputs?

    public init(
        heads: Int = 1, latentDim: Int = 512, ropeDim: Int = 64, nopeDim: Int = 128, valueDim: Int = 128,
        rope: Bool = true, ropeBase: Double = 10000, mscale: Double = MLAConfig.deepSeekV3MScale, seed: UInt64 = 0,
        distribution: InputDistribution = .gaussian, evaluation: EvaluationSchedule = .certification
    ) {
        self.heads = heads
        self.latentDim = latentDim
        self.ropeDim = ropeDim
        self.nopeDim = nopeDim
        self.valueDim = valueDim
        self.rope = rope
        self.ropeBase = ropeBase
        self.mscale = mscale
        self.seed = seed
        self.distribution = distribution
        self.evaluation = evaluation
    }

    /// DeepSeek-V3: YaRN factor 40, mscale_all_dim 1 → 0.1·ln 40 + 1.
    public static let deepSeekV3MScale = 0.1 * Foundation.log(40.0) + 1

    public static let roles: [Role] = [.q, .latent, .ropeCache, .output]

    /// The FlashMLA fp8 KV-cache layout: 512 e4m3 values with 4 fp32 scales (one per 128) and
    /// 64 bf16 RoPE values — 656 bytes per token.
    public static let flashMLAFP8 = "latent=float8_e4m3fn/block:128,rope_cache=bfloat16"

    public var scale: Double { mscale * mscale / Double(nopeDim + ropeDim).squareRoot() }

    public func validate() throws {
        guard heads >= 1 else { throw VariantError("heads: expected ≥ 1, got \(heads)") }
        guard (1...65536).contains(latentDim) else { throw VariantError("latent_dim: expected 1...65536, got \(latentDim)") }
        guard ropeDim >= 0 && ropeDim % 2 == 0 else { throw VariantError("rope_dim: expected an even number ≥ 0, got \(ropeDim)") }
        guard nopeDim >= 1 else { throw VariantError("nope_dim: expected ≥ 1, got \(nopeDim)") }
        guard valueDim >= 1 else { throw VariantError("value_dim: expected ≥ 1, got \(valueDim)") }
        guard mscale.isFinite && mscale > 0 else { throw VariantError("mscale: expected a positive number") }
    }

    /// Cache bytes per token under `recipe` (compute precision: 4-byte floats).
    public func cacheBytesPerToken(recipe: Recipe) -> Double {
        func bytes(_ role: Role, _ width: Int) -> Double {
            guard let f = recipe[role] as? FormatSpec else { return 4 * Double(width) }
            let rows: Int
            if case .group(let n)? = f.granularity { rows = n } else { rows = 1 }
            return f.bitsPerElement(shape: [rows, width]) * Double(width) / 8
        }
        return bytes(.latent, latentDim) + bytes(.ropeCache, ropeDim)
    }
}

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
        if latentCache != nil {
            exactLatent(t)
            row.withUnsafeBufferPointer { latentCache!.append($0) }
        }
        if ropeCache != nil {
            exactRope(t)
            ropeRow.withUnsafeBufferPointer { ropeCache!.append(UnsafeBufferPointer(rebasing: $0[0..<config.ropeDim])) }
        }
        selector.didAppend(position: t)
        if config.evaluation.contains(t) { evaluate(t) }
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
                qRow.withUnsafeMutableBufferPointer {
                    qPeGen.fill($0, head: h, position: t)
                    if config.rope && qPeGen.replay == nil { rotary.apply($0, position: t) }
                    roundToFloat32($0, count: R)
                }
                qRow.withUnsafeBufferPointer { b.load(qPe, UnsafeBufferPointer(rebasing: $0[0..<R])) }
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
