/// Which spec behaviour reproduces one class of a kernel's differences (`formats conform
/// --explain`).
public struct Explanation: Sendable, Equatable {
    public var kind: MismatchClass
    public var count: Int
    /// What reproduces every difference of the class (and the sampled agreeing elements), e.g.
    /// "`float8_e4m3fn/per-token/nearest-away`"; nil when no alternative tried does.
    public var match: String?
    /// The alternative spec, where the match is one (nil for scale arithmetic variants).
    public var spec: FormatSpec?
}

extension Conformance {
    /// How many agreeing elements (and scales) an alternative must also reproduce: an
    /// alternative that only fits the differences (rounding up fits every positive tie) is not
    /// the kernel's rule.
    static let agreeingSample = 4096

    /// For each class of `result`, the first alternative (one change to the spec, then two,
    /// then three) that reproduces the kernel's codes or scales: other rounding modes, the
    /// other overflow policy, flushing, the other MX scale rules, torch-style scale arithmetic
    /// (amax × fl32(1/max) instead of amax / max), NVFP4 with or without its tensor scale.
    public static func explain<F: BinaryInterchangeFloat>(
        _ result: ConformanceResult, input: [F], theirs: Encoding, seed: UInt64 = 0
    ) -> [Explanation] {
        let spec = result.spec
        let ours = spec.reference(input, shape: result.shape, seed: seed)
        let ctx = ScaleContext(spec: spec, shape: result.shape, ours: ours, theirs: theirs)
        let random = FormatSpec.quantizeRandom(seed: seed)
        var byClass: [MismatchClass: [Mismatch]] = [:]
        for m in result.mismatches { byClass[m.kind, default: []].append(m) }
        let agreeing = sampleAgreeing(ours.codes, theirs.codes)
        let groups = byClass.keys.contains(where: \.isScale) ? GroupStats(input, layout: ctx.layout) : nil
        return byClass.keys.sorted().map { kind in
            let ms = byClass[kind]!
            var e = Explanation(kind: kind, count: ms.count, match: nil, spec: nil)
            if kind == .followsScale {
                e.match = "the kernel's own scales (the scale classes say why they differ)"
            } else if kind.isScale, let groups {
                (e.match, e.spec) = explainScales(kind, ms, spec: spec, groups: groups, ctx: ctx)
            } else {
                let indices = ms.map(\.index) + agreeing
                if let alt = elementAlternatives(spec).first(where: { alt in
                    indices.allSatisfy { i in reproduces(alt, input, i, theirs.codes[i], ctx, random) }
                }) {
                    (e.match, e.spec) = ("`\(alt.description)`", alt)
                }
            }
            return e
        }
    }

    static func reproduces<F: BinaryInterchangeFloat>(
        _ alt: FormatSpec, _ input: [F], _ i: Int, _ code: UInt32, _ ctx: ScaleContext, _ random: CounterRandom
    ) -> Bool {
        guard let layout = ctx.layout else { return alt.elementRounder!.encode(input[i], random: random.bits(i)) == code }
        guard let s = layout.scaleIndex(i) else { return true }
        return alt.code(input[i], ctx.theirScale(s), random: random.bits(i)) == code
    }

    /// Up to `agreeingSample` evenly spaced indices where both encodings agree.
    static func sampleAgreeing(_ a: [UInt32], _ b: [UInt32]) -> [Int] {
        let n = min(a.count, b.count)
        let step = max(1, n / agreeingSample)
        return stride(from: 0, to: n, by: step).filter { a[$0] == b[$0] }
    }

    /// Specs that differ from `spec` in rounding, overflow or flushing: one change first.
    static func elementAlternatives(_ spec: FormatSpec) -> [FormatSpec] {
        let modes: [RoundingMode] = [.nearestEven, .nearestAway, .towardZero, .up, .down, .toOdd]
        var isFloat = false
        if case .float = spec.element { isFloat = true }
        var out: [(Int, FormatSpec)] = []
        for r in modes {
            for o in OverflowPolicy.allCases {
                for fl in isFloat ? [false, true] : [false] {
                    let changes = (r != spec.rounding ? 1 : 0) + (o != spec.overflow ? 1 : 0) + (fl != spec.flushSubnormals ? 1 : 0)
                    if changes > 0 { out.append((changes, spec.with(rounding: r, overflow: o, flush: fl))) }
                }
            }
        }
        return out.enumerated().sorted { ($0.element.0, $0.offset) < ($1.element.0, $1.offset) }.map(\.element.1)
    }
}

/// Per scale group: the absolute maximum, minimum and maximum, and whether a NaN or Inf is in
/// it, as the quantizer computes them.
struct GroupStats {
    var amax: [Double] = []
    var lo: [Double] = []
    var hi: [Double] = []
    var poisoned: [Bool] = []
    var tensorMax: Double = 0

    init<F: BinaryInterchangeFloat>(_ input: [F], layout: ScaleLayout?) {
        if F.self == Float.self { self.init(float: unsafeBitCast(input, to: [Float].self), layout: layout) } else { self.init(generic: input, layout: layout) }
    }

    init(float input: [Float], layout: ScaleLayout?) { self.init(generic: input, layout: layout) }

    init<F: BinaryInterchangeFloat>(generic input: [F], layout: ScaleLayout?) {
        guard let layout else { return }
        let n = layout.scaleCount
        amax = [Double](repeating: 0, count: n)
        lo = [Double](repeating: .infinity, count: n)
        hi = [Double](repeating: -.infinity, count: n)
        poisoned = [Bool](repeating: false, count: n)
        for i in input.indices {
            guard let s = layout.scaleIndex(i) else { continue }
            let x = Double(input[i])
            if !x.isFinite { poisoned[s] = true; continue }
            amax[s] = max(amax[s], x.magnitude)
            lo[s] = min(lo[s], x)
            hi[s] = max(hi[s], x)
        }
        tensorMax = poisoned.contains(true) ? .nan : (amax.max() ?? 0)
    }
}

/// A way of computing scales other than the spec's: a description and each group's scale.
struct ScaleCandidate {
    var match: String
    var spec: FormatSpec?
    var scale: (Int) -> (Float, UInt8)
}

extension Conformance {
    static func explainScales(
        _ kind: MismatchClass, _ ms: [Mismatch], spec: FormatSpec, groups: GroupStats, ctx: ScaleContext
    ) -> (String?, FormatSpec?) {
        let theirs = ctx.theirs
        if kind == .tensorScale {
            let t = Float(groups.tensorMax) * (Float(1) / Float(448.0 * 6.0))
            if theirs.tensorScale?.bitPattern == t.bitPattern { return ("a tensor scale computed as amax × fl32(1/2688) (torch-style: a multiply by the rounded reciprocal)", nil) }
            return (nil, nil)
        }
        guard kind == .scaleExponent || kind == .scaleValue else { return (nil, nil) }
        let n = ctx.ours.scales.count
        let step = max(1, n / agreeingSample)
        let agreeing = stride(from: 0, to: n, by: step).filter { s in !ms.contains { $0.index == s } }
        let indices = ms.map(\.index) + agreeing
        for c in scaleCandidates(spec, groups: groups, ctx: ctx) {
            let ok = indices.allSatisfy { s in
                let (value, code) = c.scale(s)
                if let tc = theirs.scaleCodes { return tc[s] == code }
                return value.bitPattern == theirs.scales[s].bitPattern || (value.isNaN && theirs.scales[s].isNaN)
            }
            if ok { return (c.match, c.spec) }
        }
        return (nil, nil)
    }

    static func scaleCandidates(_ spec: FormatSpec, groups: GroupStats, ctx: ScaleContext) -> [ScaleCandidate] {
        let tensor = Float(ctx.theirs.tensorScale ?? ctx.ours.tensorScale ?? 1)
        func rule(_ alt: FormatSpec, tensorScale: Float) -> (Int) -> (Float, UInt8) {
            { s in
                alt.computeScale(amax: Float(groups.amax[s]), poisoned: groups.poisoned[s], tensorScale: tensorScale,
                    lo: Float(groups.lo[s]), hi: Float(groups.hi[s]))
            }
        }
        var out: [ScaleCandidate] = []
        switch spec.scaleRule {
        case .mx(let current):
            var rules = MXScaleRule.allCases
            if case .integer = spec.element { rules = [.floor, .ceil] }
            for r in rules where r != current {
                let alt = spec.with(scaleRule: .mx(r))
                out.append(ScaleCandidate(match: "`\(alt.description)` (MX scale rule \(r.rawValue))", spec: alt, scale: rule(alt, tensorScale: 1)))
            }
        case .nvfp4(let withTensor):
            let alt = spec.with(scaleRule: .nvfp4(tensorScale: !withTensor))
            out.append(ScaleCandidate(match: "`\(alt.description)`", spec: alt, scale: rule(alt, tensorScale: withTensor ? 1 : tensor)))
            let t = Float(groups.tensorMax) * (Float(1) / Float(448.0 * 6.0))
            out.append(ScaleCandidate(match: "block scales from a tensor scale computed as amax × fl32(1/2688) (torch-style)", spec: nil,
                scale: rule(spec, tensorScale: t)))
        case .absmax:
            let (divisor, text) = torchDivisor(spec)
            let reciprocal = Float(1) / divisor
            out.append(ScaleCandidate(match: "scales computed as amax × fl32(1/\(text)) (torch-style: a multiply by the rounded reciprocal, not a division)", spec: nil) { s in
                if groups.poisoned[s] { return (.nan, 0) }
                var range = Float(groups.amax[s])
                if case .integer(_, .asymmetric) = spec.element { range = groups.lo[s] == .infinity ? 0 : Float(groups.hi[s]) - Float(groups.lo[s]) }
                let v = range * reciprocal
                return (v > 0 ? v : (range == 0 ? 1 : .leastNonzeroMagnitude), 0)
            })
        default: break
        }
        return out
    }

    /// What absmax divides by (max finite, or the integer range) and how to print it.
    static func torchDivisor(_ spec: FormatSpec) -> (Float, String) {
        switch spec.element {
        case .float(let f): return (Float(f.maxFinite), "\(Float(f.maxFinite).formatted)")
        case .integer(let bits, .asymmetric): return (Float((1 << bits) - 1), "\((1 << bits) - 1)")
        case .integer(let bits, .symmetric): return (Float((1 << (bits - 1)) - 1), "\((1 << (bits - 1)) - 1)")
        }
    }
}

extension Float {
    /// Shortest decimal text, without a trailing ".0" for whole numbers.
    var formatted: String {
        if self == rounded() && magnitude < 1e9 { return String(Int(self)) }
        return "\(self)"
    }
}
