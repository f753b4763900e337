import ExactArithmetic
import Foundation
import Workloads

/// Generates and prepares the inputs of one token of a delta-rule head on a backend: q, k, v
/// (stored through their roles, then L2-normalised, q scaled), the log-decay g and β (stored
/// through `decay` and `beta`). Shared by the decode and chunked forms so both see the same
/// values.
final class DeltaTokenLoader<B: Backend> {
    let config: DeltaRuleConfig
    let backend: B
    let stores: StorePoints
    let qGen: InputGenerator, kGen: InputGenerator, vGen: InputGenerator
    let gateGen: InputGenerator, betaGen: InputGenerator
    var rowQ: [Double], rowK: [Double], rowV: [Double], rowGate: [Double], rowBeta: [Double]
    let scale: Tensor, minusOne: Tensor
    /// Raw gate parameters on the backend: −exp(A_log) (or exp(A_log) for the safe gate), dt_bias
    /// (1 or K values), the safe gate's lower bound; or the constant log α.
    let gateScale: Tensor?, dtBias: Tensor?, lowerBound: Tensor?, constantLogDecay: Tensor?
    let constantBeta: Tensor?
    let two: Tensor

    init(config: DeltaRuleConfig, backend b: B, stores: StorePoints) {
        self.config = config
        backend = b
        self.stores = stores
        let K = config.keyDim, V = config.valueDim, G = max(config.gateWidth, 1)
        let r = config.replay
        qGen = InputGenerator(seed: config.seed, stream: "q", dimension: K, distribution: config.distribution).replaying(r?["q"])
        kGen = InputGenerator(seed: config.seed, stream: "k", dimension: K, distribution: config.distribution).replaying(r?["k"])
        vGen = InputGenerator(seed: config.seed, stream: "v", dimension: V, distribution: config.distribution).replaying(r?["v"])
        gateGen = InputGenerator(seed: config.seed, stream: "gate", dimension: G).replaying(r?["g"])
        betaGen = InputGenerator(seed: config.seed, stream: "beta", dimension: 1).replaying(r?["beta"])
        rowQ = [Double](repeating: 0, count: K)
        rowK = rowQ
        rowV = [Double](repeating: 0, count: V)
        rowGate = [Double](repeating: 0, count: G)
        rowBeta = [0]
        minusOne = b.scalar(-1)
        two = b.scalar(2)
        if let s = config.scale {
            scale = b.scalar(s)
        } else {
            scale = b.scalar(Double(K))
            b.apply(.rsqrt, scale, scale)
        }
        switch config.gates {
        case .none:
            gateScale = nil; dtBias = nil; lowerBound = nil; constantLogDecay = nil
        case .constant(let a):
            gateScale = nil; dtBias = nil; lowerBound = nil
            let c = b.scalar(a)
            b.apply(.log, c, c)
            constantLogDecay = c
        case .model(let aMin, let aMax, let dtMin, let dtMax):
            constantLogDecay = nil
            let raw = GateSchedule.mamba(aMin: aMin, aMax: aMax, dtMin: dtMin, dtMax: dtMax)
                .rawParameters(seed: config.seed, head: config.head)!
            let ga = b.scalar(raw.aLog)
            b.apply(.exp, ga, ga)
            if !config.safeGate { b.multiply(ga, ga, minusOne) }
            gateScale = ga
            let bias = b.allocate(G)
            if config.kind.perChannelGate {
                // dt_bias per channel (Kimi Linear): dt log-uniform in [dtMin, dtMax], softplus⁻¹.
                let s = CounterStream(seed: config.seed, stream: "dt_bias", head: config.head, position: 0)
                var values = [Double](repeating: 0, count: G)
                for c in 0..<G {
                    let dt = Foundation.exp(Foundation.log(dtMin) + (Foundation.log(dtMax) - Foundation.log(dtMin)) * s.uniform(c))
                    values[c] = Double(Float(dt + Foundation.log(-Foundation.expm1(-dt))))
                }
                b.load(bias, values)
            } else {
                b.fill(bias, raw.dtBias)
            }
            dtBias = bias
            lowerBound = config.safeGate ? b.scalar(config.safeGateLowerBound) : nil
        }
        if case .constant(let v, _) = config.beta { constantBeta = b.scalar(v) } else { constantBeta = nil }
    }

    /// Prepares token t into the given 1×K / 1×V / 1×gateWidth / 1×1 tensors: q becomes
    /// scale·normalised q; `g` receives α (`asDecay`, the decode form) or log α (the chunked
    /// form); nil when the variant has no decay.
    func load(_ t: Int, q: Tensor, k: Tensor, v: Tensor, g: Tensor?, beta: Tensor, asDecay: Bool) {
        let h = config.head, kh = config.keyHead ?? config.head, b = backend
        rowQ.withUnsafeMutableBufferPointer { qGen.fill($0, head: kh, position: t) }
        if config.orthonormalKeys {
            let K = config.keyDim
            let r = 1 / Double(K).squareRoot(), row = t % K
            for j in 0..<K { rowK[j] = (row & j).nonzeroBitCount % 2 == 0 ? r : -r }
        } else {
            rowK.withUnsafeMutableBufferPointer { kGen.fill($0, head: kh, position: t) }
        }
        rowV.withUnsafeMutableBufferPointer { vGen.fill($0, head: h, position: t) }
        b.load(q, rowQ); b.load(k, rowK); b.load(v, rowV)
        stores.store(.q, q, on: b, step: t)
        stores.store(.k, k, on: b, step: t)
        stores.store(.v, v, on: b, step: t)
        if config.l2NormalizeQK {
            b.l2Normalize(q, eps: 1e-6)
            b.l2Normalize(k, eps: 1e-6)
        }
        b.multiply(q, q, scale)
        // β
        if let c = constantBeta {
            b.copy(beta, c)
        } else {
            rowBeta.withUnsafeMutableBufferPointer { betaGen.fill($0, head: h, position: t) }
            b.load(beta, rowBeta)
            if betaGen.replay == nil {
                b.apply(.sigmoid, beta, beta)
                if case .sigmoid(true) = config.beta { b.multiply(beta, beta, two) }
            }
        }
        stores.store(.beta, beta, on: b, step: t)
        // g = log α
        guard let g else { return }
        if gateGen.replay != nil {
            // Replay: g is log α as the model computed it.
            rowGate.withUnsafeMutableBufferPointer { gateGen.fill($0, head: h, position: t) }
            b.load(g, rowGate)
        } else if let c = constantLogDecay {
            b.fill(g, 0)
            b.add(g, g, c)
        } else if let gateScale, let dtBias {
            rowGate.withUnsafeMutableBufferPointer { gateGen.fill($0, head: h, position: t) }
            b.load(g, rowGate)
            b.add(g, g, dtBias)
            if let lowerBound {
                b.multiply(g, g, gateScale)
                b.apply(.sigmoid, g, g)
                b.multiply(g, g, lowerBound)
            } else {
                b.apply(.softplus, g, g)
                b.multiply(g, g, gateScale)
            }
        }
        if asDecay {
            // Decode: α itself; the store sees log α or α as the recipe says.
            if config.decayLog { stores.store(.decay, g, on: b, step: t) }
            b.apply(.exp, g, g)
            if !config.decayLog { stores.store(.decay, g, on: b, step: t) }
        } else if stores.has(.decay) {
            if config.decayLog {
                stores.store(.decay, g, on: b, step: t)
            } else {
                b.apply(.exp, g, g)
                stores.store(.decay, g, on: b, step: t)
                b.apply(.log, g, g)
            }
        }
    }
}
