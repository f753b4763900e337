import ExactArithmetic
import Workloads

/// One head of a delta-rule variant decoding token by token on backend `B` (the recurrent
/// form), in the order of FLA's fused_recurrent kernels:
///
///     S' = α S (GDN) | Diag(α) S (KDA) | S (DeltaNet)
///     u  = β (v − S'ᵀ k)
///     S  = S' + k uᵀ
///     o  = Sᵀ (scale · q)          from the in-register state (or the stored one)
///     store state, store output
public final class DeltaRuleDecode<B: Backend>: SteppedRun {
    public let config: DeltaRuleConfig
    public let backend: B
    public let stores: StorePoints
    public internal(set) var position = -1

    /// K×V state, row i = key channel i.
    public let state: Tensor
    public let output: Tensor
    /// Inputs of the current token: scale·q̂, k̂, v, α (1 or K values, nil for DeltaNet), β.
    public let q: Tensor, k: Tensor, v: Tensor, alpha: Tensor?, beta: Tensor
    let kS: Tensor, u: Tensor
    let loader: DeltaTokenLoader<B>

    public init(config: DeltaRuleConfig, backend: B, recipe: Recipe = .exact) throws {
        try config.validate()
        self.config = config
        self.backend = backend
        stores = StorePoints(recipe: recipe, seed: config.seed, head: config.head)
        let K = config.keyDim, V = config.valueDim
        state = backend.allocate(rows: K, cols: V)
        output = backend.allocate(V)
        q = backend.allocate(K); k = backend.allocate(K); v = backend.allocate(V)
        alpha = config.gateWidth > 0 ? backend.allocate(config.gateWidth) : nil
        beta = backend.allocate(1)
        kS = backend.allocate(V); u = backend.allocate(V)
        loader = DeltaTokenLoader(config: config, backend: backend, stores: stores)
        if let s0 = config.replay?.initialState(head: config.head, count: K * V) { backend.load(state, s0) }
    }

    public var tier: BackendTier { backend.tier }
    public var outputCount: Int { config.valueDim }
    public var stateCount: Int { config.keyDim * config.valueDim }

    /// Generates and prepares the inputs of position t (q, k, v, gates, β and their stores).
    public func loadInputs(_ t: Int) {
        loader.load(t, q: q, k: k, v: v, g: alpha, beta: beta, asDecay: true)
    }

    public func step() {
        position += 1
        loadInputs(position)
        advance()
    }

    /// One step on caller-given inputs instead of generated ones (procedural tasks: MQAR,
    /// counter): `q` is used as given (no scale, no L2 normalisation), `alpha` (one value, or K
    /// for KDA) only when the kind has a gate. The input store points do not apply — a task's
    /// inputs are exact codes; the state and output stores do.
    public func step(q qIn: [Double], k kIn: [Double], v vIn: [Double], beta betaIn: Double, alpha alphaIn: [Double]? = nil) {
        precondition(qIn.count == config.keyDim && kIn.count == config.keyDim && vIn.count == config.valueDim)
        position += 1
        let b = backend
        b.load(q, qIn); b.load(k, kIn); b.load(v, vIn); b.load(beta, [betaIn])
        if let alpha {
            precondition(alphaIn?.count == config.gateWidth, "a gated kind needs \(config.gateWidth) decay values")
            b.load(alpha, alphaIn!)
        }
        advance()
    }

    /// The kernel part of a step on the inputs already loaded.
    public func advance() {
        let t = position, b = backend
        if let alpha {
            if config.kind.perChannelGate { b.scaleRows(state, by: alpha) } else { b.scale(state, by: alpha) }
        }
        b.matTvec(kS, state, k)
        b.subtract(u, v, kS)
        b.multiply(u, u, beta)
        b.rank1(state, k, u)
        if config.outputFrom == .stored { stores.store(.state, state, on: b, step: t) }
        b.matTvec(output, state, q)
        if config.outputFrom == .registers { stores.store(.state, state, on: b, step: t) }
        stores.store(.output, output, on: b, step: t)
    }

    public func exportOutput(into out: MPFRArray) { backend.export(output, into: out, at: 0) }
    public func exportState(into out: MPFRArray) { backend.export(state, into: out, at: 0) }
    public func readOutput(into out: UnsafeMutableBufferPointer<Double>) { backend.read(output, into: out) }
    public func readState(into out: UnsafeMutableBufferPointer<Double>) { backend.read(state, into: out) }
}
