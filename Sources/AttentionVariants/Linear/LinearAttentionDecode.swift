import ExactArithmetic
import Workloads

/// One head of linear attention decoding on backend `B`.
public final class LinearAttentionDecode<B: Backend>: SteppedRun {
    public let config: LinearAttentionConfig
    public let backend: B
    public let stores: StorePoints
    public internal(set) var position = -1

    /// K×V state, row i = key channel i.
    public let state: Tensor
    public let output: Tensor
    let q: Tensor, k: Tensor, v: Tensor, qScaled: Tensor
    let scale: Tensor, one: Tensor
    let decay: Tensor?
    let z: Tensor?, denominator: Tensor?
    let qGen: InputGenerator, kGen: InputGenerator, vGen: InputGenerator
    var rowK: [Double], rowV: [Double], rowQ: [Double]

    public init(config: LinearAttentionConfig, backend: B, recipe: Recipe = .exact) {
        precondition(config.keyDim > 0 && config.valueDim > 0)
        self.config = config
        self.backend = backend
        stores = StorePoints(recipe: recipe, seed: config.seed, head: config.head)
        let K = config.keyDim, V = config.valueDim
        state = backend.allocate(rows: K, cols: V)
        output = backend.allocate(V)
        q = backend.allocate(K); k = backend.allocate(K); v = backend.allocate(V)
        qScaled = backend.allocate(K)
        one = backend.scalar(1)
        if let s = config.scale {
            scale = backend.scalar(s)
        } else {
            scale = backend.scalar(Double(K))
            backend.apply(.rsqrt, scale, scale)
        }
        if let a = config.gates.constantDecay(head: config.head), a != 1 {
            decay = backend.scalar(a)
        } else {
            precondition(config.gates.rawParameters(seed: config.seed, head: config.head) == nil,
                         "linear attention takes constant decays only (use GLA/Mamba2 for data-dependent gates)")
            decay = nil
        }
        if config.normalizer {
            z = backend.allocate(K)
            denominator = backend.allocate(1)
        } else {
            z = nil
            denominator = nil
        }
        qGen = InputGenerator(seed: config.seed, stream: "q", dimension: K, distribution: config.distribution).replaying(config.replay?["q"])
        kGen = InputGenerator(seed: config.seed, stream: "k", dimension: K, distribution: config.distribution).replaying(config.replay?["k"])
        vGen = InputGenerator(seed: config.seed, stream: "v", dimension: V, distribution: config.distribution).replaying(config.replay?["v"])
        rowK = [Double](repeating: 0, count: K)
        rowV = [Double](repeating: 0, count: V)
        rowQ = [Double](repeating: 0, count: K)
        if let s0 = config.replay?.initialState(head: config.head, count: K * V) { backend.load(state, s0) }
    }

    public var tier: BackendTier { backend.tier }
    public var outputCount: Int { config.valueDim }
    public var stateCount: Int { config.keyDim * config.valueDim }

    /// Loads the inputs of position t and applies the input store points and feature map.
    public func loadInputs(_ t: Int) {
        let h = config.head, b = backend
        rowQ.withUnsafeMutableBufferPointer { qGen.fill($0, head: h, position: t) }
        if config.orthonormalKeys {
            let K = config.keyDim
            precondition(K & (K - 1) == 0, "orthonormal keys need a power-of-two key dimension")
            let r = 1 / Double(K).squareRoot(), row = t % K
            for j in 0..<K { rowK[j] = (row & j).nonzeroBitCount % 2 == 0 ? r : -r }
        } else {
            rowK.withUnsafeMutableBufferPointer { kGen.fill($0, head: h, position: t) }
        }
        rowV.withUnsafeMutableBufferPointer { vGen.fill($0, head: h, position: t) }
        b.load(q, rowQ); b.load(k, rowK); b.load(v, rowV)
        stores.store(.q, q, on: b, step: t)
        stores.store(.k, k, on: b, step: t)
        stores.store(.v, v, on: b, step: t)
        mapAndScaleQK()
    }

    /// One step on caller-given inputs instead of generated ones (procedural tasks: MQAR,
    /// counter). The feature map and scale apply; the input store points do not (a task's
    /// inputs are exact codes); the state and output stores do.
    public func step(q qIn: [Double], k kIn: [Double], v vIn: [Double]) {
        precondition(qIn.count == config.keyDim && kIn.count == config.keyDim && vIn.count == config.valueDim)
        position += 1
        backend.load(q, qIn); backend.load(k, kIn); backend.load(v, vIn)
        mapAndScaleQK()
        advance()
    }

    func mapAndScaleQK() {
        let b = backend
        if config.featureMap == .eluPlusOne {
            b.apply(.elu, q, q); b.add(q, q, one)
            b.apply(.elu, k, k); b.add(k, k, one)
        }
        b.multiply(qScaled, q, scale)
    }

    /// One decode step, in the reference order: decay, rank-1 update, read-out, normaliser,
    /// state store, output store.
    public func step() {
        position += 1
        loadInputs(position)
        advance()
    }

    /// The kernel part of a step on the inputs already loaded (benchmarks call it directly).
    public func advance() {
        let t = position, b = backend
        if config.outputFrom == .registers && config.fused {
            b.decayRank1MatTvec(state, decay: decay, k, v, qScaled, output)
        } else {
            if let decay { b.scale(state, by: decay) }
            b.rank1(state, k, v)
            if config.outputFrom == .stored { stores.store(.state, state, on: b, step: t) }
            b.matTvec(output, state, qScaled)
        }
        if let z, let denominator {
            if let decay { b.scale(z, by: decay) }
            b.add(z, z, k)
            b.dot(denominator, z, qScaled)
            b.divide(output, output, denominator)
        }
        if config.outputFrom == .registers { stores.store(.state, state, on: b, step: t) }
        stores.store(.output, output, on: b, step: t)
    }

    public func exportOutput(into out: MPFRArray) { backend.export(output, into: out, at: 0) }
    public func exportState(into out: MPFRArray) { backend.export(state, into: out, at: 0) }
    public func readOutput(into out: UnsafeMutableBufferPointer<Double>) { backend.read(output, into: out) }
    public func readState(into out: UnsafeMutableBufferPointer<Double>) { backend.read(state, into: out) }
}
