/// A floating-point element format: the bits a value is stored in.
///
/// A descriptor holds only the defining facts (exponent and mantissa widths, bias, which
/// special values exist and how NaN is encoded, whether subnormals exist, whether there is a
/// sign bit). Every limit — largest finite value, smallest normal and subnormal — is derived
/// from those facts, so E4M3's top code being NaN gives 448 (not 480) without being told.
///
/// Every format here is a subset of binary32: `exponentBits ≤ 8`, `mantissaBits ≤ 23`, and
/// every finite value it can hold is exactly a `Float`.
public struct ElementFormat: Hashable, Sendable, CustomStringConvertible {
    /// How NaN is encoded, which also decides whether the top exponent is a normal binade.
    public enum NaNEncoding: String, Hashable, Sendable {
        /// IEEE 754: the top exponent holds Inf (mantissa 0) and NaN (mantissa ≠ 0).
        case ieee
        /// Only the all-ones exponent and mantissa (S.1111.111 in E4M3FN) is NaN; no Inf.
        case allOnes = "all-ones"
        /// The "negative zero" code 1000…0 is the only NaN; there is no −0 and no Inf.
        case negativeZero = "negative-zero"
        /// The format has no NaN (and no Inf): fp6, fp4.
        case none
        /// The all-ones code is NaN (e8m0: 0xFF), with no sign bit.
        case allOnesUnsigned = "all-ones-unsigned"
    }

    public let name: String
    public let exponentBits: Int
    public let mantissaBits: Int
    public let bias: Int
    public let hasInfinity: Bool
    public let nanEncoding: NaNEncoding
    /// Whether exponent field 0 encodes subnormals (false: it is an ordinary binade, as in e8m0).
    public let hasSubnormals: Bool
    public let isSigned: Bool

    public init(
        name: String, exponentBits: Int, mantissaBits: Int, bias: Int,
        hasInfinity: Bool, nanEncoding: NaNEncoding, hasSubnormals: Bool, isSigned: Bool
    ) {
        precondition((1...8).contains(exponentBits) && (0...23).contains(mantissaBits))
        self.name = name
        self.exponentBits = exponentBits
        self.mantissaBits = mantissaBits
        self.bias = bias
        self.hasInfinity = hasInfinity
        self.nanEncoding = nanEncoding
        self.hasSubnormals = hasSubnormals
        self.isSigned = isSigned
    }

    /// An IEEE-style format (Inf and NaN in the top exponent, subnormals, bias 2^(e−1)−1).
    public static func ieeeStyle(exponentBits e: Int, mantissaBits m: Int, name: String? = nil)
        -> ElementFormat
    {
        ElementFormat(
            name: name ?? "e\(e)m\(m)", exponentBits: e, mantissaBits: m, bias: (1 << (e - 1)) - 1,
            hasInfinity: true, nanEncoding: .ieee, hasSubnormals: true, isSigned: true)
    }

    public var description: String { name }

    /// Storage width in bits, sign included.
    public var bitWidth: Int { exponentBits + mantissaBits + (isSigned ? 1 : 0) }

    /// Whether the format can hold zero (e8m0 cannot).
    public var hasZero: Bool { hasSubnormals || nanEncoding != .allOnesUnsigned }

    public var hasNaN: Bool { nanEncoding != .none }

    /// Whether −0 exists (not in the "fnuz" formats, whose negative-zero code is NaN).
    public var hasNegativeZero: Bool { isSigned && nanEncoding != .negativeZero }

    /// Largest exponent field that holds finite values.
    public var maxExponentField: Int {
        nanEncoding == .ieee ? (1 << exponentBits) - 2 : (1 << exponentBits) - 1
    }

    /// Largest mantissa field in the top finite binade (one less where all-ones is NaN).
    public var maxMantissaFieldAtTop: Int {
        switch nanEncoding {
        case .allOnes, .allOnesUnsigned: return (1 << mantissaBits) - 1 - (mantissaBits == 0 ? 0 : 1)
        default: return (1 << mantissaBits) - 1
        }
    }

    /// Exponent field of the top finite binade (e8m0: 0xFE, since 0xFF is NaN).
    var topFiniteExponentField: Int {
        if nanEncoding == .allOnesUnsigned && mantissaBits == 0 { return (1 << exponentBits) - 2 }
        return maxExponentField
    }

    /// Unbiased exponent of the smallest normal binade.
    public var minNormalExponent: Int { hasSubnormals ? 1 - bias : -bias }

    public var maxFinite: Double {
        let top = topFiniteExponentField - bias
        let mant = Double(maxMantissaFieldAtTop) / Double(1 << mantissaBits)
        return (1 + mant) * pow2(top)
    }

    public var minNormal: Double { pow2(minNormalExponent) }

    /// Smallest positive subnormal, or nil when the format has none.
    public var minSubnormal: Double? {
        hasSubnormals ? pow2(minNormalExponent - mantissaBits) : nil
    }

    /// Smallest positive value (the min subnormal, else the min normal).
    public var minPositive: Double { minSubnormal ?? minNormal }

    /// Unit roundoff u = 2^-(m+1) for round-to-nearest.
    public var unitRoundoff: Double { pow2(-(mantissaBits + 1)) }

    /// Largest power of two not above max finite: `emax` of the OCP MX spec.
    public var maxExponent: Int { topFiniteExponentField - bias }

    /// Number of distinct codes.
    public var codeCount: Int { 1 << bitWidth }
}

@inlinable @inline(__always)
func pow2(_ k: Int) -> Double {
    // Exact for every k in the binary64 normal range, which covers all our formats.
    Double(sign: .plus, exponent: k, significand: 1)
}
