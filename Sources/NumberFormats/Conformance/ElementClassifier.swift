/// Classifies one differing element code: the element is re-encoded under the kernel's own
/// scale (so a code that only follows a different scale is told apart), and its value is
/// placed between its two neighbours in the format (rounding down and up).
struct ElementClassifier {
    let spec: FormatSpec
    /// The spec rounding down / up, saturating, not flushing: the two neighbours of a value.
    let down: FormatSpec
    let up: FormatSpec
    let random: CounterRandom

    init(spec: FormatSpec, random: CounterRandom) {
        self.spec = spec
        down = spec.with(rounding: .down, overflow: .saturate, flush: false)
        up = spec.with(rounding: .up, overflow: .saturate, flush: false)
        self.random = random
    }

    func classify<F: BinaryInterchangeFloat>(_ input: [F], _ i: Int, ours: UInt32, theirs: UInt32, _ ctx: ScaleContext) -> Mismatch {
        let x = input[i]
        var ts: (scale: Float, zero: Float, tensor: Float) = (1, 0, 1)
        var os = ts
        var scaled = false
        if let layout = ctx.layout, let s = layout.scaleIndex(i) {
            ts = ctx.theirScale(s)
            os = ctx.ourScale(s)
            scaled = true
        }
        var m = Mismatch(kind: .other, index: i, ours: ours, theirs: theirs,
            oursValue: spec.dequantized(ours, os), theirsValue: spec.dequantized(theirs, ts))
        let ref = scaled ? spec.code(x, ts, random: random.bits(i)) : ours
        if scaled && ref != ours && ref == theirs {
            m.kind = .followsScale
            return m
        }
        m.kind = kind(x, i, ref: ref, theirs: theirs, ts)
        return m
    }

    func kind<F: BinaryInterchangeFloat>(_ x: F, _ i: Int, ref: UInt32, theirs: UInt32, _ ts: (scale: Float, zero: Float, tensor: Float))
        -> MismatchClass
    {
        if x.isNaN { return .nan }
        let xs = spec.elementInput(x, ts)
        if !xs.isFinite { return .overflow }
        let (lowest, highest) = spec.elementRange
        if Double(xs) >= highest || Double(xs) <= lowest { return .overflow }
        let vRef = spec.elementValue(code: ref), vTheirs = spec.elementValue(code: theirs)
        if vRef.isNaN || vTheirs.isNaN { return .nan }
        let dn = down.code(x, ts, random: random.bits(i)), upc = up.code(x, ts, random: random.bits(i))
        let vDown = spec.elementValue(code: dn), vUp = spec.elementValue(code: upc)
        if Set([ref, theirs]) == Set([dn, upc]) && 2 * Double(xs) == vDown + vUp { return .tie }
        // One side zero, the other a subnormal: flushed (or a flush the spec asks for, not done).
        if case .float(let f) = spec.element, f.hasSubnormals, (vRef == 0) != (vTheirs == 0),
            max(vRef.magnitude, vTheirs.magnitude) < f.minNormal
        {
            return .subnormal
        }
        if theirs == dn || theirs == upc { return .offByOne }
        return .other
    }
}

extension FormatSpec {
    /// This spec with another rounding mode, overflow policy and flush setting.
    public func with(rounding: RoundingMode? = nil, overflow: OverflowPolicy? = nil, flush: Bool? = nil, scaleRule: ScaleRule? = nil)
        -> FormatSpec
    {
        FormatSpec(
            name: name, element: element, granularity: granularity, scaleRule: scaleRule ?? self.scaleRule,
            rounding: rounding ?? self.rounding, overflow: overflow ?? self.overflow, flushSubnormals: flush ?? flushSubnormals)
    }

    /// The code of `x` through a given scale, zero point and tensor scale (the quantizer's
    /// element step, as `quantize` takes it).
    func code<F: BinaryInterchangeFloat>(_ x: F, _ s: (scale: Float, zero: Float, tensor: Float), random: UInt32) -> UInt32 {
        quantizeScaled(x, scale: F(s.scale), zero: F(s.zero), tensorScale: F(s.tensor), random: random).1
    }

    /// The value the element step rounds: x over its (effective) scale, as the quantizer
    /// computes it in the input's precision.
    func elementInput<F: BinaryInterchangeFloat>(_ x: F, _ s: (scale: Float, zero: Float, tensor: Float)) -> F {
        guard isScaled else { return x }
        switch element {
        case .integer(_, let kind):
            if case .mx = scaleRule { return x / F(s.scale) * 64 }
            return kind == .asymmetric ? (x - F(s.zero)) / F(s.scale) : x / F(s.scale)
        case .float:
            if case .nvfp4 = scaleRule { return x / (F(s.scale) * F(s.tensor)) }
            return x / F(s.scale)
        }
    }

    /// Element values at or beyond which a value overflows (exclusive bounds of the rounding
    /// that never overflows): ±max finite, the integer range.
    var elementRange: (Double, Double) {
        switch element {
        case .float(let f): return (-f.maxFinite, f.maxFinite)
        case .integer(let bits, let kind):
            if case .mx = scaleRule { return (-127, 127) }
            if kind == .asymmetric { return (-0.5, Double((1 << bits) - 1)) }
            let q = Double((1 << (bits - 1)) - 1)
            return (-q, q)
        }
    }

    /// A code's value after its scale (the dequantized value).
    public func dequantized(_ code: UInt32, _ s: (scale: Float, zero: Float, tensor: Float)) -> Double {
        let v = elementValue(code: code)
        guard isScaled else { return v }
        switch element {
        case .integer(_, let kind):
            return kind == .asymmetric ? v * Double(s.scale) + Double(s.zero) : v * Double(s.scale)
        case .float:
            if case .nvfp4 = scaleRule { return v * Double(s.scale) * Double(s.tensor) }
            return v * Double(s.scale)
        }
    }
}
