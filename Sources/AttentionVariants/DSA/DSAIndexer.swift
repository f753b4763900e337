import ExactArithmetic
import NumberFormats
import Workloads

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

    public var storedNonFinite: NonFiniteCount { cache?.nonFinite ?? NonFiniteCount() }

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
