import Foundation

/// A parsed format spec string: `NAME[/GRANULARITY][/SCALE-RULE][/ROUNDING][/OVERFLOW]`.
///
/// Each part is recognised by its own vocabulary, so parts may come in any order after the
/// name: `bfloat16`, `bfloat16/stochastic`, `float8_e4m3fn/per-token`,
/// `float8_e4m3fn/block:128/pow2`, `mxfp4`, `mxfp4/ceil`, `nvfp4`, `int4/group:32/asym`,
/// `e3m4/toward-zero`. An unknown part is an error that lists what would have been valid.
public typealias FormatSpecError = InputError

/// Where one scale applies. Axes: the last axis is the channel axis, the one before it the
/// token axis, any leading axes are heads/batch.
public enum Granularity: Hashable, Sendable, CustomStringConvertible {
    case perTensor
    case perHead
    case perToken
    case perChannel
    /// N contiguous elements along the last axis; a shorter last block uses its own absmax.
    case block(Int)
    /// Per-channel scales over each group of N consecutive tokens (KIVI's key cache). Only
    /// full groups are quantized; the newest partial group stays at compute precision.
    case group(Int)

    public var description: String {
        switch self {
        case .perTensor: return "per-tensor"
        case .perHead: return "per-head"
        case .perToken: return "per-token"
        case .perChannel: return "per-channel"
        case .block(let n): return "block:\(n)"
        case .group(let n): return "group:\(n)"
        }
    }

    static let vocabulary = ["per-tensor", "per-head", "per-token", "per-channel", "block:N", "group:N"]

    init?(parsing s: String) {
        switch s {
        case "per-tensor", "tensor": self = .perTensor
        case "per-head", "head": self = .perHead
        case "per-token", "token", "per-row": self = .perToken
        case "per-channel", "channel": self = .perChannel
        default:
            for (prefix, make) in [("block:", Granularity.block), ("group:", Granularity.group)]
            where s.hasPrefix(prefix) {
                guard let n = Int(s.dropFirst(prefix.count)), n >= 1, n <= 1 << 20 else { return nil }
                self = make(n)
                return
            }
            return nil
        }
    }
}

/// How a scale is computed from the values it covers.
public enum ScaleRule: Hashable, Sendable, CustomStringConvertible {
    /// s = absmax / max-finite, kept as fp32.
    case absmax
    /// s = 2^ceil(log2(absmax / max-finite)) (DeepSeek's ue8m0 rule); stored as e8m0.
    case pow2
    /// A fixed, calibrated scale.
    case fixed(Float)
    /// MX shared exponent (OCP MX v1.0 §6.3 and the variants argued about).
    case mx(MXScaleRule)
    /// NVFP4: E4M3 block scale, with or without the fp32 tensor scale amax/(448·6).
    case nvfp4(tensorScale: Bool)

    public var description: String {
        switch self {
        case .absmax: return "absmax"
        case .pow2: return "pow2"
        case .fixed(let s): return "fixed:\(s)"
        case .mx(let r): return r.rawValue
        case .nvfp4(let t): return t ? "tensor-scale" : "no-tensor-scale"
        }
    }
}

public enum MXScaleRule: String, Hashable, Sendable, CaseIterable {
    /// OCP v1.0: X = 2^(floor(log2 amax) − emax_elem); elements that exceed max are clamped.
    case floor
    /// X = 2^(ceil(log2 amax) − emax_elem): never clips, loses up to one binade.
    case ceil
    /// amax first rounded (half up) to the element's mantissa width, then `floor`: the block
    /// maximum is not clipped when it would round into the next binade.
    case even
    /// NVIDIA (cuBLAS block scaling): X = 2^ceil(log2(amax / max_elem)).
    case rceil
}

public enum IntegerKind: Hashable, Sendable {
    case symmetric
    case asymmetric
}

/// What each element is stored as.
public enum ElementKind: Hashable, Sendable {
    case float(ElementFormat)
    /// Two's complement (symmetric: codes −(2^(b−1)−1)…2^(b−1)−1) or unsigned with a zero
    /// point (asymmetric: 0…2^b−1).
    case integer(bits: Int, IntegerKind)
}

/// A quantizer: element format + scale rule + granularity + rounding + overflow policy.
public struct FormatSpec: Hashable, Sendable, CustomStringConvertible {
    /// Canonical family name (`float8_e4m3fn`, `mxfp4`, `nvfp4`, `int4` …).
    public let name: String
    public let element: ElementKind
    /// nil: unscaled (each element rounded directly into the element format).
    public let granularity: Granularity?
    public let scaleRule: ScaleRule?
    public let rounding: RoundingMode
    public let overflow: OverflowPolicy
    public let flushSubnormals: Bool

    public init(
        name: String, element: ElementKind, granularity: Granularity?, scaleRule: ScaleRule?,
        rounding: RoundingMode = .nearestEven, overflow: OverflowPolicy? = nil,
        flushSubnormals: Bool = false
    ) {
        self.name = name
        self.element = element
        self.granularity = granularity
        self.scaleRule = scaleRule
        self.rounding = rounding
        if let o = overflow {
            self.overflow = o
        } else if case .float(let f) = element {
            self.overflow = (granularity == nil) ? f.defaultOverflow : .saturate
        } else {
            self.overflow = .saturate
        }
        self.flushSubnormals = flushSubnormals
    }

    /// The element rounder (float elements only).
    public var elementRounder: ElementRounder? {
        guard case .float(let f) = element else { return nil }
        return ElementRounder(format: f, rounding: rounding, overflow: overflow, flushSubnormals: flushSubnormals)
    }

    public var isScaled: Bool { granularity != nil }

    /// The canonical spec string: the same quantizer always prints the same string.
    public var description: String {
        var parts = [name]
        let defaults = FormatSpec.familyDefaults(name)
        if let g = granularity, g != defaults?.granularity { parts.append(g.description) }
        if let r = scaleRule, r != (defaults?.scaleRule ?? .absmax) { parts.append(r.description) }
        if case .integer(_, .asymmetric) = element { parts.append("asym") }
        if rounding != .nearestEven { parts.append(rounding.description) }
        let defaultOverflow = FormatSpec(
            name: name, element: element, granularity: granularity, scaleRule: scaleRule
        ).overflow
        if overflow != defaultOverflow { parts.append(overflow.rawValue) }
        if flushSubnormals { parts.append("flush") }
        return parts.joined(separator: "/")
    }

    /// Storage bits per element, scales included, for a tensor of this shape.
    public func bitsPerElement(shape: [Int]) -> Double {
        guard let g = granularity else { return elementBits }
        let count = max(1, shape.reduce(1, *))
        let layout = ScaleLayout(shape: shape, granularity: g)
        var scaleBits = Double(scaleStorageBits)
        if case .integer(_, .asymmetric) = element { scaleBits += 32 }  // the fp32 minimum
        var total = Double(layout.scaleCount) * scaleBits
        if case .nvfp4(true) = scaleRule { total += 32 }
        return elementBits + total / Double(count)
    }

    /// Bits of one element's code.
    public var elementBits: Double {
        switch element {
        case .float(let f): return Double(f.bitWidth)
        case .integer(let b, _): return Double(b)
        }
    }

    /// Whether the format has one static scale for the whole tensor (`per-tensor/fixed:S`): a
    /// growing cache rounds each row with it as it arrives and stores it once.
    public var hasStaticTensorScale: Bool {
        if case .fixed = scaleRule, granularity == .perTensor { return true }
        return false
    }

    /// Bits per element of a row of `width` appended to a growing cache: the codes and the row's
    /// scales (group:N: the group's scales amortised over its N rows; a static per-tensor scale is
    /// stored once per cache and not counted).
    public func cacheBitsPerElement(width: Int) -> Double {
        if hasStaticTensorScale { return elementBits }
        if case .group(let n)? = granularity { return bitsPerElement(shape: [n, width]) }
        return bitsPerElement(shape: [1, width])
    }

    /// Bits of one stored scale.
    public var scaleStorageBits: Int {
        switch scaleRule {
        case .mx, .pow2: return 8
        case .nvfp4: return 8
        default: return 32
        }
    }

    // MARK: parsing

    struct FamilyDefaults {
        var element: ElementKind
        var granularity: Granularity?
        var scaleRule: ScaleRule?
    }

    static func familyDefaults(_ name: String) -> FamilyDefaults? {
        switch name {
        case "mxfp8_e4m3": return .init(element: .float(.float8_e4m3fn), granularity: .block(32), scaleRule: .mx(.floor))
        case "mxfp8_e5m2": return .init(element: .float(.float8_e5m2), granularity: .block(32), scaleRule: .mx(.floor))
        case "mxfp6_e2m3": return .init(element: .float(.float6_e2m3fn), granularity: .block(32), scaleRule: .mx(.floor))
        case "mxfp6_e3m2": return .init(element: .float(.float6_e3m2fn), granularity: .block(32), scaleRule: .mx(.floor))
        case "mxfp4": return .init(element: .float(.float4_e2m1fn), granularity: .block(32), scaleRule: .mx(.floor))
        case "mxint8": return .init(element: .integer(bits: 8, .symmetric), granularity: .block(32), scaleRule: .mx(.floor))
        case "nvfp4": return .init(element: .float(.float4_e2m1fn), granularity: .block(16), scaleRule: .nvfp4(tensorScale: true))
        case "int8", "int4", "int2":
            return .init(element: .integer(bits: Int(name.dropFirst(3))!, .symmetric), granularity: .perTensor, scaleRule: .absmax)
        default: return nil
        }
    }

    static let familyAliases = [
        "mxfp8": "mxfp8_e4m3", "mxfp6": "mxfp6_e2m3", "mxfp4_e2m1": "mxfp4",
    ]

    public static let familyNames = [
        "mxfp8_e4m3", "mxfp8_e5m2", "mxfp6_e2m3", "mxfp6_e3m2", "mxfp4", "mxint8", "nvfp4",
        "int8", "int4", "int2",
    ]

    static var validNames: String {
        (ElementFormat.named.map(\.name) + familyNames + ["eXmY"]).joined(separator: ", ")
    }

    /// Parses a spec string; `context` (e.g. "--format" or "recipe role state") prefixes errors.
    public static func parse(_ text: String) throws -> FormatSpec {
        let trimmed = text.trimmingCharacters(in: .whitespaces)
        let parts = trimmed.split(separator: "/", omittingEmptySubsequences: false).map {
            String($0).trimmingCharacters(in: .whitespaces).lowercased()
        }
        guard let head = parts.first, !head.isEmpty else {
            throw FormatSpecError("empty format spec; expected NAME[/GRANULARITY][/SCALE-RULE][/ROUNDING][/OVERFLOW] with NAME one of: \(validNames)")
        }
        let familyName = familyAliases[head] ?? head
        var element: ElementKind
        var name: String
        var granularity: Granularity?
        var scaleRule: ScaleRule?
        let family = familyDefaults(familyName)
        if let fam = family {
            element = fam.element
            name = familyName
            granularity = familyName.hasPrefix("int") ? nil : fam.granularity
            scaleRule = familyName.hasPrefix("int") ? nil : fam.scaleRule
        } else if let f = ElementFormat.named(head) {
            element = .float(f)
            name = f.name
        } else if let (e, m) = customWidths(head) {
            throw FormatSpecError(
                "format '\(head)' in '\(text)': a custom eXmY format needs 2 ≤ X ≤ 8 exponent bits and 0 ≤ Y ≤ 23 mantissa bits (every format here fits in binary32); got X = \(e), Y = \(m)")
        } else {
            throw FormatSpecError("unknown format '\(head)' in '\(text)'; valid: \(validNames)")
        }
        let isMX = familyName.hasPrefix("mx")
        let isNV = familyName == "nvfp4"
        let isInt = familyName.hasPrefix("int")
        var rounding: RoundingMode?
        var overflow: OverflowPolicy?
        var flush = false
        var asym: Bool?
        for part in parts.dropFirst() {
            if part.isEmpty { throw FormatSpecError("empty part in format spec '\(text)'") }
            if let g = Granularity(parsing: part) {
                if isMX || isNV {
                    if g != family?.granularity {
                        throw FormatSpecError("'\(part)' in '\(text)': \(familyName) has a fixed granularity (\(family!.granularity!))")
                    }
                } else if granularity != nil {
                    throw FormatSpecError("two granularities in '\(text)'")
                }
                granularity = g
            } else if let r = RoundingMode(parsing: part) {
                if rounding != nil { throw FormatSpecError("two rounding modes in '\(text)'") }
                rounding = r
            } else if let o = OverflowPolicy(rawValue: part) {
                if overflow != nil { throw FormatSpecError("two overflow policies in '\(text)'") }
                overflow = o
            } else if part == "flush" || part == "ftz" {
                flush = true
            } else if isMX, let rule = MXScaleRule(rawValue: part) {
                scaleRule = .mx(rule)
            } else if isNV, part == "tensor-scale" || part == "no-tensor-scale" {
                scaleRule = .nvfp4(tensorScale: part == "tensor-scale")
            } else if isInt, part == "sym" || part == "asym" || part == "symmetric" || part == "asymmetric" {
                asym = part.hasPrefix("asym")
            } else if !isMX && !isNV && (part == "absmax" || part == "pow2" || part.hasPrefix("fixed:")) {
                if scaleRule != nil { throw FormatSpecError("two scale rules in '\(text)'") }
                scaleRule = try scaleRulePart(part, in: text, integer: isInt)
            } else {
                throw unknownPart(part, in: text, mx: isMX, nv: isNV, integer: isInt)
            }
        }
        if isInt {
            if asym == true { element = .integer(bits: Int(familyName.dropFirst(3))!, .asymmetric) }
            if granularity == nil { granularity = .perTensor }
            if scaleRule == nil { scaleRule = .absmax }
        } else if !isMX && !isNV {
            if scaleRule != nil && granularity == nil { granularity = .perTensor }
            if granularity != nil && scaleRule == nil { scaleRule = .absmax }
        }
        try checkCombination(element, granularity, scaleRule, in: text)
        return FormatSpec(
            name: name, element: element, granularity: granularity, scaleRule: scaleRule,
            rounding: rounding ?? .nearestEven, overflow: overflow, flushSubnormals: flush)
    }

    /// Combinations the parts allow one at a time but not together.
    static func checkCombination(_ element: ElementKind, _ granularity: Granularity?, _ scaleRule: ScaleRule?, in text: String) throws {
        if case .integer = element, case .mx(let rule) = scaleRule, rule == .rceil || rule == .even {
            throw FormatSpecError("'\(rule.rawValue)' in '\(text)': mxint8 takes floor or ceil")
        }
        if case .float(let f) = element, f == .float8_e8m0fnu, granularity != nil {
            throw FormatSpecError("'\(text)': e8m0 has no sign and no zero; it is a scale format, not a scaled element format")
        }
    }

    /// The scale rule a part `absmax`, `pow2` or `fixed:S` names (not for MX or NVFP4 formats).
    static func scaleRulePart(_ part: String, in text: String, integer: Bool) throws -> ScaleRule {
        if part.hasPrefix("fixed:") {
            guard let v = Float(part.dropFirst(6)), v.isFinite, v > 0 else {
                throw FormatSpecError("'\(part)' in '\(text)': fixed scale must be a positive finite number")
            }
            return .fixed(v)
        }
        if part == "pow2" && integer {
            throw FormatSpecError("'pow2' in '\(text)': integer formats take absmax or fixed:S scales")
        }
        return part == "absmax" ? .absmax : .pow2
    }

    /// The exponent and mantissa widths `eXmY` spells (any digits), for the message when they are
    /// out of range.
    static func customWidths(_ head: String) -> (String, String)? {
        guard head.first == "e", let mIndex = head.firstIndex(of: "m") else { return nil }
        let e = head[head.index(after: head.startIndex)..<mIndex], m = head[head.index(after: mIndex)...]
        let digits: (Substring) -> Bool = { !$0.isEmpty && $0.allSatisfy { ("0"..."9").contains($0) } }
        return digits(e) && digits(m) ? (String(e), String(m)) : nil
    }

    /// The error for a sized part (`block:N`, `group:N`, `stochastic:N`, `sr:N`) whose size is
    /// out of range, stating the range; nil for any other part.
    static func rangeError(_ part: String, in text: String) -> FormatSpecError? {
        let sized: [(prefix: String, what: String, range: ClosedRange<Int>)] = [
            ("block:", "block size", 1...(1 << 20)), ("group:", "group size", 1...(1 << 20)),
            ("stochastic:", "stochastic-rounding random bits", 1...32), ("sr:", "stochastic-rounding random bits", 1...32),
        ]
        for s in sized where part.hasPrefix(s.prefix) {
            let value = part.dropFirst(s.prefix.count)
            let problem = Int(value) == nil ? "is not an integer" : "is out of range"
            return FormatSpecError(
                "'\(part)' in '\(text)': \(s.what) '\(value)' \(problem); expected an integer in \(s.range.lowerBound)...\(s.range.upperBound)")
        }
        return nil
    }

    /// The error for a part no rule of this family reads, listing the parts it does read.
    static func unknownPart(_ part: String, in text: String, mx: Bool, nv: Bool, integer: Bool) -> FormatSpecError {
        if let e = rangeError(part, in: text) { return e }
        var valid = Granularity.vocabulary
        if mx { valid += MXScaleRule.allCases.map(\.rawValue) }
        else if nv { valid += ["tensor-scale", "no-tensor-scale"] }
        else { valid += ["absmax", "pow2", "fixed:S"] }
        if integer { valid += ["sym", "asym"] }
        valid += RoundingMode.vocabulary + OverflowPolicy.allCases.map(\.rawValue) + ["flush"]
        return FormatSpecError("unknown part '\(part)' in format spec '\(text)'; valid parts: \(valid.joined(separator: ", "))")
    }

    /// This spec with its rounding mode and overflow policy replaced where given, as
    /// `formats quantize --rounding/--overflow` name them (errors name those options).
    public func overriding(rounding: String?, overflow: String?) throws -> FormatSpec {
        var mode = self.rounding
        var policy = self.overflow
        if let r = rounding {
            guard let m = RoundingMode(parsing: r) else {
                if r.lowercased().hasPrefix("stochastic:") || r.lowercased().hasPrefix("sr:") {
                    if let e = Self.rangeError(r.lowercased(), in: r) { throw InputError("--rounding: \(e.message)") }
                }
                throw InputError("--rounding: unknown mode '\(r)'; valid: \(RoundingMode.vocabulary.joined(separator: ", "))")
            }
            mode = m
        }
        if let o = overflow {
            guard let p = OverflowPolicy(rawValue: o.lowercased()) else {
                throw InputError("--overflow: unknown policy '\(o)'; valid: saturate, ieee")
            }
            policy = p
        }
        return FormatSpec(
            name: name, element: element, granularity: granularity, scaleRule: scaleRule,
            rounding: mode, overflow: policy, flushSubnormals: flushSubnormals)
    }
}
