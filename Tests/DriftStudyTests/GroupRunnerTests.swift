import Foundation
import AttentionVariants
import ExactArithmetic
import NumberFormats
import Testing
@testable import DriftStudy

/// `GroupRunner`: certification windows, the memory axis, and the drift laws measured on runs.
@Suite struct GroupRunnerTests {
    /// Recurrent runs are certified on a later window too (MPFR started from the reference's
    /// state there); a fast run that is not the reference fails it.
    @Test func laterWindowCertification() throws {
        let text = """
        tokens: [1024]
        reference: {tier: float64, certify_tokens: 64, bits: 128, double_precision_tokens: 16}
        variants:
          - {name: gated_deltanet, key_dim: 16, value_dim: 16}
          - {name: mha, head_dim: 16}
        recipes: [bfloat16]
        """
        let groups = try StudyPlan.expand([try StudyConfig.parse(text, file: "w.yaml", defaultName: "w")])
        for g in groups {
            let r = try GroupRunner.run(g)[0]
            if g.variant.name == "mha" {
                #expect(r.reference.laterStart == nil)
                continue
            }
            #expect(r.reference.laterStart == 1024 - 64 && r.reference.laterTokens == 64)
            #expect(r.reference.laterFastVsMPFROutput! < 1e-13 && r.reference.laterFastVsMPFRState! < 1e-13)
            #expect(r.reference.pass == true)
            // The window check catches a "reference" that rounds its state to bf16.
            var info = r.reference
            let state = [Double](repeating: 0.01, count: 16 * 16)
            let schedule = VariantFactory.schedule(tokens: g.tokens, perOctave: g.perOctave)
            try GroupRunner.certifyLater(g, refTier: .float64, start: 500, tokens: 32, state: state, into: &info) { tier, recipe in
                var rc = recipe
                if case .float64 = tier { rc[.state] = try FormatSpec.parse("bfloat16") }
                return try VariantFactory.makeRun(g.variant, workload: g.workload, seed: g.seed, tokens: g.tokens, schedule: schedule, tier: tier, recipe: rc)
            }
            #expect(info.laterFastVsMPFRState! > 1e-4)
            #expect(info.pass == false)
        }
    }

    /// The memory axis: a dense cache holds every token, a sliding window its window and sinks.
    @Test func cachedTokensOfDenseAndSlidingCaches() throws {
        var swa = StudyConfig.VariantSpec(name: "swa")
        #expect(VariantFactory.cachedTokens(swa, tokens: 32768) == 128 + 4)
        #expect(VariantFactory.cachedTokens(swa, tokens: 100) == 100)
        swa.presetName = "gpt-oss"
        #expect(VariantFactory.cachedTokens(swa, tokens: 32768) == 128)
        #expect(VariantFactory.cachedTokens(StudyConfig.VariantSpec(name: "mha"), tokens: 32768) == 32768)
        #expect(VariantFactory.cachedTokens(StudyConfig.VariantSpec(name: "moba"), tokens: 4096) == 4096)
    }

    /// A linear state with decay a saturates near κu/√(1−a²); without decay it grows with slope ½.
    @Test func saturationAndSqrtLawFromRuns() throws {
        let text = """
        tokens: [4096]
        reference: {certify_tokens: 0}
        variants:
          - {name: linear, key_dim: 32, value_dim: 32}
          - {name: linear, key_dim: 32, value_dim: 32, decay: 0.9}
        recipes: [bfloat16]
        """
        let groups = try StudyPlan.expand([try StudyConfig.parse(text, file: "fit.yaml", defaultName: "fit")])
        let recs = try groups.flatMap { try GroupRunner.run($0) }
        let undecayed = try #require(recs.first { $0.workload.gates == "default" })
        let decayed = try #require(recs.first { $0.workload.gates != "default" })
        let s = try #require(undecayed.summary.slope)
        let inRange: Bool = s.slope > 0.3 && s.slope < 0.7
        #expect(inRange, "\(s)")
        #expect(undecayed.theory.law == "sqrt")
        #expect(decayed.theory.law == "saturation")
        let sat = try #require(decayed.summary.saturation)
        let predicted = DriftTheory.decayedSaturation(unitRoundoff: 0x1p-8, decay: 0.9, kappa: DriftTheory.kappaNearest)
        let near: Bool = sat > predicted / 4 && sat < predicted * 4
        #expect(near, "saturation \(sat) vs \(predicted)")
        #expect(decayed.summary.verdict == "ok")
    }
}
