/// How a kernel's encoding differs from the spec's, one kind at a time.
public enum MismatchClass: String, CaseIterable, Sendable, Comparable {
    case tie = "tie broken differently"
    case overflow = "overflow handled differently"
    case subnormal = "subnormal flushed or not"
    case nan = "NaN encoding"
    case offByOne = "off by one code elsewhere"
    case other = "other code"
    case followsScale = "code follows its differing scale"
    case scaleExponent = "scale exponent differs"
    case scaleValue = "scale value differs"
    case zeroPoint = "zero point differs"
    case tensorScale = "tensor scale differs"

    /// Whether the class is about scales (the rest are about element codes).
    public var isScale: Bool { [.scaleExponent, .scaleValue, .zeroPoint, .tensorScale].contains(self) }

    public static func < (a: Self, b: Self) -> Bool { allCases.firstIndex(of: a)! < allCases.firstIndex(of: b)! }
}

/// One element code or one scale that differs.
public struct Mismatch: Sendable, Equatable {
    public var kind: MismatchClass
    /// Flat element index (codes) or scale index (scales).
    public var index: Int
    public var ours: UInt32
    public var theirs: UInt32
    /// The values both stand for (codes: dequantized with each side's scale; scales: the scale).
    public var oursValue: Double
    public var theirsValue: Double
    /// Scale classes: theirs − ours in exponents (e8m0), codes (e4m3) or fp32 ulps.
    public var steps: Int = 0
}

/// The result of comparing a kernel's encoding with ours.
public struct ConformanceResult: Sendable {
    public var spec: FormatSpec
    public var shape: [Int]
    public var elementCount: Int
    /// Number of scales compared (0 when the kernel gave none).
    public var scaleCount: Int
    public var comparedZeros: Bool
    public var comparedTensorScale: Bool
    /// Every mismatch, codes first (by index), then scales.
    public var mismatches: [Mismatch]
    /// Input bits and decimal text of each mismatching code's element (for the examples).
    public var inputs: [Int: (hex: String, decimal: String)] = [:]
    /// The same for the largest |x| of each mismatching scale's group.
    public var groupMaxima: [Int: (hex: String, decimal: String)] = [:]

    public var codeMismatches: Int { mismatches.filter { !$0.kind.isScale }.count }
    public var scaleMismatches: Int { mismatches.filter { $0.kind.isScale }.count }
    public var conforms: Bool { mismatches.isEmpty }

    /// Count per class, in class order.
    public var counts: [(MismatchClass, Int)] {
        var c: [MismatchClass: Int] = [:]
        for m in mismatches { c[m.kind, default: 0] += 1 }
        return MismatchClass.allCases.compactMap { k in c[k].map { (k, $0) } }
    }
}

/// Compares a kernel's encoding with ours element by element and classifies each difference.
public enum Conformance {
    /// Checks and compares. `theirs.scales` may be empty (the kernel's scales not given: its
    /// codes are judged against our scales); `theirs.scaleCodes` holds stored scale bytes.
    public static func compare<F: BinaryInterchangeFloat>(
        spec: FormatSpec, input: [F], shape: [Int], theirs: Encoding, seed: UInt64 = 0
    ) -> ConformanceResult {
        let ours = spec.reference(input, shape: shape, seed: seed)
        let ctx = ScaleContext(spec: spec, shape: shape, ours: ours, theirs: theirs)
        var result = ConformanceResult(
            spec: spec, shape: shape, elementCount: input.count, scaleCount: ctx.comparedScales,
            comparedZeros: theirs.zeros != nil, comparedTensorScale: theirs.tensorScale != nil, mismatches: [])
        let classifier = ElementClassifier(spec: spec, random: FormatSpec.quantizeRandom(seed: seed))
        // Fast equality scan first: the common case is few or no mismatches.
        ours.codes.withUnsafeBufferPointer { o in
            theirs.codes.withUnsafeBufferPointer { t in
                var i = 0
                let n = min(o.count, t.count)
                while i < n {
                    if o[i] != t[i] {
                        result.mismatches.append(classifier.classify(input, i, ours: o[i], theirs: t[i], ctx))
                        result.inputs[i] = describe(input[i])
                    }
                    i += 1
                }
            }
        }
        let scaleMismatches = ctx.scaleMismatches()
        for m in scaleMismatches where m.kind == .scaleExponent || m.kind == .scaleValue {
            result.groupMaxima[m.index] = describe(ctx.groupMax(input, m.index))
        }
        result.mismatches += scaleMismatches
        return result
    }

    /// Hex bits and decimal text of one input.
    public static func describe<F: BinaryInterchangeFloat>(_ x: F) -> (hex: String, decimal: String) {
        let digits = F.Bits.bitWidth / 4
        let hex = String(x.interchangeBits, radix: 16)
        return ("0x" + String(repeating: "0", count: max(0, digits - hex.count)) + hex, "\(x)")
    }
}

/// Both sides' scales, per group, and the comparison of scales.
struct ScaleContext {
    let spec: FormatSpec
    let layout: ScaleLayout?
    let ours: Encoding
    let theirs: Encoding

    init(spec: FormatSpec, shape: [Int], ours: Encoding, theirs: Encoding) {
        self.spec = spec
        layout = spec.granularity.map { ScaleLayout(shape: shape, granularity: $0) }
        self.ours = ours
        self.theirs = theirs
    }

    var comparedScales: Int { theirs.scales.isEmpty ? 0 : theirs.scales.count }

    /// Their scale, zero point and tensor scale for group `s` (ours where they gave none).
    func theirScale(_ s: Int) -> (scale: Float, zero: Float, tensor: Float) {
        let scale = theirs.scales.isEmpty ? ours.scales[s] : theirs.scales[s]
        let zero = (theirs.zeros ?? ours.zeros)?[s] ?? 0
        return (scale, zero, theirs.tensorScale ?? ours.tensorScale ?? 1)
    }

    func ourScale(_ s: Int) -> (scale: Float, zero: Float, tensor: Float) {
        (ours.scales[s], ours.zeros?[s] ?? 0, ours.tensorScale ?? 1)
    }

    /// The largest |x| of scale group `s` (scalar: only for the examples printed).
    func groupMax<F: BinaryInterchangeFloat>(_ input: [F], _ s: Int) -> F {
        guard let layout else { return 0 }
        var m: F = 0
        for i in input.indices where layout.scaleIndex(i) == s {
            if input[i].isNaN || input[i].magnitude > m { m = input[i].isNaN ? .nan : input[i].magnitude }
            if m.isNaN { break }
        }
        return m
    }

    func scaleMismatches() -> [Mismatch] {
        var out: [Mismatch] = []
        if !theirs.scales.isEmpty {
            for s in ours.scales.indices {
                if let oc = ours.scaleCodes, let tc = theirs.scaleCodes {
                    guard oc[s] != tc[s] else { continue }
                    let kind: MismatchClass = { if case .nvfp4 = spec.scaleRule { return .scaleValue } else { return .scaleExponent } }()
                    out.append(Mismatch(kind: kind, index: s, ours: UInt32(oc[s]), theirs: UInt32(tc[s]),
                        oursValue: Double(ours.scales[s]), theirsValue: Double(theirs.scales[s]), steps: Int(tc[s]) - Int(oc[s])))
                } else if let m = floatMismatch(.scaleValue, s, ours.scales[s], theirs.scales[s]) {
                    out.append(m)
                }
            }
        }
        if let tz = theirs.zeros, let oz = ours.zeros {
            for s in oz.indices { if let m = floatMismatch(.zeroPoint, s, oz[s], tz[s]) { out.append(m) } }
        }
        if let tt = theirs.tensorScale, let ot = ours.tensorScale, let m = floatMismatch(.tensorScale, 0, ot, tt) { out.append(m) }
        return out
    }

    /// A differing fp32 (NaN equals NaN), with the difference in ulps.
    func floatMismatch(_ kind: MismatchClass, _ s: Int, _ a: Float, _ b: Float) -> Mismatch? {
        if a.bitPattern == b.bitPattern || (a.isNaN && b.isNaN) { return nil }
        return Mismatch(kind: kind, index: s, ours: a.bitPattern, theirs: b.bitPattern, oursValue: Double(a), theirsValue: Double(b),
            steps: Float.ulpDistance(a, b))
    }
}

extension Float {
    /// b − a in units in the last place, counting across zero (a signed-magnitude walk).
    static func ulpDistance(_ a: Float, _ b: Float) -> Int {
        func ordinal(_ x: Float) -> Int {
            let bits = Int(x.bitPattern & 0x7FFF_FFFF)
            return x.sign == .minus ? -bits : bits
        }
        return ordinal(b) - ordinal(a)
    }
}
