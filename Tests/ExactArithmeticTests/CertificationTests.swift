import ExactArithmetic
import Foundation
import Testing
@testable import AttentionVariants

/// `ReferenceCertification`: a double-precision tier passes against MPFR, a weak one fails.
@Suite struct CertificationTests {
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
