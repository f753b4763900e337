import CMPFR
import ExactArithmetic
import Foundation
import NumberFormats
import Testing
import Workloads
@testable import AttentionVariants

/// Long sweeps run with ATTNPREC_LONG=1.
let deltaLong = ProcessInfo.processInfo.environment["ATTNPREC_LONG"] == "1"

@Suite struct DeltaRuleTests {
    struct Case: CustomTestStringConvertible, Sendable {
        let kind: DeltaKind
        let form: String
        let gates: DeltaGates
        let safeGate: Bool
        var testDescription: String { "\(kind.rawValue)/\(form)/\(gates)\(safeGate ? "/safe" : "")" }
        func config(tokens: Int? = nil, chunk: Int = 64) -> DeltaRuleConfig {
            DeltaRuleConfig(kind: kind, gates: kind == .deltanet ? DeltaGates.none : gates, safeGate: safeGate,
                            chunkSize: chunk, tokens: tokens)
        }
    }

    static let cases: [Case] = {
        var c: [Case] = []
        for form in ["recurrent", "chunked"] {
            c.append(Case(kind: .deltanet, form: form, gates: .none, safeGate: false))
            for g in [DeltaGates.strong, .nearlyOne] {
                c.append(Case(kind: .gatedDeltaNet, form: form, gates: g, safeGate: false))
                c.append(Case(kind: .kda, form: form, gates: g, safeGate: false))
            }
            c.append(Case(kind: .kda, form: form, gates: .strong, safeGate: true))
        }
        return c
    }()

    /// Float64 against MPFR-128, 1024 tokens, K = V = 64: outputs at every position and states
    /// at the default sample (every position up to 64, then powers of two and every 64th).
    @Test(arguments: cases)
    func float64AgreesWithMPFR128(_ c: Case) throws {
        let T = 1024
        let cfg = c.config(tokens: T)
        let f64 = try DeltaDefinition.makeRun(config: cfg, form: c.form, tier: .float64)
        let mp = try DeltaDefinition.makeRun(config: cfg, form: c.form, tier: .mpfr(bits: 128))
        let s = Lockstep.run(reference: mp, approximation: f64, tokens: T, comparison: .exact)
        print("delta float64 vs mpfr-128 \(c.testDescription): output \(s.outputMaxRelative), state \(s.stateMaxRelative)")
        #expect(s.outputMaxRelative < 1e-12, "\(c.testDescription): output \(s.outputMaxRelative)")
        #expect(s.stateMaxRelative < 1e-12, "\(c.testDescription): state \(s.stateMaxRelative)")
        #expect(s.nonFinite == 0)
    }

    /// The chunked form equals the recurrent one in Float64, chunk sizes 16/32/64, with a tail
    /// chunk shorter than C (1000 = 15·64 + 40 = 31·32 + 8 = 62·16 + 8).
    @Test(arguments: [16, 32, 64])
    func chunkedEqualsRecurrent(chunk: Int) throws {
        let T = 1000
        for c in Self.cases where c.form == "chunked" {
            let cfg = c.config(tokens: T, chunk: chunk)
            let rec = try DeltaDefinition.makeRun(config: cfg, form: "recurrent", tier: .float64)
            let chk = try DeltaDefinition.makeRun(config: cfg, form: "chunked", tier: .float64)
            let s = Lockstep.run(reference: rec, approximation: chk, tokens: T, comparison: .double,
                                 stateAt: { ($0 + 1) % chunk == 0 || $0 % 97 == 0 })
            print("delta chunked vs recurrent \(c.testDescription) C=\(chunk): output \(s.outputMaxRelative), state \(s.stateMaxRelative)")
            #expect(s.outputMaxRelative < 1e-12, "\(c.testDescription) C=\(chunk): output \(s.outputMaxRelative)")
            #expect(s.stateMaxRelative < 1e-12, "\(c.testDescription) C=\(chunk): state \(s.stateMaxRelative)")
            #expect(s.nonFinite == 0)
        }
    }

    /// Storing (I + A)⁻¹ in tf32 (e8m10) moves the chunked Gated DeltaNet output by the amount
    /// real kernels see: between 1e-5 and 1e-2 relative.
    @Test func triInverseTF32Effect() throws {
        let T = 512
        let cfg = DeltaRuleConfig(kind: .gatedDeltaNet, tokens: T)
        let exact = try DeltaDefinition.makeRun(config: cfg, form: "chunked", tier: .float64)
        let tf32 = try DeltaDefinition.makeRun(config: cfg, form: "chunked", tier: .float64,
                                            recipe: Recipe.parse("tri_inverse=tf32"))
        let s = Lockstep.run(reference: exact, approximation: tf32, tokens: T, comparison: .double)
        let mean = s.outputRelativeError.reduce(0, +) / Double(s.outputRelativeError.count)
        print("delta tri_inverse=tf32 effect: mean \(mean), max \(s.outputMaxRelative)")
        #expect(mean > 1e-5 && mean < 1e-2, "mean \(mean)")
        #expect(s.outputMaxRelative < 1e-2, "max \(s.outputMaxRelative)")
    }

    /// DeltaNet, orthonormal (Hadamard) keys, β = 1: each step replaces the value stored under
    /// its key, so after two sweeps S = Σ_i k_i v_{K+i}ᵀ exactly (MPFR-128: bit for bit up to the
    /// final rounding; Float64 to rounding).
    @Test(arguments: ["recurrent", "chunked"])
    func deltaNetClosedForm(form: String) throws {
        let K = 16, V = 16, T = 2 * K
        let cfg = DeltaRuleConfig(kind: .deltanet, keyDim: K, valueDim: V, beta: .constant(1), l2NormalizeQK: false,
                                  orthonormalKeys: true, chunkSize: 16, tokens: T)
        let vGen = InputGenerator(seed: 0, stream: "v", dimension: V)
        let expected = MPFRArray(count: K * V, precision: 1024)
        let term = MPFRNumber(precision: 1024)
        let r = 1 / Double(K).squareRoot()
        for i in 0..<K {
            let vRow = vGen.row(head: 0, position: K + i)
            for a in 0..<K {
                let kia = (i & a).nonzeroBitCount % 2 == 0 ? r : -r
                for c in 0..<V {
                    _ = attnprec_mpfr_set_d(term.pointer, kia, MPFR_RNDN)
                    _ = mpfr_mul_d(term.pointer, term.pointer, vRow[c], MPFR_RNDN)
                    _ = mpfr_add(expected[a * V + c], expected[a * V + c], term.pointer, MPFR_RNDN)
                }
            }
        }
        let meter = ErrorMeter()
        for (tier, tol) in [(BackendTier.mpfr(bits: 128), 1e-35), (.float64, 1e-14)] {
            let run = try DeltaDefinition.makeRun(config: cfg, form: form, tier: tier)
            for _ in 0..<T { run.step() }
            let got = MPFRArray(count: K * V, precision: 1024)
            run.exportState(into: got)
            let d = meter.distance(reference: expected, got, count: K * V)
            #expect(d.relative < tol, "\(form) \(tier): \(d.relative)")
        }
    }

    /// bf16 state, nearest-even, Gaussian inputs: Gated DeltaNet's error saturates (log–log
    /// slope < 0.15 over [T/64, T]).
    @Test func gatedDeltaNetSaturatesUnderBF16State() throws {
        let T = deltaLong ? 65536 : 4096
        let cfg = DeltaRuleConfig(kind: .gatedDeltaNet)
        let ref = try DeltaDefinition.makeRun(config: cfg, form: "recurrent", tier: .float64)
        let emu = try DeltaDefinition.makeRun(config: cfg, form: "recurrent", tier: .float64, recipe: Recipe.parse("state=bfloat16"))
        let s = Lockstep.run(reference: ref, approximation: emu, tokens: T, comparison: .double,
                             outputAt: { $0 >= T / 64 - 1 }, stateAt: { _ in false })
        let slope = logLogSlope(positions: s.positions, errors: s.outputRelativeError)
        print("gated_deltanet bf16 state, T=\(T): slope \(slope) over [\(T / 64), \(T)]")
        #expect(slope < 0.15, "slope \(slope)")
        #expect(s.nonFinite == 0)
        let level = s.outputRelativeError.suffix(64).reduce(0, +) / 64
        print("gated_deltanet bf16 state, T=\(T): level \(level)")
        #expect(level > 1e-4 && level < 1e-1, "level \(level)")
    }

    /// Bad input: decays outside (0, 1], β outside its range, NaN parameters → an error naming
    /// the field; NaN in the inputs → NaN counted, never a finite result.
    @Test func badInput() throws {
        func message(_ cfg: DeltaRuleConfig) -> String? {
            do { _ = try DeltaDefinition.makeRun(config: cfg, form: "recurrent", tier: .float64); return nil } catch {
                return "\(error)"
            }
        }
        for a in [0, 1.5, -0.3, .nan] {
            #expect(message(DeltaRuleConfig(kind: .gatedDeltaNet, gates: .constant(a)))?.hasPrefix("decay:") == true, "α = \(a)")
        }
        for b in [0, 1.5, -1, .nan] {
            #expect(message(DeltaRuleConfig(kind: .deltanet, beta: .constant(b)))?.hasPrefix("beta:") == true, "β = \(b)")
        }
        #expect(message(DeltaRuleConfig(kind: .deltanet, beta: .constant(1.5, negativeEigenvalues: true))) == nil)
        #expect(message(DeltaRuleConfig(kind: .deltanet, beta: .constant(2, negativeEigenvalues: true)))?.hasPrefix("beta:") == true)
        #expect(message(DeltaRuleConfig(kind: .kda, gates: .model(aMin: .nan)))?.hasPrefix("gates:") == true)
        #expect(message(DeltaRuleConfig(kind: .deltanet, gates: .constant(0.9)))?.hasPrefix("gates:") == true)
        #expect(message(DeltaRuleConfig(kind: .gatedDeltaNet, safeGate: true))?.hasPrefix("safe_gate:") == true)
        #expect(message(DeltaRuleConfig(kind: .kda, chunkSize: 0))?.hasPrefix("chunk_size:") == true)
        #expect(throws: VariantError.self) {
            try DeltaDefinition.makeRun(config: DeltaRuleConfig(), form: "recurrent", tier: .float64, recipe: Recipe.parse("v_new=bf16"))
        }
        for form in ["recurrent", "chunked"] {
            let cfg = DeltaRuleConfig(kind: .gatedDeltaNet, distribution: .gaussian(mean: .nan, std: 1), tokens: 8)
            let ref = try DeltaDefinition.makeRun(config: DeltaRuleConfig(kind: .gatedDeltaNet), form: form, tier: .float64)
            let bad = try DeltaDefinition.makeRun(config: cfg, form: form, tier: .float64)
            let s = Lockstep.run(reference: ref, approximation: bad, tokens: 8, comparison: .double)
            #expect(s.nonFinite > 0)
            #expect(!(s.outputMaxRelative < 1))
        }
    }

    /// The bf16 decay trap: α stored in bf16 rounds every α ≥ 0.998046875 to 1; log α stored in
    /// bf16 does not.
    @Test func decayLogAvoidsTheBF16Trap() throws {
        let T = 256
        let base = DeltaRuleConfig(kind: .gatedDeltaNet, keyDim: 16, valueDim: 16, gates: .nearlyOne)
        var asAlpha = base
        asAlpha.decayLog = false
        let recipe = try Recipe.parse("decay=bfloat16")
        let ref = try DeltaDefinition.makeRun(config: base, form: "recurrent", tier: .float64)
        let logRun = try DeltaDefinition.makeRun(config: base, form: "recurrent", tier: .float64, recipe: recipe)
        let ref2 = try DeltaDefinition.makeRun(config: base, form: "recurrent", tier: .float64)
        let alphaRun = try DeltaDefinition.makeRun(config: asAlpha, form: "recurrent", tier: .float64, recipe: recipe)
        let sLog = Lockstep.run(reference: ref, approximation: logRun, tokens: T, comparison: .double)
        let sAlpha = Lockstep.run(reference: ref2, approximation: alphaRun, tokens: T, comparison: .double)
        #expect(sLog.stateMaxRelative < 1e-5, "log α: \(sLog.stateMaxRelative)")
        #expect(sAlpha.stateMaxRelative > 10 * sLog.stateMaxRelative, "α: \(sAlpha.stateMaxRelative) vs \(sLog.stateMaxRelative)")
    }

    /// Presets carry the public shapes.
    @Test func presets() throws {
        #expect(DeltaPreset.qwen3NextGDN.keyDim == 128 && DeltaPreset.qwen3NextGDN.valueDim == 128)
        #expect(DeltaPreset.qwen3NextGDN.valueHeads == 32 && DeltaPreset.qwen3NextGDN.keyHeads == 16)
        #expect(DeltaPreset.qwen3NextGDN.config(head: 3).keyHead == 1)
        #expect(DeltaPreset.kimiLinearKDA.config(head: 3).keyHead == 3)
        let run = try DeltaDefinition.makeRun(config: DeltaPreset.qwen3NextGDN.config(head: 3), form: "recurrent", tier: .float32)
        #expect(run.stateCount == 128 * 128)
        let kda = try DeltaDefinition.makeRun(config: DeltaPreset.kimiLinearKDA.config(), form: "chunked", tier: .float32)
        for _ in 0..<70 { kda.step() }
        var o = [Double](repeating: 0, count: 128)
        o.withUnsafeMutableBufferPointer { kda.readOutput(into: $0) }
        #expect(o.allSatisfy { $0.isFinite })
    }
}

/// Least-squares slope of log(error) against log(position + 1).
func logLogSlope(positions: [Int], errors: [Double]) -> Double {
    let xs = positions.map { Foundation.log(Double($0 + 1)) }, ys = errors.map { Foundation.log($0) }
    let n = Double(xs.count), mx = xs.reduce(0, +) / n, my = ys.reduce(0, +) / n
    var sxy = 0.0, sxx = 0.0
    for (x, y) in zip(xs, ys) { sxy += (x - mx) * (y - my); sxx += (x - mx) * (x - mx) }
    return sxy / sxx
}
