/// How far a fast reference is from MPFR, and MPFR at P bits from MPFR at 2P bits
/// (DESIGN.md §5, the contract of `attnprec reference certify` in §9).
public struct CertificationResult: Codable, Sendable, Equatable {
    public struct Distances: Codable, Sendable, Equatable {
        public var outputMaxRel: Double
        public var stateMaxRel: Double?
        enum CodingKeys: String, CodingKey {
            case outputMaxRel = "output_max_rel"
            case stateMaxRel = "state_max_rel"
        }
    }

    public var variant: String
    public var form: String
    public var tokens: Int
    public var bits: Int
    public var tier: String
    public var fastVsMPFR: Distances
    public var mpfrPVs2P: Distances
    public var pass: Bool

    enum CodingKeys: String, CodingKey {
        case variant, form, tokens, bits, tier
        case fastVsMPFR = "fast_vs_mpfr"
        case mpfrPVs2P = "mpfr_p_vs_2p"
        case pass
    }
}

public enum ReferenceCertification {
    /// The largest fast-tier distance from MPFR that certifies it.
    public static let fastThreshold = 1e-10
    /// The largest MPFR-P vs MPFR-2P distance that certifies P: 2^−(P−20).
    public static func precisionThreshold(bits: Int) -> Double { Double(sign: .plus, exponent: -(bits - 20), significand: 1) }

    /// Runs `make(tier)` for the fast tier, MPFR at `bits` and MPFR at 2·`bits`, compares the
    /// fast tier with MPFR-P over the first `tokens` positions and MPFR-P with MPFR-2P over the
    /// first min(`tokens`, `doublePrecisionTokens`), outputs at every position and states at
    /// `Lockstep.defaultStateSample` positions plus the last.
    public static func certify(
        variant: String, form: String, tokens: Int, bits: Int, fastTier: BackendTier,
        doublePrecisionTokens: Int = 256, make: (BackendTier) throws -> SteppedRun
    ) rethrows -> CertificationResult {
        let fast = try make(fastTier)
        let ref = try make(.mpfr(bits: bits))
        let a = Lockstep.run(reference: ref, approximation: fast, tokens: tokens, comparison: .exact)
        let p = try make(.mpfr(bits: bits))
        let p2 = try make(.mpfr(bits: 2 * bits))
        let b = Lockstep.run(reference: p2, approximation: p, tokens: min(tokens, doublePrecisionTokens), comparison: .exact)
        let hasState = fast.stateCount > 0
        let fastD = CertificationResult.Distances(outputMaxRel: a.outputMaxRelative, stateMaxRel: hasState ? a.stateMaxRelative : nil)
        let pD = CertificationResult.Distances(outputMaxRel: b.outputMaxRelative, stateMaxRel: hasState ? b.stateMaxRelative : nil)
        let limit = precisionThreshold(bits: bits)
        let pass = fastD.outputMaxRel <= fastThreshold && (fastD.stateMaxRel ?? 0) <= fastThreshold
            && pD.outputMaxRel <= limit && (pD.stateMaxRel ?? 0) <= limit
            && a.nonFinite == 0 && b.nonFinite == 0
        return CertificationResult(
            variant: variant, form: form, tokens: tokens, bits: bits, tier: fastTier.description,
            fastVsMPFR: fastD, mpfrPVs2P: pD, pass: pass)
    }
}
