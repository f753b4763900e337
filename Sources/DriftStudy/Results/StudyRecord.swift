import Foundation

/// One line of `results.jsonl` (DESIGN.md §9): one (variant, preset, recipe, workload, tokens).
/// Nothing in it varies between runs, so the file is byte-identical for any `--jobs`.
public struct StudyRecord: Codable, Sendable, Equatable {
    public var key: String
    public var variant: String
    public var family: String
    public var preset: String
    public var form: String
    public var recipeName: String
    /// role → canonical spec.
    public var recipe: [String: String]
    public var workload: Workload
    public var tokens: Int
    /// Recorded positions (0-based) and the errors there.
    public var positions: [Int]
    public var outputRelErr: [Double]
    public var outputMaxAbs: [Double]
    /// At the same positions; nil for cache variants (no recurrent state).
    public var stateRelErr: [Double]?
    /// Cosine similarity of the output vectors at the same positions.
    public var outputCosine: [Double]?
    /// Cache variants: ‖Ĉ − C‖_F / ‖C‖_F of the stored cache entries written up to each position.
    public var cacheRelErr: [Double]?
    /// Softmax variants: KL(p ‖ p̂) of query head 0's attention distribution (null where the
    /// exact and the emulated run attended different keys, as sparse selection may).
    public var attentionKL: [Double?]?
    /// Sparse variants: |exact selection ∩ emulated selection| / |exact selection|.
    public var topkOverlap: [Double]?
    public var summary: Summary
    public var theory: Theory
    public var reference: ReferenceInfo

    enum CodingKeys: String, CodingKey {
        case key, variant, family, preset, form, recipe, workload, tokens, positions, summary, theory, reference
        case recipeName = "recipe_name", outputRelErr = "output_rel_err", outputMaxAbs = "output_max_abs"
        case stateRelErr = "state_rel_err", outputCosine = "output_cosine", cacheRelErr = "cache_rel_err"
        case attentionKL = "attention_kl", topkOverlap = "topk_overlap"
    }

    public struct Workload: Codable, Sendable, Equatable {
        public var name: String
        public var input: String
        public var gates: String
        public var seed: UInt64
    }

    /// The error at a fixed length: the mean of output_rel_err over the last min(64, T/16)
    /// positions up to T (state likewise).
    public struct ErrorAt: Codable, Sendable, Equatable {
        public var tokens: Int
        public var outputRelErr: Double
        public var stateRelErr: Double?
        enum CodingKeys: String, CodingKey { case tokens, outputRelErr = "output_rel_err", stateRelErr = "state_rel_err" }
    }

    public struct Crossing: Codable, Sendable, Equatable {
        public var threshold: Double
        /// The first position whose output error exceeds the threshold (nil: never).
        public var position: Int?
    }

    public struct Summary: Codable, Sendable, Equatable {
        public var errorAt: [ErrorAt]
        public var maxOutputRelErr: Double
        /// Log–log slope over [T/64, T] with its 95% interval.
        public var slope: SlopeFit?
        public var stateSlope: SlopeFit?
        /// The level the error settles at when it has stopped growing (nil: still growing).
        public var saturation: Double?
        public var firstCrossing: [Crossing]
        /// NaN or infinite output/state elements over the whole run (any fails every budget).
        public var nonFinite: Int
        /// Non-finite values stored in a cache over the whole run, at any position, recorded or
        /// not (absent when none; any fails every budget).
        public var nonFiniteStored: Int?
        /// The first position at which an output, a state or a stored value was not finite
        /// (absent when none).
        public var firstNonFinite: Int?
        public var bytesPerToken: Double?
        public var stateBytes: Double?
        /// The smallest output cosine similarity over the recorded positions.
        public var minCosine: Double?
        /// cache_rel_err at the last position (cache variants).
        public var cacheRelErr: Double?
        /// The KL divergence of the attention distribution at the last position (softmax).
        public var attentionKL: Double?
        /// Top-k overlap over the positions where the exact selection left keys out (sparse):
        /// its mean and its minimum.
        public var topkOverlapMean: Double?
        public var topkOverlapMin: Double?
        /// Bytes of cache or state for one head at the record's length.
        public var memoryBytes: Double
        /// ok | grows | saturated | fails | nan
        public var verdict: String

        enum CodingKeys: String, CodingKey {
            case errorAt = "error_at", maxOutputRelErr = "max_output_rel_err", slope, stateSlope = "state_slope", saturation
            case firstCrossing = "first_crossing", nonFinite = "non_finite", bytesPerToken = "bytes_per_token"
            case nonFiniteStored = "non_finite_stored", firstNonFinite = "first_non_finite"
            case stateBytes = "state_bytes", memoryBytes = "memory_bytes", verdict
            case minCosine = "min_cosine", cacheRelErr = "cache_rel_err", attentionKL = "attention_kl"
            case topkOverlapMean = "topk_overlap_mean", topkOverlapMin = "topk_overlap_min"
        }

        public func error(at tokens: Int) -> Double? { errorAt.first { $0.tokens == tokens }?.outputRelErr }

        /// Whether anything was not finite: an output or state at a measured position, or a
        /// stored value at any position.
        public var anyNonFinite: Bool { nonFinite > 0 || (nonFiniteStored ?? 0) > 0 }
    }

    /// The prediction of DESIGN.md §7 for this record (law nil: no closed form applies).
    public struct Theory: Codable, Sendable, Equatable {
        /// flat | sqrt | saturation (flat with u = 2^-24 when the cache holds its inputs exactly)
        public var law: String?
        public var unitRoundoff: Double?
        public var kappa: Double?
        public var decay: Double?
        /// The predicted output error at the record's length.
        public var predictedAtEnd: Double?
        /// measured / predicted at the end.
        public var ratio: Double?
        enum CodingKeys: String, CodingKey {
            case law, unitRoundoff = "unit_roundoff", kappa, decay, predictedAtEnd = "predicted_at_end", ratio
        }

        /// The prediction at position t (0-based).
        public func predicted(at t: Int) -> Double? {
            guard let law, let u = unitRoundoff, let k = kappa else { return nil }
            switch law {
            case "flat": return u
            case "sqrt": return DriftTheory.undecayedRelativeRMS(unitRoundoff: u, t: t + 1, kappa: k)
            case "saturation":
                guard let a = decay else { return nil }
                // Grows as the undecayed law until it meets the saturation level.
                return min(DriftTheory.undecayedRelativeRMS(unitRoundoff: u, t: t + 1, kappa: k),
                           DriftTheory.decayedSaturation(unitRoundoff: u, decay: a, kappa: k))
            default: return nil
            }
        }
    }

    /// The fast reference and its certification against MPFR (DESIGN.md §5).
    public struct ReferenceInfo: Codable, Sendable, Equatable {
        public var tier: String
        public var certifiedTokens: Int
        public var bits: Int
        public var fastVsMPFROutput: Double?
        public var fastVsMPFRState: Double?
        public var mpfrPVs2POutput: Double?
        public var mpfrPVs2PState: Double?
        public var pass: Bool?
        /// A later window [start, start + tokens) of a recurrent run: MPFR started from the fast
        /// reference's state at `start`, both stepped over the window (nil: not certified there).
        public var laterStart: Int?
        public var laterTokens: Int?
        public var laterFastVsMPFROutput: Double?
        public var laterFastVsMPFRState: Double?
        enum CodingKeys: String, CodingKey {
            case tier, bits, pass
            case laterStart = "later_start", laterTokens = "later_tokens"
            case laterFastVsMPFROutput = "later_fast_vs_mpfr_output", laterFastVsMPFRState = "later_fast_vs_mpfr_state"
            case certifiedTokens = "certified_tokens", fastVsMPFROutput = "fast_vs_mpfr_output", fastVsMPFRState = "fast_vs_mpfr_state"
            case mpfrPVs2POutput = "mpfr_p_vs_2p_output", mpfrPVs2PState = "mpfr_p_vs_2p_state"
        }
    }
}

/// The JSON conventions of results files: sorted keys, one line per record, NaN and ±∞ as
/// the strings "NaN", "Infinity", "-Infinity" (never silently a number).
public enum StudyJSON {
    public static func encoder(pretty: Bool = false) -> JSONEncoder {
        let e = JSONEncoder()
        e.outputFormatting = pretty ? [.sortedKeys, .withoutEscapingSlashes, .prettyPrinted] : [.sortedKeys, .withoutEscapingSlashes]
        e.nonConformingFloatEncodingStrategy = .convertToString(positiveInfinity: "Infinity", negativeInfinity: "-Infinity", nan: "NaN")
        return e
    }

    public static func decoder() -> JSONDecoder {
        let d = JSONDecoder()
        d.nonConformingFloatDecodingStrategy = .convertFromString(positiveInfinity: "Infinity", negativeInfinity: "-Infinity", nan: "NaN")
        return d
    }

    public static func line(_ r: StudyRecord) throws -> String {
        String(decoding: try encoder().encode(r), as: UTF8.self)
    }

    /// Shortest round-trip text of a number.
    public static func number(_ x: Double) -> String {
        if x == x.rounded() && abs(x) < 1e15 { return String(Int(x)) }
        return "\(x)"
    }
}
