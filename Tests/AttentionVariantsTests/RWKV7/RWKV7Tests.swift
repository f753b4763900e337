import ExactArithmetic
import Foundation
import NumberFormats
import Testing
import Workloads
@testable import AttentionVariants

@Suite struct RWKV7Tests {
    @Test func float64AgreesWithMPFR128() throws {
        let cfg = RWKV7Config()
        let s = Lockstep.run(reference: try RWKV7Decode(config: cfg, backend: MPFRBackend(precision: 128)),
                             approximation: try RWKV7Decode(config: cfg, backend: Float64Backend()), tokens: 1024, comparison: .exact)
        #expect(s.outputMaxRelative < 1e-12, "\(s.outputMaxRelative)")
        #expect(s.stateMaxRelative < 1e-12, "\(s.stateMaxRelative)")
    }

    @Test func chunkedFloat64AgreesWithMPFR128() throws {
        let s = Lockstep.run(reference: try RWKV7Definition.makeRun(config: RWKV7Config(), form: "chunked", tier: .mpfr(bits: 128)),
                             approximation: try RWKV7Definition.makeRun(config: RWKV7Config(), form: "chunked", tier: .float64),
                             tokens: 1024, comparison: .exact, stateAt: { $0 < 3 || ($0 + 1) % 64 == 0 || $0 % 64 == 37 })
        #expect(s.outputMaxRelative < 1e-12, "\(s.outputMaxRelative)")
        #expect(s.stateMaxRelative < 1e-12, "\(s.stateMaxRelative)")
    }

    /// Default decays (0.55…0.9985 across channels), all nearly 1, all strong; tails of 6.
    @Test(arguments: [(16, -6.0...4.0), (32, -8.0 ... -4.0), (64, 2.0...8.0)])
    func chunkedEqualsRecurrent(chunk: Int, bias: ClosedRange<Double>) throws {
        do {
            let cfg = RWKV7Config(decayBias: bias)
            let s = Lockstep.run(reference: try RWKV7Definition.makeRun(config: cfg, tier: .float64),
                                 approximation: try RWKV7Definition.makeRun(config: cfg, form: "chunked", tier: .float64, chunkSize: chunk, length: 390),
                                 tokens: 390, comparison: .double, stateAt: { $0 % 41 == 0 || $0 > 385 })
            #expect(s.outputMaxRelative < 1e-12, "C=\(chunk) \(cfg.decayBias): \(s.outputMaxRelative)")
            #expect(s.stateMaxRelative < 1e-12, "C=\(chunk) \(cfg.decayBias): \(s.stateMaxRelative)")
        }
    }

    @Test func decaysSpanStrongToNearlyOneAndTheStateStaysBounded() throws {
        let run = try RWKV7Decode(config: RWKV7Config(), backend: Float64Backend())
        var norm = 0.0
        for _ in 0..<2000 { run.step() }
        let w = run.backend.read(run.decay)
        #expect(w.allSatisfy { $0 > 0.5 && $0 < 1 })
        #expect(w.min()! < 0.7 && w.max()! > 0.995)
        norm = run.backend.read(run.state).reduce(0) { $0 + $1 * $1 }.squareRoot()
        #expect(norm.isFinite && norm < 1e4)
    }

    /// With a = 0 (raw a → −∞ is not reachable; use k_a = 0 and compare against the explicit
    /// matrix form) one step equals (Diag(w) − (κ̂⊙a)κ̂ᵀ) S + k' vᵀ computed naively.
    @Test func stepEqualsTheDPLRMatrixForm() throws {
        let N = 8
        let run = try RWKV7Decode(config: RWKV7Config(headDim: N), backend: Float64Backend())
        for _ in 0..<5 { run.step() }
        let S0 = run.backend.read(run.state)
        let t = 5
        let g = ["q", "k", "v", "gate", "a"].map { InputGenerator(seed: 0, stream: $0, dimension: N).row(head: 0, position: t) }
        run.step()
        let bias = (0..<N).map { Double(Float(-6 + 10 * Double($0) / Double(N - 1))) }
        let w = (0..<N).map { Foundation.exp(-0.606531 / (1 + Foundation.exp(-Double(Float(g[3][$0] + bias[$0]))))) }
        let a = g[4].map { 1 / (1 + Foundation.exp(-$0)) }
        let kap = g[1].map { $0 * 0.85 }
        let nrm = kap.reduce(0) { $0 + $1 * $1 }.squareRoot()
        let kh = kap.map { $0 / nrm }
        let kp = (0..<N).map { g[1][$0] * a[$0] }
        var expected = [Double](repeating: 0, count: N * N)
        for i in 0..<N {
            for j in 0..<N {
                var x = w[i] * S0[i * N + j]
                for m in 0..<N { x -= kh[i] * a[i] * kh[m] * S0[m * N + j] }
                expected[i * N + j] = x + kp[i] * g[2][j]
            }
        }
        let got = run.backend.read(run.state)
        let err = zip(got, expected).map { abs($0 - $1) }.max()!
        #expect(err < 1e-12 * Swift.max(1, expected.map(abs).max()!), "\(err)")
    }

    @Test func badInput() throws {
        #expect(throws: VariantError.self) { try RWKV7Config(headDim: 0).validate() }
        let run = try RWKV7Decode(config: RWKV7Config(headDim: 2), backend: Float64Backend())
        #expect(throws: VariantError.self) { try run.step(r: [1, 1], k: [1, 1], v: [1, 1], wRaw: [.nan, 0], aRaw: [0, 0]) }
        try run.step(r: [1, 1], k: [.nan, 1], v: [1, 1], wRaw: [0, 0], aRaw: [0, 0])
        #expect(run.backend.read(run.output).contains { $0.isNaN })
    }
}
