import ExactArithmetic
import Foundation
import Testing
@testable import AttentionVariants
@testable import DriftStudy

@Suite struct DriftStudyTests {
    /// The first physics check: a bf16 state rounded every step, no decay, zero-mean updates,
    /// drifts as κ·u·√(t/2) (DESIGN.md §7), within a factor 2 at t = 4096.
    @Test func bf16StateFollowsSquareRootLaw() throws {
        let T = 4096
        let cfg = LinearAttentionConfig(keyDim: 64, valueDim: 64)
        let ref = LinearAttentionDecode(config: cfg, backend: Float64Backend())
        let emu = LinearAttentionDecode(config: cfg, backend: Float64Backend(), recipe: try Recipe.parse("state=bfloat16"))
        let curve = DriftComparator.compare(reference: ref, emulated: emu, tokens: T)
        let predicted = DriftTheory.undecayedRelativeRMS(unitRoundoff: 0x1p-8, t: T)
        let measured = curve.stateError(at: T)
        let ratio = measured / predicted
        print("physics check: state_rel_err(4096) = \(measured), κu√(t/2) = \(predicted), ratio = \(ratio)")
        #expect(ratio > 0.5 && ratio < 2, "ratio \(ratio)")
        let out = curve.outputError(at: T) / predicted
        #expect(out > 0.5 && out < 2, "output ratio \(out)")
        let slope = try #require(curve.stateSlope())
        #expect(abs(slope.slope - 0.5) < 0.1, "slope \(slope.slope)")
    }

    @Test func decayedStateSaturates() throws {
        let T = 4096, a = 0.99
        let cfg = LinearAttentionConfig(keyDim: 32, valueDim: 32, gates: .constant(a))
        let ref = LinearAttentionDecode(config: cfg, backend: Float64Backend())
        let emu = LinearAttentionDecode(config: cfg, backend: Float64Backend(), recipe: try Recipe.parse("state=bfloat16"))
        let curve = DriftComparator.compare(reference: ref, emulated: emu, tokens: T)
        let late = curve.stateError(at: T), mid = curve.stateError(at: T / 2)
        #expect(abs(late / mid - 1) < 0.3, "saturated: \(mid) → \(late)")
        let predicted = DriftTheory.decayedSaturation(unitRoundoff: 0x1p-8, decay: a)
        #expect(late / predicted > 0.3 && late / predicted < 3, "\(late) vs \(predicted)")
    }

    @Test func lockstepOfIdenticalRunsIsZero() {
        let cfg = LinearAttentionConfig(keyDim: 16, valueDim: 16)
        let a = LinearAttentionDecode(config: cfg, backend: Float64Backend())
        let b = LinearAttentionDecode(config: cfg, backend: Float64Backend())
        let c = DriftComparator.compare(reference: a, emulated: b, tokens: 100)
        #expect(c.series.outputRelativeError.allSatisfy { $0 == 0 })
        #expect(c.series.positions == Array(0..<100))
        #expect(c.firstCrossing(1e-3) == nil)
    }

    @Test func slopeFitRecoversPowerLaws() throws {
        let x = (1...200).map { Double($0) }
        for p in [0.5, 1.0, -0.25] {
            let y = x.map { 3e-4 * pow($0, p) * (1 + 0.01 * sin($0)) }
            let f = try #require(SlopeFit.logLog(x: x, y: y))
            #expect(abs(f.slope - p) < 0.01)
            #expect(f.slopeLow <= f.slope && f.slope <= f.slopeHigh)
        }
        #expect(SlopeFit.logLog(x: [1, 2], y: [1, 2]) == nil)
    }

    @Test func certificationOfLinearPasses() throws {
        let r = try ReferenceCertification.certify(variant: "linear", form: "recurrent", tokens: 256, bits: 128, fastTier: .float64) {
            try LinearDefinition.makeRun(config: LinearAttentionConfig(gates: .constant(0.99)), tier: $0)
        }
        #expect(r.pass)
        #expect(r.fastVsMPFR.outputMaxRel < 1e-13 && r.fastVsMPFR.outputMaxRel > 0)
        #expect(r.mpfrPVs2P.outputMaxRel < 0x1p-108)
        let json = String(decoding: try JSONEncoder().encode(r), as: UTF8.self)
        for key in ["variant", "form", "tokens", "bits", "tier", "fast_vs_mpfr", "mpfr_p_vs_2p", "output_max_rel", "state_max_rel", "pass"] {
            #expect(json.contains("\"\(key)\""))
        }
    }

    @Test func certificationFailsForFloat32() throws {
        // A deliberately weak "fast tier" must not pass: the threshold is real.
        let r = try ReferenceCertification.certify(variant: "linear", form: "recurrent", tokens: 64, bits: 128, fastTier: .float32) {
            try VariantCatalog.makeRun(variant: "linear", tier: $0)
        }
        #expect(!r.pass)
    }
}
