import ExactArithmetic
import Workloads

public final class RWKV7Decode<B: Backend>: SteppedRun {
    public let config: RWKV7Config
    public let backend: B
    public let stores: StorePoints
    public internal(set) var position = -1
    public let state: Tensor
    public let output: Tensor
    /// w_t of the last step (1×N).
    public let decay: Tensor
    let r: Tensor, k: Tensor, v: Tensor, wRaw: Tensor, aRaw: Tensor
    let kappa: Tensor, b: Tensor, sa: Tensor
    let prep: RWKV7TokenPrep
    let gens: RWKV7Inputs
    var rows: [[Double]]
    /// Replayed r, w, k, v, a, b (FLA's names), when given.
    let given: [TensorRows]?

    public init(config: RWKV7Config, backend: B, recipe: Recipe = .exact) throws {
        try config.validate()
        self.config = config
        self.backend = backend
        stores = StorePoints(recipe: recipe, seed: config.seed, head: config.head)
        let N = config.headDim, be = backend
        state = be.allocate(rows: N, cols: N)
        output = be.allocate(N)
        decay = be.allocate(N)
        r = be.allocate(N); k = be.allocate(N); v = be.allocate(N)
        wRaw = be.allocate(N); aRaw = be.allocate(N)
        kappa = be.allocate(N); b = be.allocate(N); sa = be.allocate(N)
        prep = RWKV7TokenPrep(config, backend: be)
        gens = RWKV7Inputs(config)
        rows = Array(repeating: [Double](repeating: 0, count: N), count: 6)
        given = try config.replay.map { rp in
            try ["q", "w", "k", "v", "a", "b"].map {
                guard let g = rp[$0], g.width == N else { throw VariantError("rwkv7: replay needs \($0) with rows of \(N)") }
                return g
            }
        }
    }

    public var tier: BackendTier { backend.tier }
    public var outputCount: Int { config.headDim }
    public var stateCount: Int { config.headDim * config.headDim }

    public func step() {
        if given != nil { return stepGiven() }
        position += 1
        let t = position, h = config.head
        for s in 0..<5 { rows[s].withUnsafeMutableBufferPointer { gens.fill(s, $0, head: h, position: t) } }
        advance()
    }

    /// One step on given rows (replay): r, k, v, raw w, raw a. Throws on wrong lengths or a
    /// non-finite raw gate; NaN in r/k/v propagates to the outputs.
    public func step(r rr: [Double], k kr: [Double], v vr: [Double], wRaw w: [Double], aRaw ar: [Double]) throws {
        let N = config.headDim
        guard [rr, kr, vr, w, ar].allSatisfy({ $0.count == N }) else { throw VariantError("rwkv7: inputs: every row must have \(N) elements") }
        if let i = (w + ar).firstIndex(where: { !$0.isFinite }) { throw VariantError("rwkv7: inputs: raw gate element \(i) is not finite at position \(position + 1)") }
        position += 1
        rows = [rr, kr, vr, w, ar]
        advance()
    }

    /// One step on FLA's replayed r, w, k, v, a, b: stores of r, k, v and the decay (as for
    /// generated inputs); a and b read as given.
    func stepGiven() {
        position += 1
        let t = position, be = backend
        for (i, g) in given!.enumerated() { rows[i].withUnsafeMutableBufferPointer { g.fill($0, head: config.head, position: t) } }
        be.load(r, rows[0]); be.load(decay, rows[1]); be.load(k, rows[2]); be.load(v, rows[3]); be.load(kappa, rows[4]); be.load(b, rows[5])
        stores.store(.q, r, on: be, step: t)
        stores.store(.k, k, on: be, step: t)
        stores.store(.v, v, on: be, step: t)
        if config.decayLog { stores.store(.decay, decay, on: be, step: t) }
        be.apply(.exp, decay, decay)
        if !config.decayLog { stores.store(.decay, decay, on: be, step: t) }
        update(t)
    }

    func advance() {
        let t = position, be = backend
        be.load(r, rows[0]); be.load(k, rows[1]); be.load(v, rows[2]); be.load(wRaw, rows[3]); be.load(aRaw, rows[4])
        prep.prepare(be, r: r, k: k, v: v, wRaw: wRaw, aRaw: aRaw, decay: decay, kappa: kappa, b: b, wantLog: false, stores: stores, step: t)
        update(t)
    }

    /// The state update and read-out from r, k, v, decay, kappa (−κ̂ or FLA's a) and b.
    func update(_ t: Int) {
        let be = backend
        // sa = Sᵀ(−κ̂), then S ← Diag(w) S + b saᵀ + k' vᵀ.
        be.matTvec(sa, state, kappa)
        be.scaleRows(state, by: decay)
        be.rank1(state, b, sa)
        be.rank1(state, k, v)
        if config.outputFrom == .stored { stores.store(.state, state, on: be, step: t) }
        be.matTvec(output, state, r)
        if config.outputFrom == .registers { stores.store(.state, state, on: be, step: t) }
        stores.store(.output, output, on: be, step: t)
    }

    public func exportOutput(into out: MPFRArray) { backend.export(output, into: out, at: 0) }
    public func exportState(into out: MPFRArray) { backend.export(state, into: out, at: 0) }
    public func readOutput(into out: UnsafeMutableBufferPointer<Double>) { backend.read(output, into: out) }
    public func readState(into out: UnsafeMutableBufferPointer<Double>) { backend.read(state, into: out) }
}

/// The counter-based input streams of RWKV-7: r (stream "q"), k, v, raw w (bias + N(0,1),
/// stream "gate"), raw a (stream "a").
struct RWKV7Inputs {
    let gens: [InputGenerator]
    let bias: [Double]

    init(_ config: RWKV7Config) {
        let N = config.headDim
        gens = ["q", "k", "v", "gate", "a"].map {
            InputGenerator(seed: config.seed, stream: $0, dimension: N, distribution: ["gate", "a"].contains($0) ? .gaussian : config.distribution)
        }
        let lo = config.decayBias.lowerBound, hi = config.decayBias.upperBound
        bias = (0..<N).map { Double(Float(lo + (hi - lo) * Double($0) / Double(Swift.max(N - 1, 1)))) }
    }

    /// Row `stream` (0 r, 1 k, 2 v, 3 raw w, 4 raw a) of a position.
    func fill(_ stream: Int, _ out: UnsafeMutableBufferPointer<Double>, head: Int, position: Int) {
        gens[stream].fill(out, head: head, position: position)
        if stream == 3 { for i in 0..<bias.count { out[i] = Double(Float(out[i] + bias[i])) } }
    }
}

/// One token's RWKV-7 quantities from raw inputs, shared by the decode and chunked forms so
/// that both see the same stored values: stores of r, k, v; w = exp(−0.606531·σ(w_raw)) through
/// the `decay` store (w, or log w with `decayLog`), left as w or log w (`wantLog`);
/// a = σ(a_raw); κ̂ = normalize(k ⊙ k_k) returned negated (−κ̂); b = κ̂ ⊙ a;
/// k ← k ⊙ (1 + (a − 1)·k_a). Overwrites wRaw and aRaw.
struct RWKV7TokenPrep {
    let one: Tensor, minusOne: Tensor, decayScale: Tensor, kk: Tensor, ka: Tensor, tmp: Tensor
    let decayLog: Bool

    init<B: Backend>(_ config: RWKV7Config, backend be: B) {
        one = be.scalar(1); minusOne = be.scalar(-1); decayScale = be.scalar(-0.606531)
        kk = be.scalar(config.kk); ka = be.scalar(config.ka)
        tmp = be.allocate(config.headDim)
        decayLog = config.decayLog
    }

    func prepare<B: Backend>(
        _ be: B, r: Tensor, k: Tensor, v: Tensor, wRaw: Tensor, aRaw: Tensor, decay: Tensor, kappa: Tensor, b: Tensor,
        wantLog: Bool, stores: StorePoints, step t: Int
    ) {
        stores.store(.q, r, on: be, step: t)
        stores.store(.k, k, on: be, step: t)
        stores.store(.v, v, on: be, step: t)
        be.apply(.sigmoid, decay, wRaw)
        be.multiply(decay, decay, decayScale)
        if decayLog {
            stores.store(.decay, decay, on: be, step: t)
            if !wantLog { be.apply(.exp, decay, decay) }
        } else {
            be.apply(.exp, decay, decay)
            stores.store(.decay, decay, on: be, step: t)
            if wantLog { be.apply(.log, decay, decay) }
        }
        be.apply(.sigmoid, aRaw, aRaw)
        be.multiply(kappa, k, kk)
        be.l2Normalize(kappa, eps: 0)
        be.subtract(tmp, aRaw, one)
        be.fma(tmp, tmp, ka, one)
        be.multiply(k, k, tmp)
        be.multiply(b, kappa, aRaw)
        be.multiply(kappa, kappa, minusOne)
    }
}
