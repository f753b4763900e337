import ExactArithmetic
import NumberFormats
import Workloads

/// DeepSeek-V3.2 sparse attention (DSA): a lightning indexer picks the top-k cached tokens for
/// each query, then MLA attends over them (DESIGN.md §4).
///
/// Indexer (per query position t, `indexHeads` heads of `indexDim` = 128 channels): q_{t,j}
/// and k_s get RoPE on their first `ropeDim` = 64 channels and a Hadamard rotation
/// (`rotate_activation`, H/√128); I_{t,s} = Σ_j w_{t,j} ReLU(q_{t,j}·k_s), top-k over s ≤ t with
/// ties toward the lower index; the selected positions are attended in ascending order.
///
/// The exact indexer is evaluated in binary64 on every tier (so MPFR and Float64 runs select
/// the same keys and certification measures the attention). With role `indexer` (V3.2:
/// `float8_e4m3fn/block:128/pow2`) the rotated k_s are cached as codes and scales when
/// appended, each q_{t,j} is quantized the same way, and I is computed from the dequantized
/// values in binary32 (fma chains, fp32 accumulation as the fp8 kernel). The selected-set
/// overlap between the exact and the quantized indexer is recorded at every evaluated position:
/// selection flips are this variant's failure mode.
public struct DSAConfig: Hashable, Sendable {
    public var mla: MLAConfig
    public var indexHeads: Int
    public var indexDim: Int
    public var indexRopeDim: Int
    public var topK: Int

    public init(mla: MLAConfig = MLAConfig(), indexHeads: Int = 4, indexDim: Int = 128, indexRopeDim: Int = 64, topK: Int = 2048) {
        self.mla = mla
        self.indexHeads = indexHeads
        self.indexDim = indexDim
        self.indexRopeDim = indexRopeDim
        self.topK = topK
    }

    public static let roles: [Role] = MLAConfig.roles + [.indexer]
    /// DeepSeek-V3.2's cache: FlashMLA fp8 latent + RoPE, and the fp8 indexer keys.
    public static let deepSeekV32FP8 = MLAConfig.flashMLAFP8 + ",indexer=float8_e4m3fn/block:128/pow2"

    public func validate() throws {
        try mla.validate()
        guard topK >= 1 else { throw VariantError("top_k: expected ≥ 1, got \(topK)") }
        guard indexHeads >= 1 else { throw VariantError("index_heads: expected ≥ 1, got \(indexHeads)") }
        guard indexDim >= 2 && indexDim & (indexDim - 1) == 0 else {
            throw VariantError("index_dim: expected a power of two (Hadamard rotation), got \(indexDim)")
        }
        guard indexRopeDim >= 0 && indexRopeDim % 2 == 0 && indexRopeDim <= indexDim else {
            throw VariantError("index_rope_dim: expected an even number ≤ index_dim, got \(indexRopeDim)")
        }
    }

    public func cacheBytesPerToken(recipe: Recipe) -> Double {
        var idx = 4 * Double(indexDim)
        if let f = recipe[.indexer] as? FormatSpec { idx = f.bitsPerElement(shape: [1, indexDim]) * Double(indexDim) / 8 }
        return mla.cacheBytesPerToken(recipe: recipe) + idx
    }
}

/// The lightning indexer as a key selector.
public final class DSAIndexer: KeySelector {
    public let config: DSAConfig
    let spec: FormatSpec?
    var cache: QuantizedRows?
    let qGen: InputGenerator, kGen: InputGenerator, wGen: InputGenerator
    let rotary: RotaryEmbedding
    var q: [Double], k: [Double], w: [Double], qHat: [Float], qIn: [Float], kHat: [Double]
    var exactScores: [Double] = [], quantScores: [Double] = [], order: [Int] = []
    var exactSet: [Int] = []
    /// |exact ∩ quantized| / |exact| at each evaluated position (with a quantized indexer).
    public private(set) var overlaps: [Double] = []
    public private(set) var overlapPositions: [Int] = []

    public init(config: DSAConfig, recipe: Recipe) throws {
        try config.validate()
        self.config = config
        let D = config.indexDim, Hi = config.indexHeads, seed = config.mla.seed
        if let r = recipe[.indexer] {
            guard let f = r as? FormatSpec else { throw VariantError("recipe: role 'indexer' needs a format spec") }
            spec = f
            do { cache = try QuantizedRows(spec: f, role: "indexer", width: D, seed: seed, head: 0) } catch let e as QuantizedRows.UnsupportedGranularity {
                throw VariantError("recipe: \(e.description)")
            }
        } else {
            spec = nil
        }
        let dist = config.mla.distribution
        // Replayed: q and k after RoPE and the Hadamard rotation (what the fp8 quantizer sees),
        // weights as weights_proj outputs them (the (Hi·D)^(−1/2) factor is applied here).
        let replay = config.mla.replay
        qGen = InputGenerator(seed: seed, stream: "index_q", dimension: D, distribution: dist, float32Representable: false).replaying(replay?["indexer_q"])
        kGen = InputGenerator(seed: seed, stream: "index_k", dimension: D, distribution: dist, float32Representable: false).replaying(replay?["indexer_k"])
        wGen = InputGenerator(seed: seed, stream: "index_w", dimension: Hi, distribution: dist).replaying(replay?["indexer_weights"])
        rotary = RotaryEmbedding(dimension: max(config.indexRopeDim, 2))
        q = [Double](repeating: 0, count: Hi * D)
        k = [Double](repeating: 0, count: D)
        w = [Double](repeating: 0, count: Hi)
        qHat = [Float](repeating: 0, count: Hi * D)
        qIn = qHat
        kHat = k
    }

    /// The rotated indexer key of token s (RoPE on the first channels, Hadamard, binary32).
    func exactKey(_ s: Int) {
        let D = config.indexDim
        k.withUnsafeMutableBufferPointer {
            kGen.fill($0, head: 0, position: s)
            if kGen.replay == nil {
                if config.indexRopeDim > 0 { rotary.apply($0, position: s) }
                hadamardRotate($0, count: D)
            }
            roundToFloat32($0, count: D)
        }
    }

    public func didAppend(position t: Int) {
        guard cache != nil else { return }
        exactKey(t)
        k.withUnsafeBufferPointer { cache!.append($0) }
    }

    /// Loads the rotated queries and the head weights of position t.
    func loadQueries(_ t: Int) {
        let D = config.indexDim, Hi = config.indexHeads
        q.withUnsafeMutableBufferPointer { all in
            for j in 0..<Hi {
                let row = UnsafeMutableBufferPointer(rebasing: all[j * D..<(j + 1) * D])
                qGen.fill(row, head: j, position: t)
                if qGen.replay == nil {
                    if config.indexRopeDim > 0 { rotary.apply(row, position: t) }
                    hadamardRotate(row, count: D)
                }
                roundToFloat32(row, count: D)
            }
        }
        // w_{t,j} = N(0,1)·(H·D)^(−1/2) (V3.2 folds n_heads^(−1/2) and the softmax scale in).
        let r = 1 / (Double(Hi) * Double(D)).squareRoot()
        w.withUnsafeMutableBufferPointer { wGen.fill($0, head: 0, position: t) }
        for j in 0..<Hi { w[j] = Double(Float(w[j] * r)) }
    }

    /// Exact scores I_{t,s}, s ≤ t, in binary64 (fma chains in ascending channel order).
    func computeExact(_ t: Int) {
        let D = config.indexDim, Hi = config.indexHeads
        exactScores.removeAll(keepingCapacity: true)
        for s in 0...t {
            exactKey(s)
            var total = 0.0
            for j in 0..<Hi {
                var dot = 0.0
                for c in 0..<D { dot = dot.addingProduct(q[j * D + c], k[c]) }
                total = total.addingProduct(w[j], max(dot, 0))
            }
            exactScores.append(total)
        }
    }

    /// Quantized scores from the cached codes, binary32 arithmetic.
    func computeQuantized(_ t: Int) {
        guard let spec, let cache else { return }
        let D = config.indexDim, Hi = config.indexHeads
        for i in 0..<Hi * D { qIn[i] = Float(q[i]) }
        qIn.withUnsafeBufferPointer { inp in
            qHat.withUnsafeMutableBufferPointer { out in
                for j in 0..<Hi {
                    _ = spec.quantize(UnsafeBufferPointer(rebasing: inp[j * D..<(j + 1) * D]), shape: [1, D],
                                      into: UnsafeMutableBufferPointer(rebasing: out[j * D..<(j + 1) * D]),
                                      random: CounterRandom(seed: config.mla.seed, role: "indexer_q", head: j, step: t))
                }
            }
        }
        quantScores.removeAll(keepingCapacity: true)
        for s in 0...t {
            kHat.withUnsafeMutableBufferPointer { cache.read(row: s, into: $0) }
            var total: Float = 0
            for j in 0..<Hi {
                var dot: Float = 0
                for c in 0..<D { dot = dot.addingProduct(qHat[j * D + c], Float(kHat[c])) }
                total = total.addingProduct(Float(w[j]), max(dot, 0))
            }
            quantScores.append(Double(total))
        }
    }

    /// The top-k positions of `scores` (ties toward the lower index), ascending.
    public static func topK(_ scores: [Double], k: Int, into out: inout [Int], order: inout [Int]) {
        out.removeAll(keepingCapacity: true)
        if k >= scores.count {
            out.append(contentsOf: scores.indices)
            return
        }
        order.removeAll(keepingCapacity: true)
        order.append(contentsOf: scores.indices)
        order.sort { scores[$0] > scores[$1] || (scores[$0] == scores[$1] && $0 < $1) }
        out.append(contentsOf: order[0..<k])
        out.sort()
    }

    public func select(position t: Int, kvHead: Int, into keys: inout [Int]) {
        if t + 1 <= config.topK {
            keys.removeAll(keepingCapacity: true)
            keys.append(contentsOf: 0...t)
            if cache != nil {
                overlaps.append(1)
                overlapPositions.append(t)
            }
            return
        }
        loadQueries(t)
        computeExact(t)
        Self.topK(exactScores, k: config.topK, into: &exactSet, order: &order)
        guard cache != nil else {
            keys = exactSet
            return
        }
        computeQuantized(t)
        Self.topK(quantScores, k: config.topK, into: &keys, order: &order)
        overlaps.append(Double(Set(keys).intersection(exactSet).count) / Double(exactSet.count))
        overlapPositions.append(t)
    }
}

/// DSA = MLA attention over the indexer's selection.
public enum DSA {
    public static func makeRun<B: Backend>(config: DSAConfig, backend: B, recipe: Recipe = .exact) throws -> (MLADecode<B>, DSAIndexer) {
        try config.validate()
        let indexer = try DSAIndexer(config: config, recipe: recipe)
        let run = try MLADecode(config: config.mla, backend: backend, recipe: recipe, selector: indexer, extraRoles: [.indexer])
        return (run, indexer)
    }
}
