import ExactArithmetic
import Workloads

/// One head of a gated-linear variant (linear, RetNet, Lightning, GLA, Mamba2) decoding token
/// by token on backend `B`; see `GatedLinearConfig` for the recurrences.
///
/// Step order, as in the public decode kernels (FLA `fused_recurrent_*`, MiniMax's inference
/// loop, mamba_ssm `selective_state_update`): inputs and their stores, feature map, scale;
/// gate (dt, decay stores); S ← α S (scalar: every element; GLA: row i by α_i); S ← S + k̃ vᵀ
/// (Mamba2: k̃ = Δ·B); o = Sᵀ q̃ from the in-register state (or the stored one with
/// `outputFrom: .stored`); normaliser; Mamba2's y ← D·x + y; state store; output store.
public final class GatedLinearDecode<B: Backend>: SteppedRun {
    public let config: GatedLinearConfig
    public let backend: B
    public let stores: StorePoints
    public internal(set) var position = -1

    /// K×V state, row i = key channel i.
    public let state: Tensor
    public let output: Tensor
    /// The decay α_t of the last step (1×1, or 1×K for GLA).
    public let alpha: Tensor
    let q: Tensor, k: Tensor, v: Tensor
    let kEff: Tensor
    let raw: Tensor?, dt: Tensor?
    let scale: Tensor?, one: Tensor, skip: Tensor?
    let z: Tensor?, denominator: Tensor?
    let gateUnit: GateUnit<B>
    let source: GatedInputSource
    let scaleKeys: Bool
    var rowQ: [Double], rowK: [Double], rowV: [Double], rowG: [Double]

    public init(config: GatedLinearConfig, backend: B, recipe: Recipe = .exact) throws {
        try config.validate()
        self.config = config
        self.backend = backend
        stores = StorePoints(recipe: recipe, seed: config.seed, head: config.head)
        let K = config.keyDim, V = config.valueDim, b = backend
        state = b.allocate(rows: K, cols: V)
        output = b.allocate(V)
        q = b.allocate(K); k = b.allocate(K); v = b.allocate(V)
        kEff = config.kind == .mamba2 ? b.allocate(K) : k
        one = b.scalar(1)
        if let s = config.scale ?? config.defaultScale {
            scale = s == 1 ? nil : b.scalar(s)
        } else {
            let s = b.scalar(Double(K))
            b.apply(.rsqrt, s, s)
            scale = s
        }
        scaleKeys = config.kind == .retnet
        gateUnit = GateUnit(config, backend: b)
        let g = config.gate
        alpha = b.allocate(g.perChannel ? K : 1)
        let n = g.rawCount(keyDim: K)
        raw = n > 0 ? b.allocate(n) : nil
        dt = config.kind == .mamba2 ? b.allocate(1) : nil
        skip = config.kind == .mamba2 ? b.scalar(config.skip) : nil
        if config.normalizer {
            z = b.allocate(K)
            denominator = b.allocate(1)
        } else {
            z = nil
            denominator = nil
        }
        source = GatedInputSource(config)
        rowQ = [Double](repeating: 0, count: K)
        rowK = rowQ
        rowV = [Double](repeating: 0, count: V)
        rowG = [Double](repeating: 0, count: Swift.max(n, 1))
        if let s0 = config.replay?.initialState(head: config.head, count: K * V) { b.load(state, s0) }
    }

    public var tier: BackendTier { backend.tier }
    public var outputCount: Int { config.valueDim }
    public var stateCount: Int { config.keyDim * config.valueDim }

    public func step() {
        position += 1
        let t = position, h = config.head
        rowQ.withUnsafeMutableBufferPointer { source.q.fill($0, head: source.keyHead, position: t) }
        rowK.withUnsafeMutableBufferPointer { source.k.fill($0, head: source.keyHead, position: t) }
        rowV.withUnsafeMutableBufferPointer { source.v.fill($0, head: h, position: t) }
        rowG.withUnsafeMutableBufferPointer { source.fillGate($0, position: t) }
        loadAndAdvance()
    }

    /// One step on given inputs (replay). Throws when a row has the wrong length or a raw gate
    /// is NaN; NaN in q/k/v propagates to the outputs (and is counted there), never hidden.
    public func step(inputs x: GatedTokenInputs) throws {
        let K = config.keyDim, V = config.valueDim, n = config.gate.rawCount(keyDim: K)
        guard x.q.count == K, x.k.count == K, x.v.count == V else {
            throw VariantError("\(config.kind.rawValue): inputs: expected q[\(K)], k[\(K)], v[\(V)], got q[\(x.q.count)], k[\(x.k.count)], v[\(x.v.count)]")
        }
        guard x.gate.count == n else { throw VariantError("\(config.kind.rawValue): inputs: expected gate[\(n)], got gate[\(x.gate.count)]") }
        if let i = x.gate.firstIndex(where: { !$0.isFinite }) {
            throw VariantError("\(config.kind.rawValue): inputs: gate[\(i)] is \(x.gate[i]) at position \(position + 1)")
        }
        position += 1
        rowQ = x.q; rowK = x.k; rowV = x.v
        if n > 0 { rowG = x.gate }
        loadAndAdvance()
    }

    func loadAndAdvance() {
        let t = position, b = backend
        b.load(q, rowQ); b.load(k, rowK); b.load(v, rowV)
        if let raw { rowG.withUnsafeBufferPointer { b.load(raw, UnsafeBufferPointer(rebasing: $0[0..<raw.count])) } }
        stores.store(.q, q, on: b, step: t)
        stores.store(.k, k, on: b, step: t)
        stores.store(.v, v, on: b, step: t)
        b.applyFeatureMap(config.featureMap, q, one: one)
        b.applyFeatureMap(config.featureMap, k, one: one)
        if let scale { b.multiply(scaleKeys ? k : q, scaleKeys ? k : q, scale) }
        advance()
    }

    /// The kernel part of a step on inputs already loaded.
    public func advance() {
        let t = position, b = backend
        let hasDecay = gateUnit.hasDecay
        if hasDecay { gateUnit.compute(b, raw: raw, dt: dt, out: alpha, wantLog: false, stores: stores, step: t) }
        if let dt { b.multiply(kEff, k, dt) }
        let decay: Tensor? = hasDecay ? alpha : nil
        if config.gate.perChannel {
            b.scaleRows(state, by: alpha)
            b.rank1(state, kEff, v)
            if config.outputFrom == .stored { stores.store(.state, state, on: b, step: t) }
            b.matTvec(output, state, q)
        } else if config.outputFrom == .registers && config.fused {
            b.decayRank1MatTvec(state, decay: decay, kEff, v, q, output)
        } else {
            if let decay { b.scale(state, by: decay) }
            b.rank1(state, kEff, v)
            if config.outputFrom == .stored { stores.store(.state, state, on: b, step: t) }
            b.matTvec(output, state, q)
        }
        if let z, let denominator {
            if let decay { b.scale(z, by: decay) }
            b.add(z, z, k)
            b.dot(denominator, z, q)
            b.divide(output, output, denominator)
        }
        if let skip { b.fma(output, v, skip, output) }
        if config.outputFrom == .registers { stores.store(.state, state, on: b, step: t) }
        stores.store(.output, output, on: b, step: t)
    }

    public func exportOutput(into out: MPFRArray) { backend.export(output, into: out, at: 0) }
    public func exportState(into out: MPFRArray) { backend.export(state, into: out, at: 0) }
    public func readOutput(into out: UnsafeMutableBufferPointer<Double>) { backend.read(output, into: out) }
    public func readState(into out: UnsafeMutableBufferPointer<Double>) { backend.read(state, into: out) }
}
