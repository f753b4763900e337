import CMPFR
import ExactArithmetic
import NumberFormats
import Testing
import Workloads
@testable import AttentionVariants

@Suite struct LinearAttentionTests {
    static let tokens = 4096

    @Test(arguments: [1.0, 0.99])
    func float64AgreesWithMPFR128(decay: Double) {
        let cfg = LinearAttentionConfig(keyDim: 64, valueDim: 64, gates: decay == 1 ? .none : .constant(decay))
        let f64 = LinearAttentionDecode(config: cfg, backend: Float64Backend())
        let mp = LinearAttentionDecode(config: cfg, backend: MPFRBackend(precision: 128))
        let s = Lockstep.run(reference: mp, approximation: f64, tokens: Self.tokens, comparison: .exact)
        #expect(s.outputMaxRelative < 1e-12, "decay \(decay): \(s.outputMaxRelative)")
        #expect(s.stateMaxRelative < 1e-12)
        #expect(s.nonFinite == 0)
    }

    @Test(arguments: [1.0, 0.99])
    func mpfr128AgreesWithMPFR256(decay: Double) {
        let cfg = LinearAttentionConfig(keyDim: 64, valueDim: 64, gates: decay == 1 ? .none : .constant(decay))
        let p = LinearAttentionDecode(config: cfg, backend: MPFRBackend(precision: 128))
        let p2 = LinearAttentionDecode(config: cfg, backend: MPFRBackend(precision: 256))
        let s = Lockstep.run(reference: p2, approximation: p, tokens: Self.tokens, comparison: .exact,
                             stateAt: { ($0 + 1) % 1024 == 0 })
        #expect(s.outputMaxRelative < 1e-30, "decay \(decay): \(s.outputMaxRelative)")
        #expect(s.stateMaxRelative < 1e-30)
    }

    @Test func doubleDoubleAgreesWithMPFR() {
        let cfg = LinearAttentionConfig(keyDim: 32, valueDim: 32, gates: .constant(0.99))
        let dd = LinearAttentionDecode(config: cfg, backend: DoubleDoubleBackend())
        let mp = LinearAttentionDecode(config: cfg, backend: MPFRBackend(precision: 256))
        let s = Lockstep.run(reference: mp, approximation: dd, tokens: 512, comparison: .exact)
        #expect(s.outputMaxRelative < 1e-28)
    }

    /// Orthonormal (Hadamard) keys, no decay: S = Σ k vᵀ with exact products; at 128 bits every
    /// partial sum is exact too, so the MPFR state equals the exactly computed sum bit for bit.
    @Test func closedFormOrthonormalKeysExactInMPFR() {
        let K = 64, V = 64, T = 300
        let cfg = LinearAttentionConfig(keyDim: K, valueDim: V, orthonormalKeys: true)
        let run = LinearAttentionDecode(config: cfg, backend: MPFRBackend(precision: 128))
        for _ in 0..<T { run.step() }
        let got = MPFRArray(count: K * V, precision: 128)
        run.exportState(into: got)
        // Exact sum with mpfr_sum over the exact products at 256 bits.
        let vGen = InputGenerator(seed: 0, stream: "v", dimension: V)
        let terms = MPFRArray(count: T, precision: 256)
        var table = [mpfr_ptr?](repeating: nil, count: T)
        let exact = MPFRNumber(precision: 1024)
        let vRows = (0..<T).map { vGen.row(head: 0, position: $0) }
        var mismatches = 0
        for i in 0..<K {
            for j in 0..<V {
                for t in 0..<T {
                    let kti = ((t % K) & i).nonzeroBitCount % 2 == 0 ? 0.125 : -0.125
                    terms.set(t, kti)
                    _ = mpfr_mul_d(terms[t], terms[t], vRows[t][j], MPFR_RNDN)
                    table[t] = terms[t]
                }
                _ = mpfr_sum(exact.pointer, &table, UInt(T), MPFR_RNDN)
                if mpfr_equal_p(exact.pointer, got[i * V + j]) == 0 { mismatches += 1 }
            }
        }
        #expect(mismatches == 0)
        // And the orthonormal keys really are orthonormal: the read-out recovers v exactly.
    }

    @Test func fusedAndGenericDefinitionsAgreeBitwise() {
        for recipe in [Recipe.exact, try! Recipe.parse("state=bfloat16")] {
            let a = LinearAttentionDecode(config: LinearAttentionConfig(gates: .constant(0.99)), backend: Float64Backend(), recipe: recipe)
            let b = LinearAttentionDecode(config: LinearAttentionConfig(gates: .constant(0.99), fused: false), backend: Float64Backend(), recipe: recipe)
            let s = Lockstep.run(reference: a, approximation: b, tokens: 300, comparison: .double)
            #expect(s.outputMaxRelative == 0 && s.stateMaxRelative == 0)
        }
    }

    @Test func eluFeatureMapWithNormaliserRunsOnEveryTier() throws {
        let cfg = LinearAttentionConfig(keyDim: 16, valueDim: 16, gates: .constant(0.999), normalizer: true, featureMap: .eluPlusOne)
        let ref = try LinearDefinition.makeRun(config: cfg, tier: .mpfr(bits: 128))
        for tier in [BackendTier.float64, .doubleDouble, .float32] {
            let run = try LinearDefinition.makeRun(config: cfg, tier: tier)
            let fresh = try LinearDefinition.makeRun(config: cfg, tier: .mpfr(bits: 128))
            let s = Lockstep.run(reference: fresh, approximation: run, tokens: 200, comparison: .exact)
            let bound = tier == .float32 ? 1e-4 : (tier == .float64 ? 1e-12 : 1e-26)
            #expect(s.outputMaxRelative < bound, "\(tier): \(s.outputMaxRelative)")
        }
        _ = ref
    }

    @Test func outputFromStoredStateReadsTheRoundedState() {
        let recipe = try! Recipe.parse("state=bfloat16")
        let cfg = LinearAttentionConfig(keyDim: 8, valueDim: 8, outputFrom: .stored)
        let run = LinearAttentionDecode(config: cfg, backend: Float64Backend(), recipe: recipe)
        for _ in 0..<5 { run.step() }
        let bf16 = ElementRounder(format: ElementFormat.named("bfloat16")!)
        let s = run.backend.read(run.state)
        #expect(s.allSatisfy { bf16.round($0) == $0 })
    }

    @Test func catalogErrors() throws {
        #expect(throws: VariantError.self) { try VariantCatalog.makeRun(variant: "nonsense", tier: .float64) }
        #expect(throws: VariantError.self) { try VariantCatalog.makeRun(variant: "gated_deltanet", form: "bogus", tier: .float64) }
        #expect(throws: VariantError.self) { try VariantCatalog.makeRun(variant: "rwkv7", form: "fused", tier: .float64) }
        #expect(throws: Recipe.ParseError.self) { try Recipe.parse("k_cache=bfloat16", allowed: LinearAttentionConfig.roles) }
        #expect(throws: Recipe.ParseError.self) { try Recipe.parse("state=bogus") }
        #expect(try Recipe.parse("state=bfloat16,q=bfloat16").description == "q=bfloat16,state=bfloat16")
    }
}
