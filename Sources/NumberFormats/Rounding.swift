/// How a value between two representable neighbours is resolved.
public enum RoundingMode: Hashable, Sendable, CustomStringConvertible {
    case nearestEven
    case nearestAway
    case towardZero
    /// Toward +∞.
    case up
    /// Toward −∞.
    case down
    /// Truncate, then set the last code bit when the result is inexact (Boldo–Melquiond).
    case toOdd
    /// Round up with probability equal to the dropped fraction, read to `bits` random bits:
    /// result = ⌊x/q + r/2^bits⌋·q, r uniform in [0, 2^bits). With at least as many random
    /// bits as dropped bits it is exactly unbiased; with fewer, the bits below are truncated.
    case stochastic(bits: Int)

    public static let defaultStochasticBits = 32

    public var description: String {
        switch self {
        case .nearestEven: return "nearest-even"
        case .nearestAway: return "nearest-away"
        case .towardZero: return "toward-zero"
        case .up: return "up"
        case .down: return "down"
        case .toOdd: return "round-to-odd"
        case .stochastic(let b):
            return b == RoundingMode.defaultStochasticBits ? "stochastic" : "stochastic:\(b)"
        }
    }

    public var isStochastic: Bool { if case .stochastic = self { return true } else { return false } }

    /// The spellings accepted in spec strings and on the command line.
    public static let vocabulary = [
        "nearest-even", "nearest-away", "toward-zero", "up", "down", "round-to-odd", "stochastic",
        "stochastic:N",
    ]

    public init?(parsing s: String) {
        switch s.lowercased() {
        case "nearest-even", "rne", "nearest": self = .nearestEven
        case "nearest-away", "rna": self = .nearestAway
        case "toward-zero", "rtz", "truncate": self = .towardZero
        case "up", "toward-positive", "rup": self = .up
        case "down", "toward-negative", "rdn": self = .down
        case "round-to-odd", "odd", "rto": self = .toOdd
        case "stochastic", "sr": self = .stochastic(bits: RoundingMode.defaultStochasticBits)
        default:
            let l = s.lowercased()
            for prefix in ["stochastic:", "sr:"] where l.hasPrefix(prefix) {
                if let b = Int(l.dropFirst(prefix.count)), (1...32).contains(b) {
                    self = .stochastic(bits: b)
                    return
                }
            }
            return nil
        }
    }
}

/// What happens to a finite value whose rounded magnitude exceeds the largest finite one.
public enum OverflowPolicy: String, Hashable, Sendable, CaseIterable {
    /// Clamp to ±max finite — also ±Inf inputs (ONNX `saturate`, PTX `.satfinite`).
    case saturate
    /// IEEE 754 §7.4: ±Inf for the nearest modes (and stochastic), max finite for a directed
    /// mode rounding toward zero from that side; NaN where the format has no Inf; formats with
    /// neither Inf nor NaN saturate (ml_dtypes' behaviour).
    case ieee
}

extension ElementFormat {
    /// The overflow policy used when a spec names none: `ieee` for formats of 16 bits or more
    /// (what a bf16/fp16 conversion instruction does), `saturate` for 8 bits and fewer (what
    /// fp8/fp4 KV-cache and MX kernels do).
    public var defaultOverflow: OverflowPolicy { bitWidth >= 16 ? .ieee : .saturate }
}
