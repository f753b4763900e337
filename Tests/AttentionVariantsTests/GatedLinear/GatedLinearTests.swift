import ExactArithmetic
import Foundation
import NumberFormats
import Testing
import Workloads
@testable import AttentionVariants

/// The gated-linear family (linear chunked, RetNet, Lightning, GLA, Mamba2) and RWKV-7:
/// Float64 against MPFR, chunked against recurrent, closed forms, bad input.
@Suite struct GatedLinearTests {
    /// Workloads with gates from strong to nearly 1, K = V = 64.
    static let workloads: [(String, GatedLinearConfig)] = [
        ("linear α=0.5", GatedLinearConfig(kind: .linear, gates: .constant(0.5))),
        ("linear α=0.9999 normaliser elu+1", GatedLinearConfig(kind: .linear, gates: .constant(0.9999), normalizer: true, featureMap: .eluPlusOne)),
        ("retnet h=0", .retnet(head: 0)),
        ("retnet h=12", .retnet(head: 12)),
        ("lightning l=0 h=0", .lightning(head: 0, layer: 0, headDim: 64)),
        ("lightning l=79 h=63", .lightning(head: 63, layer: 79, headDim: 64)),
        ("gla bias -12…8", .gla(bias: -12...8)),
        ("mamba2 strong", .mamba2(headDim: 64, stateDim: 64, gates: .mamba(aMin: 8, aMax: 16, dtMin: 0.1, dtMax: 1))),
        ("mamba2 default h=3", .mamba2(head: 3, headDim: 64, stateDim: 64)),
        ("mamba2 near 1", .mamba2(headDim: 64, stateDim: 64, gates: .mamba(aMin: 1, aMax: 1.1, dtMin: 1e-4, dtMax: 2e-4))),
    ]

    static func run(_ c: GatedLinearConfig, _ form: String, _ tier: BackendTier, recipe: Recipe = .exact) -> SteppedRun {
        try! GatedLinearDefinition.makeRun(config: c, form: form, tier: tier, recipe: recipe)
    }

    static let long = ProcessInfo.processInfo.environment["ATTNPREC_LONG"] == "1"

    /// (workload, form) pairs compared with MPFR: in CI every variant and form with gates from
    /// strong (RetNet h=0, Mamba2 strong, GLA's low channels) to nearly 1 (Lightning's last
    /// layer, Mamba2 near 1, GLA's high channels); with ATTNPREC_LONG=1 every workload.
    static let mpfrCases: [(Int, String)] = {
        let ci = [(1, "chunked"), (2, "recurrent"), (2, "chunked"), (5, "recurrent"), (5, "chunked"), (6, "recurrent"),
                  (6, "chunked"), (7, "recurrent"), (7, "chunked"), (9, "recurrent"), (9, "chunked")]
        return long ? workloads.indices.flatMap { i in [(i, "recurrent"), (i, "chunked")] } : ci
    }()

    @Test(arguments: mpfrCases.indices)
    func float64AgreesWithMPFR128(caseIndex: Int) {
        let (index, form) = Self.mpfrCases[caseIndex]
        let (name, cfg) = Self.workloads[index]
        // States at chunk ends and a few positions inside chunks (each costs a partial chunk).
        let s = Lockstep.run(reference: Self.run(cfg, form, .mpfr(bits: 128)), approximation: Self.run(cfg, form, .float64),
                             tokens: 1024, comparison: .exact, stateAt: { $0 < 3 || ($0 + 1) % 64 == 0 || $0 % 64 == 37 })
        #expect(s.outputMaxRelative < 1e-12, "\(name) \(form): output \(s.outputMaxRelative)")
        #expect(s.stateMaxRelative < 1e-12, "\(name) \(form): state \(s.stateMaxRelative)")
        #expect(s.nonFinite == 0)
    }

    @Test(arguments: workloads.indices)
    func chunkedEqualsRecurrent(index: Int) {
        let (name, base) = Self.workloads[index]
        for C in [16, 32, 64] {
            var cfg = base
            cfg.chunkSize = C
            cfg.length = 1000  // tails of 8, 8 and 40 tokens
            let s = Lockstep.run(reference: Self.run(cfg, "recurrent", .float64), approximation: Self.run(cfg, "chunked", .float64),
                                 tokens: 1000, comparison: .double, stateAt: { $0 % 41 == 0 || $0 > 995 })
            #expect(s.outputMaxRelative < 1e-12, "\(name) C=\(C): output \(s.outputMaxRelative)")
            #expect(s.stateMaxRelative < 1e-12, "\(name) C=\(C): state \(s.stateMaxRelative)")
        }
    }

    /// The chunked linear form against the existing decode kernel, and the generic decode
    /// against it bit for bit.
    @Test func linearFormsAgreeWithLinearAttentionDecode() throws {
        let lc = LinearAttentionConfig(gates: .constant(0.99), normalizer: true, featureMap: .eluPlusOne)
        for form in ["recurrent", "chunked"] {
            let s = Lockstep.run(reference: try LinearDefinition.makeRun(config: lc, tier: .float64),
                                 approximation: try LinearDefinition.makeRun(config: lc, form: form, tier: .float64),
                                 tokens: 300, comparison: .exact)
            #expect(s.outputMaxRelative < 1e-13, "\(form) \(s.outputMaxRelative)")
        }
        let g = GatedLinearConfig(linear: lc)
        for recipe in [Recipe.exact, try Recipe.parse("state=bfloat16")] {
            let a = LinearAttentionDecode(config: lc, backend: Float64Backend(), recipe: recipe)
            let b = try GatedLinearDecode(config: g, backend: Float64Backend(), recipe: recipe)
            var c = g
            c.fused = false
            let d = try GatedLinearDecode(config: c, backend: Float64Backend(), recipe: recipe)
            let s1 = Lockstep.run(reference: a, approximation: b, tokens: 200, comparison: .double)
            let s2 = Lockstep.run(reference: try GatedLinearDecode(config: g, backend: Float64Backend(), recipe: recipe),
                                  approximation: d, tokens: 200, comparison: .double)
            #expect(s1.outputMaxRelative == 0 && s1.stateMaxRelative == 0)
            #expect(s2.outputMaxRelative == 0 && s2.stateMaxRelative == 0)
        }
    }

    /// Constant inputs q = k = v = 1: o_t = scale·K·(1 − λ^{t+1})/(1 − λ) in every channel.
    @Test(arguments: ["retnet", "lightning"], ["recurrent", "chunked"])
    func constantInputsMatchTheGeometricSeries(variant: String, form: String) {
        let K = 16
        var cfg: GatedLinearConfig = variant == "retnet" ? .retnet(keyDim: K, valueDim: K, head: 2) : .lightning(head: 5, layer: 10, headDim: K)
        cfg.distribution = .gaussian(mean: 1, std: 0)
        cfg.chunkSize = 24
        cfg.length = 1000
        let logLambda = variant == "retnet" ? Foundation.log1p(-0x1p-7) : lightningLogDecay(head: 5, heads: 64, layer: 10, layers: 80)
        let scale = variant == "retnet" ? Double(K).squareRoot() : Double(K)  // q·k̃ = K·K^(−1/2) or K
        for tier in [BackendTier.mpfr(bits: 128), .float64] {
            let r = Self.run(cfg, form, tier)
            var out = [Double](repeating: 0, count: K)
            var worst = 0.0
            for t in 0..<1000 {
                r.step()
                out.withUnsafeMutableBufferPointer { r.readOutput(into: $0) }
                let geometric = -Foundation.expm1(Double(t + 1) * logLambda) / -Foundation.expm1(logLambda)
                let expected = scale * geometric
                for x in out { worst = Swift.max(worst, abs(x - expected) / expected) }
            }
            #expect(worst < (tier == .float64 ? 1e-12 : 1e-14), "\(variant) \(form) \(tier): \(worst)")
        }
    }

    /// Mamba2 is simple gated linear attention with q = C, k = Δ·B, v = x, log α = Δ·A (plus
    /// D·x): an independent plain-Double loop built from the raw parameters.
    @Test(arguments: ["recurrent", "chunked"])
    func mamba2IsSimpleGatedLinearAttention(form: String) throws {
        let N = 32, P = 16, T = 300
        var cfg = GatedLinearConfig.mamba2(head: 1, headDim: P, stateDim: N)
        cfg.chunkSize = 32
        cfg.length = T
        let run = Self.run(cfg, form, .float64)
        let raw = try #require(GateSchedule.mamba().rawParameters(seed: 0, head: 1))
        let A = -Foundation.exp(raw.aLog)
        let gen = (q: InputGenerator(seed: 0, stream: "q", dimension: N), k: InputGenerator(seed: 0, stream: "k", dimension: N),
                   v: InputGenerator(seed: 0, stream: "v", dimension: P), dt: InputGenerator(seed: 0, stream: "gate", dimension: 1))
        var S = [Double](repeating: 0, count: N * P)
        var out = [Double](repeating: 0, count: P)
        var worst = 0.0
        for t in 0..<T {
            let c = gen.q.row(head: 1, position: t), b = gen.k.row(head: 1, position: t), x = gen.v.row(head: 1, position: t)
            let z = gen.dt.row(head: 1, position: t)[0] + raw.dtBias
            let delta = z > 30 ? z : Foundation.log1p(Foundation.exp(z))
            let alpha = Foundation.exp(delta * A)
            for i in 0..<N { for j in 0..<P { S[i * P + j] = (alpha * S[i * P + j]).addingProduct(delta * b[i], x[j]) } }
            run.step()
            out.withUnsafeMutableBufferPointer { run.readOutput(into: $0) }
            var num = 0.0, den = 0.0
            for j in 0..<P {
                var y = 0.0
                for i in 0..<N { y = y.addingProduct(S[i * P + j], c[i]) }
                y += x[j]  // D = 1
                num += (y - out[j]) * (y - out[j]); den += y * y
            }
            worst = Swift.max(worst, (num / den).squareRoot())
        }
        #expect(worst < 1e-12, "\(form): \(worst)")
    }

    /// The bf16-decay trap: α ≥ 0.998046875 stored as bf16 becomes exactly 1 (both forms see
    /// it); storing log α (`decay_log`) keeps the decay.
    @Test func bf16DecayTrapAppearsOnlyWhenAlphaIsStored() throws {
        var cfg = GatedLinearConfig.mamba2(headDim: 16, stateDim: 16, gates: .mamba(aMin: 1, aMax: 1.1, dtMin: 1e-6, dtMax: 2e-6))
        let recipe = try Recipe.parse("decay=bfloat16")
        cfg.decayLog = false
        let trapped = try GatedLinearDecode(config: cfg, backend: Float64Backend(), recipe: recipe)
        cfg.decayLog = true
        let kept = try GatedLinearDecode(config: cfg, backend: Float64Backend(), recipe: recipe)
        for _ in 0..<10 {
            trapped.step(); kept.step()
            #expect(trapped.backend.read(trapped.alpha) == [1])
            let a = kept.backend.read(kept.alpha)[0]
            #expect(a < 1 && a > 0.999)
        }
        // Chunked and recurrent agree under the trap too (both use α = 1, log α = 0).
        cfg.decayLog = false
        cfg.length = 200
        let s = Lockstep.run(reference: Self.run(cfg, "recurrent", .float64, recipe: recipe),
                             approximation: Self.run(cfg, "chunked", .float64, recipe: recipe), tokens: 200, comparison: .double)
        #expect(s.outputMaxRelative < 1e-12)
    }

    @Test func storePointsRoundWhatTheyName() throws {
        let bf16 = ElementRounder(format: ElementFormat.named("bfloat16")!)
        for form in ["recurrent", "chunked"] {
            var cfg = GatedLinearConfig.gla(keyDim: 16, valueDim: 16)
            cfg.chunkSize = 8
            let run = try GatedLinearDefinition.makeRun(config: cfg, form: form, tier: .float64, recipe: try Recipe.parse("state=bfloat16,output=bfloat16"))
            var state = [Double](repeating: 0, count: 256), out = [Double](repeating: 0, count: 16)
            for t in 0..<24 {
                run.step()
                out.withUnsafeMutableBufferPointer { run.readOutput(into: $0) }
                #expect(out.allSatisfy { bf16.round($0) == $0 })
                if form == "recurrent" || t % 8 == 7 {
                    state.withUnsafeMutableBufferPointer { run.readState(into: $0) }
                    #expect(state.allSatisfy { bf16.round($0) == $0 }, "\(form) t=\(t)")
                }
            }
        }
    }

    @Test func lightningScheduleIsMiniMaxs() {
        let table = GatedLinearConfig.lightningDecays()
        #expect(table.count == 80 && table.allSatisfy { $0.count == 64 })
        let slope0 = Foundation.pow(2, -8.0 / 64)
        #expect(abs(table[0][0] - Foundation.exp(-slope0 * (1 + 1e-5))) < 1e-15)
        #expect(abs(table[79][63] - Foundation.exp(-Foundation.pow(slope0, 64) * 1e-5)) < 1e-15)
        // Decays grow toward 1 with the head index and with depth.
        #expect(table[0][0] < table[0][63] && table[0][0] < table[40][0] && table[40][0] < table[79][0])
    }

    @Test func badInputIsRejectedOrCounted() throws {
        for a in [1.5, 0, -0.1, Double.nan, Double.infinity] {
            #expect(throws: VariantError.self) { try GatedLinearConfig(kind: .linear, gates: .constant(a)).validate() }
            #expect(throws: VariantError.self) {
                try LinearDefinition.makeRun(config: LinearAttentionConfig(gates: .constant(a)), form: "chunked", tier: .float64)
            }
            #expect(throws: VariantError.self) { try LinearDefinition.makeRun(config: LinearAttentionConfig(gates: .constant(a)), tier: .float64) }
        }
        do {
            try GatedLinearConfig(kind: .linear, gates: .constant(1.5)).validate()
        } catch let e as VariantError {
            #expect(e.description.contains("decay") && !e.description.contains("\n"))
        }
        #expect(throws: VariantError.self) { try GatedLinearConfig.mamba2(gates: .mamba(aMin: -1, aMax: 16, dtMin: 0.001, dtMax: 0.1)).validate() }
        #expect(throws: VariantError.self) { try GatedLinearConfig(kind: .gla, chunkSize: 0).validate() }
        #expect(throws: VariantError.self) { try GatedLinearConfig.lightning(head: 64).validate() }
        #expect(throws: VariantError.self) { try GatedLinearConfig(kind: .retnet, normalizer: true).validate() }

        // NaN in an input reaches the outputs (and stays), never a finite number.
        let cfg = GatedLinearConfig.gla(keyDim: 4, valueDim: 4)
        let run = try GatedLinearDecode(config: cfg, backend: Float64Backend())
        let ok = GatedTokenInputs(q: [1, 2, 3, 4], k: [1, 0, 0, 0], v: [1, 1, 1, 1], gate: [0, 0, 0, 0])
        try run.step(inputs: ok)
        #expect(run.backend.read(run.output).allSatisfy { $0.isFinite })
        var bad = ok
        bad.k[2] = .nan
        try run.step(inputs: bad)
        for _ in 0..<3 {
            #expect(run.backend.read(run.output).contains { $0.isNaN })
            try run.step(inputs: ok)
        }
        var badGate = ok
        badGate.gate[1] = .nan
        #expect(throws: VariantError.self) { try run.step(inputs: badGate) }
        #expect(throws: VariantError.self) { try run.step(inputs: GatedTokenInputs(q: [1], k: [1], v: [1], gate: [])) }
        // Counted by the comparator.
        let ref = try GatedLinearDecode(config: cfg, backend: Float64Backend())
        for _ in 0..<5 { try ref.step(inputs: ok) }
        let nanRun = try GatedLinearDecode(config: cfg, backend: Float64Backend())
        for _ in 0..<4 { try nanRun.step(inputs: ok) }
        try nanRun.step(inputs: bad)
        let a = ref.backend.read(ref.output), b = nanRun.backend.read(nanRun.output)
        let d = a.withUnsafeBufferPointer { x in b.withUnsafeBufferPointer { y in ErrorMeter().distance(reference: x, y) } }
        #expect(d.nonFinite > 0)
    }

    @Test func catalogListsTheFamily() throws {
        for name in ["linear", "retnet", "lightning", "gla", "mamba2"] {
            let e = try VariantCatalog.entry(name)
            #expect(e.forms == ["recurrent", "chunked"])
            #expect(e.roles.contains(.chunkState) && e.roles.contains(.state))
        }
        #expect(try VariantCatalog.entry("mamba2").roles.contains(.dt))
        #expect(try VariantCatalog.entry("rwkv7").forms == ["recurrent", "chunked"])
        #expect(throws: Recipe.ParseError.self) { try Recipe.parse("beta=bfloat16", allowed: try VariantCatalog.entry("gla").roles) }
        for name in ["retnet", "lightning", "gla", "mamba2", "rwkv7"] {
            let r = try VariantCatalog.makeRun(variant: name, tier: .float64)
            r.step()
            #expect(r.stateCount > 0)
        }
        #expect(try VariantCatalog.makeRun(variant: "lightning", tier: .float64).outputCount == 128)
        #expect(try VariantCatalog.makeRun(variant: "mamba2", tier: .float64).stateCount == 128 * 64)
    }
}
