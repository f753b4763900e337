/// Binary floating-point types the rounder reads bit by bit (binary32 and binary64).
public protocol BinaryInterchangeFloat: BinaryFloatingPoint, Sendable {
    associatedtype Bits: FixedWidthInteger & UnsignedInteger & Sendable
    /// Stored significand bits (23, 52).
    static var storedSignificandBits: Int { get }
    static var interchangeBias: Int { get }
    var interchangeBits: Bits { get }
    init(interchangeBits: Bits)
}

extension Float: BinaryInterchangeFloat {
    public static var storedSignificandBits: Int { 23 }
    public static var interchangeBias: Int { 127 }
    @inlinable public var interchangeBits: UInt32 { bitPattern }
    @inlinable public init(interchangeBits b: UInt32) { self.init(bitPattern: b) }
}

extension Double: BinaryInterchangeFloat {
    public static var storedSignificandBits: Int { 52 }
    public static var interchangeBias: Int { 1023 }
    @inlinable public var interchangeBits: UInt64 { bitPattern }
    @inlinable public init(interchangeBits b: UInt64) { self.init(bitPattern: b) }
}

/// Rounds binary32/binary64 values into one element format with one rounding mode and one
/// overflow policy, producing codes (the stored bits) or values (quantize → dequantize).
///
/// The algorithm works on the input's bits and is exact: the significand (implicit bit
/// included) is shifted right by the number of bits the target cannot hold at that exponent
/// — more in the target's subnormal range — and the dropped bits decide the rounding. The
/// exponent range is unbounded during rounding; overflow is judged after rounding, as IEEE 754
/// §7.4 says (so 464 → 448 in E4M3FN by ties-to-even, and 465 overflows).
///
/// Edge Cases:
/// - NaN in: the value path returns NaN; the code is the format's NaN (sign kept where the
///   format has signed NaNs). Formats without NaN (fp6, fp4) get the −0 code for every NaN
///   (ml_dtypes gives −0 for +NaN but +0 for −NaN); callers that write codes count such
///   inputs and report them.
/// - fnuz formats have no −0: a negative value that rounds to zero gives +0.
/// - e8m0 (no zero, no sign): zero, negative values and NaN give NaN (0xFF); values below
///   2^-127 give 2^-127; ties round away from zero, as ml_dtypes does. (ml_dtypes sends every
///   binary32 subnormal in (2^-127, 2^-126) up to 2^-126; here they round to nearest.)
/// - `flushSubnormals`: a result that would be subnormal becomes ±0 (GPU FTZ on output).
public struct ElementRounder: Sendable, Hashable {
    public let format: ElementFormat
    public let rounding: RoundingMode
    public let overflow: OverflowPolicy
    public let flushSubnormals: Bool

    @usableFromInline let m: Int
    @usableFromInline let bias: Int
    @usableFromInline let minNormalExponent: Int
    @usableFromInline let topExponent: Int  // unbiased exponent of the top finite binade
    @usableFromInline let maxTopSignificand: UInt64  // 2^m + max mantissa at top
    @usableFromInline let signShift: Int
    @usableFromInline let isE8M0: Bool
    @usableFromInline let modeTag: Int  // 0 RNE 1 RNA 2 RZ 3 up 4 down 5 odd 6 stochastic
    @usableFromInline let randomBits: Int

    public init(
        format: ElementFormat, rounding: RoundingMode = .nearestEven,
        overflow: OverflowPolicy? = nil, flushSubnormals: Bool = false
    ) {
        self.format = format
        self.rounding = rounding
        self.overflow = overflow ?? format.defaultOverflow
        self.flushSubnormals = flushSubnormals
        m = format.mantissaBits
        bias = format.bias
        minNormalExponent = format.minNormalExponent
        topExponent = format.topFiniteExponentField - format.bias
        maxTopSignificand = UInt64((1 << format.mantissaBits) + format.maxMantissaFieldAtTop)
        signShift = format.exponentBits + format.mantissaBits
        isE8M0 = format.nanEncoding == .allOnesUnsigned
        switch rounding {
        case .nearestEven: modeTag = 0; randomBits = 0
        case .nearestAway: modeTag = 1; randomBits = 0
        case .towardZero: modeTag = 2; randomBits = 0
        case .up: modeTag = 3; randomBits = 0
        case .down: modeTag = 4; randomBits = 0
        case .toOdd: modeTag = 5; randomBits = 0
        case .stochastic(let b):
            precondition((1...32).contains(b), "stochastic rounding takes 1...32 random bits")
            modeTag = 6; randomBits = b
        }
    }

    // MARK: codes

    /// The format's NaN code for an input of the given sign.
    @inlinable public func nanCode(negative: Bool) -> UInt32 {
        switch format.nanEncoding {
        case .ieee:
            let q: UInt32 = m > 0 ? 1 << (m - 1) : 0
            return (negative ? 1 << signShift : 0) | (UInt32((1 << format.exponentBits) - 1) << m) | q
        case .allOnes:
            return (negative ? 1 << signShift : 0) | ((1 << signShift) - 1)
        case .negativeZero, .none:
            return 1 << signShift
        case .allOnesUnsigned:
            return (1 << signShift) - 1
        }
    }

    @inlinable var maxFiniteMagnitudeCode: UInt32 {
        if isE8M0 { return UInt32(topExponent + bias) }
        return UInt32((topExponent + bias) << m) | UInt32(maxTopSignificand - (1 << m))
    }

    @inlinable func infCode(negative: Bool) -> UInt32 {
        (negative ? 1 << signShift : 0) | (UInt32((1 << format.exponentBits) - 1) << m)
    }

    /// The code of the overflowed result of a finite input (or an Inf input under `saturate`).
    @inlinable func overflowCode(negative: Bool, infiniteInput: Bool) -> UInt32 {
        let sign: UInt32 = negative && format.isSigned ? 1 << signShift : 0
        if overflow == .saturate { return sign | maxFiniteMagnitudeCode }
        let toInfinity: Bool
        if infiniteInput {
            toInfinity = true
        } else {
            switch modeTag {
            case 0, 1, 6: toInfinity = true
            case 3: toInfinity = !negative
            case 4: toInfinity = negative
            default: toInfinity = false
            }
        }
        if !toInfinity { return sign | maxFiniteMagnitudeCode }
        if format.hasInfinity { return infCode(negative: negative) }
        if format.hasNaN { return nanCode(negative: negative) }
        return sign | maxFiniteMagnitudeCode
    }

    /// Encodes `x` (binary32 or binary64) as a code of the format. `random` feeds stochastic
    /// rounding (its low `bits` are used) and is ignored by the other modes.
    @inlinable public func encode<F: BinaryInterchangeFloat>(_ x: F, random: UInt32 = 0) -> UInt32 {
        if isE8M0 { return encodeE8M0(Double(x), random: random) }
        let sigBits = F.storedSignificandBits
        let bits = x.interchangeBits
        let negative = (bits >> (F.Bits.bitWidth - 1)) != 0
        let absMask: F.Bits = ~(1 << (F.Bits.bitWidth - 1))
        let a = bits & absMask
        let infBits = F.Bits((1 << (F.Bits.bitWidth - 1 - sigBits)) - 1) << sigBits
        if a > infBits { return nanCode(negative: negative) }
        if a == infBits { return overflowCode(negative: negative, infiniteInput: true) }
        let e = Int(truncatingIfNeeded: a >> sigBits)
        let eEff = max(e, 1)
        let sig = UInt64(truncatingIfNeeded: a & ((1 << sigBits) - 1)) | (e != 0 ? 1 << sigBits : 0)
        let targetMinBiased = minNormalExponent + F.interchangeBias
        let d = (sigBits - m) + max(0, targetMinBiased - eEff)
        let dc = min(d, sigBits + 3)
        var qexp = max(eEff, targetMinBiased) - F.interchangeBias - m
        // Stochastic rounding needs the true drop: capping it would raise the round-up
        // probability of inputs far below the least subnormal (`>>` by ≥ 64 gives 0).
        var r = roundSignificand(
            sig, drop: modeTag == 6 ? d : dc, negative: negative, qexp: qexp, random: random)
        if r >> (m + 1) != 0 {  // carried into the next binade: r == 2^(m+1)
            r >>= 1
            qexp += 1
        }
        let sign: UInt32 = negative ? 1 << signShift : 0
        if r == 0 { return format.hasNegativeZero ? sign : 0 }
        if r < (1 << m) {  // subnormal result
            if flushSubnormals { return format.hasNegativeZero ? sign : 0 }
            return sign | UInt32(r)
        }
        if qexp > topExponent - m || (qexp == topExponent - m && r > maxTopSignificand) {
            return overflowCode(negative: negative, infiniteInput: false)
        }
        return sign | (UInt32(qexp + m + bias - 1) << m) &+ UInt32(r)
    }

    /// Rounds the integer significand `sig` by dropping `drop` low bits.
    @inlinable func roundSignificand(
        _ sig: UInt64, drop dc: Int, negative: Bool, qexp: Int, random: UInt32
    ) -> UInt64 {
        if modeTag == 6 {
            let rb = randomBits
            let rnd = UInt64(random) & ((1 << rb) - 1)
            let t = (sig >> max(dc - rb, 0)) << max(rb - dc, 0)
            return (t + rnd) >> rb
        }
        let trunc = sig >> dc
        let rem = sig & ((1 << dc) - 1)
        if rem == 0 { return trunc }
        let half: UInt64 = 1 << (dc - 1)
        let codeOdd: Bool
        if m > 0 {
            codeOdd = trunc & 1 == 1
        } else {
            codeOdd = (Int(truncatingIfNeeded: trunc) + qexp + bias - 1) & 1 == 1
        }
        let up: Bool
        switch modeTag {
        case 0: up = rem > half || (rem == half && codeOdd)
        case 1: up = rem >= half
        case 2: up = false
        case 3: up = !negative
        case 4: up = negative
        default: up = !codeOdd
        }
        return up ? trunc + 1 : trunc
    }

    @inlinable func encodeE8M0(_ x: Double, random: UInt32) -> UInt32 {
        let nan: UInt32 = 0xFF
        if x.isNaN || x <= 0 { return nan }
        if x.isInfinite { return overflow == .saturate ? UInt32(topExponent + bias) : nan }
        if x < format.minNormal { return 0 }
        let bits = x.bitPattern
        let e = Int(bits >> 52)  // x ≥ 2^-127, so x is a normal double
        let sig = (bits & ((1 << 52) - 1)) | (1 << 52)
        var qexp = e - 1023
        var r: UInt64
        let rem = sig & ((1 << 52) - 1)
        let half: UInt64 = 1 << 51
        switch modeTag {
        case 0, 1: r = rem >= half ? 2 : 1  // ties away, as ml_dtypes
        case 2, 4: r = 1
        case 3: r = rem != 0 ? 2 : 1
        case 5: r = (rem != 0 && (qexp + bias) & 1 == 0) ? 2 : 1
        default:
            let rb = randomBits
            let rnd = UInt64(random) & ((1 << rb) - 1)
            r = ((sig >> (52 - rb)) + rnd) >> rb
        }
        if r == 2 { qexp += 1 }
        if qexp > topExponent { return overflowCode(negative: false, infiniteInput: false) }
        return UInt32(qexp + bias)
    }

    // MARK: values

    /// The value of a code, as a binary32 (exact: every format here is a subset of binary32).
    @inlinable public func decode(_ code: UInt32) -> Float {
        Float(decodeDouble(code))
    }

    @inlinable public func decodeDouble(_ code: UInt32) -> Double {
        ElementFormat.decode(code, format: format)
    }

    /// Quantize → dequantize: the stored value of `x`, NaN for NaN input.
    @inlinable public func round<F: BinaryInterchangeFloat>(_ x: F, random: UInt32 = 0) -> F {
        if x.isNaN { return x }
        return F(decodeDouble(encode(x, random: random)))
    }
}

extension ElementFormat {
    /// The value a code stands for (NaN codes give NaN, Inf codes ±Inf).
    @inlinable public static func decode(_ code: UInt32, format f: ElementFormat) -> Double {
        let m = f.mantissaBits
        let eBits = f.exponentBits
        let mask = UInt32((1 << (eBits + m)) - 1)
        let negative = f.isSigned && (code >> (eBits + m)) & 1 == 1
        let mag = code & mask
        let expField = Int(mag >> m)
        let mant = Int(mag & ((1 << m) - 1))
        let allOnesExp = (1 << eBits) - 1
        switch f.nanEncoding {
        case .ieee:
            if expField == allOnesExp {
                if mant != 0 { return .nan }
                return negative ? -.infinity : .infinity
            }
        case .allOnes:
            if expField == allOnesExp && mant == (1 << m) - 1 { return .nan }
        case .negativeZero:
            if negative && mag == 0 { return .nan }
        case .allOnesUnsigned:
            if mag == mask { return .nan }
        case .none:
            break
        }
        let v: Double
        if f.hasSubnormals && expField == 0 {
            v = Double(mant) * pow2(1 - f.bias - m)
        } else {
            v = Double((1 << m) + mant) * pow2(expField - f.bias - m)
        }
        return negative ? -v : v
    }
}
