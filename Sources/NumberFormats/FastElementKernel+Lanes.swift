/// The kernel's lane arithmetic: eight elements at a time (`vectorFixed`, `round8`) and one
/// (`element`), bit for bit the same.
extension FastElementKernel {
    /// Loop-invariant vectors (comparisons against scalars compile lane by lane). Build once
    /// per kernel and pass to `round8` in fused loops.
    public struct VectorConstants: Sendable {
        @usableFromInline let maxFinite: SIMD8<UInt32>
        @usableFromInline let minNormal: SIMD8<UInt32>
        @usableFromInline let posOverflow: SIMD8<UInt32>
        @usableFromInline let negOverflow: SIMD8<UInt32>
        @usableFromInline let infIn: SIMD8<UInt32>
        @usableFromInline let randomMask: SIMD8<UInt32>
        @usableFromInline let randomShift: SIMD8<UInt32>
        // Constant-shift rounding (deterministic modes).
        @usableFromInline let shift: SIMD8<UInt32>
        @usableFromInline let lowMask: SIMD8<UInt32>
        @usableFromInline let halfBit: SIMD8<UInt32>
        @usableFromInline let unitBit: SIMD8<UInt32>
        @usableFromInline let noRounding: Bool
        @usableFromInline let flushSubnormals: Bool
        @usableFromInline let keepNegativeZero: Bool
        @usableFromInline let hasSubnormalRange: Bool
        @usableFromInline let minNormalTarget: SIMD8<UInt32>
        @usableFromInline let quantum: SIMD8<Float>
        @usableFromInline let inverseQuantum: SIMD8<Float>
        @usableFromInline let srLeft: SIMD8<UInt32>
        @usableFromInline let srRight: SIMD8<UInt32>
        @usableFromInline let subDropBase: SIMD8<UInt32>

        @inlinable public init(_ k: FastElementKernel) {
            maxFinite = SIMD8(repeating: k.maxFiniteBits)
            minNormal = SIMD8(repeating: k.minNormalBits)
            posOverflow = SIMD8(repeating: k.positiveOverflowBits)
            negOverflow = SIMD8(repeating: k.negativeOverflowBits)
            infIn = SIMD8(repeating: k.infinityInBits)
            randomMask = SIMD8(repeating: k.randomMask)
            randomShift = SIMD8(repeating: k.randomShift)
            let sh = UInt32(bitPattern: k.dropBase)
            shift = SIMD8(repeating: sh)
            lowMask = SIMD8(repeating: sh == 0 ? 0 : (UInt32(1) << sh) - 1)
            halfBit = SIMD8(repeating: sh == 0 ? 0 : UInt32(1) << (sh - 1))
            unitBit = SIMD8(repeating: UInt32(1) << sh)
            noRounding = sh == 0
            flushSubnormals = k.flush
            keepNegativeZero = k.keepNegativeZero
            hasSubnormalRange = k.targetMinBiased > 1
            minNormalTarget = SIMD8(repeating: k.minNormalBits)
            let qexp = Int(k.targetMinBiased) - 127 - Int(k.m)
            quantum = SIMD8(repeating: Float(sign: .plus, exponent: qexp, significand: 1))
            inverseQuantum = SIMD8(repeating: Float(sign: .plus, exponent: -qexp, significand: 1))
            // Stochastic, normal range: the R random bits land just below the kept bits.
            let rbits = 32 - Int(k.randomShift)
            if k.mode == 6 && sh > 0 {
                // (rnd << 32−R) >> 32−s places an R-bit number at bits [s−R, s).
                srLeft = SIMD8(repeating: UInt32(32 - rbits))
                srRight = SIMD8(repeating: UInt32(32 - Int(sh)))
            } else {
                srLeft = SIMD8(repeating: 0)
                srRight = SIMD8(repeating: 31)
            }
            subDropBase = SIMD8(repeating: UInt32(bitPattern: k.dropBase &+ k.targetMinBiased))
        }
    }

    /// Eight elements at once, without lane conversions or mask-register logic: in the
    /// target's normal range the significand is rounded on the bits with a constant shift
    /// (carries into the exponent are correct rounding; stochastic rounding adds the random
    /// bits just below the kept ones); in its subnormal range the value is scaled to units of
    /// the least subnormal (exact: a power of two) and rounded there with the 2^23
    /// magic-number trick (stochastic: the dropped fraction is read off the input's bits).
    /// Same results as `element`, which a test checks for every format, mode and policy.
    @_transparent @usableFromInline
    func vectorFixed(_ xb: SIMD8<UInt32>, random: SIMD8<UInt32>, mode: Int32, _ c: VectorConstants) -> SIMD8<UInt32> {
        typealias U = SIMD8<UInt32>
        typealias F = SIMD8<Float>
        let zero = U(repeating: 0)
        let one = U(repeating: 1)
        let sign = xb & U(repeating: 0x8000_0000)
        let a = xb & U(repeating: 0x7FFF_FFFF)
        let negative = sign .!= zero
        // Normal range: round the bits.
        var t: U
        if c.noRounding {
            t = a
        } else {
            switch mode {
            case 0: t = a.nearestEvenOnBits(shift: c.shift, halfMinusOne: c.halfBit &- one, keep: ~c.lowMask)
            case 1: t = a &+ c.halfBit
            case 2: t = a
            case 3: t = a &+ c.lowMask.replacing(with: zero, where: negative)
            case 4: t = a &+ zero.replacing(with: c.lowMask, where: negative)
            case 6:
                // Add the random bits aligned below the kept ones, then truncate.
                let rb = random & c.randomMask
                t = a &+ ((rb &<< c.srLeft) &>> c.srRight)
            default:
                // Set the last kept bit when inexact: adding it to an even last bit.
                let bump = zero.replacing(with: c.unitBit, where: (a & c.lowMask) .!= zero)
                t = a &+ (bump & ~a)
            }
            t = t & ~c.lowMask
        }
        var mb = t
        if c.hasSubnormalRange && (mode != 6 || anyLane(a .< c.minNormalTarget)) {
            // Subnormal range: y = |x| / q < 2^m, rounded to an integer.
            let magic = F(repeating: 8_388_608)  // 2^23
            let y = unsafeBitCast(a, to: F.self) * c.inverseQuantum
            let ne = (y + magic) - magic  // nearest-even (the FPU's mode)
            let fz = ne.replacing(with: ne - F(repeating: 1), where: ne .> y)  // floor = trunc (y ≥ 0)
            let cl = ne.replacing(with: ne + F(repeating: 1), where: ne .< y)  // ceil
            var r: F
            switch mode {
            case 0: r = ne
            case 1: r = fz.replacing(with: fz + F(repeating: 1), where: y - fz .>= F(repeating: 0.5))
            case 2: r = fz
            case 3: r = cl.replacing(with: fz, where: negative)
            case 4: r = fz.replacing(with: cl, where: negative)
            case 5:
                let evenLast = (unsafeBitCast(fz + magic, to: U.self) & one) .== zero
                let odd = fz.replacing(with: fz + F(repeating: 1), where: evenLast)
                r = fz.replacing(with: odd, where: fz .!= y)
            default:
                // Stochastic: the dropped fraction y − ⌊y⌋ cut to the random bits, read off
                // the bits of the input (d = bits dropped at this exponent, up to 2^8).
                let e = a &>> U(repeating: 23)
                let eEff = e.replacing(with: one, where: e .== zero)
                let sig = (a & U(repeating: 0x007F_FFFF)) | U(repeating: 0x0080_0000).replacing(with: zero, where: e .== zero)
                let d = c.subDropBase &- eEff  // ≥ dropBase inside the subnormal range
                let thirtyTwo = U(repeating: 32)
                let rem = sig & ((one &<< d) &- one).replacing(with: U(repeating: ~0), where: d .>= thirtyTwo)
                let near = rem &<< (thirtyTwo &- d)
                let far = (sig &>> (d &- thirtyTwo)).replacing(with: zero, where: d &- thirtyTwo .>= thirtyTwo)
                let frac = near.replacing(with: far, where: d .> thirtyTwo)
                let f = (frac &>> c.randomShift) &<< c.randomShift
                let rr = (random & c.randomMask) &<< c.randomShift
                r = fz.replacing(with: fz + F(repeating: 1), where: (f &+ rr) .< f)
            }
            let sub = unsafeBitCast(r * c.quantum, to: U.self)
            mb = mb.replacing(with: sub, where: a .< c.minNormalTarget)
        }
        if c.flushSubnormals { mb = mb.replacing(with: zero, where: mb .< c.minNormal) }
        let overflowValue = c.posOverflow.replacing(with: c.negOverflow, where: negative)
        mb = mb.replacing(with: overflowValue, where: mb .> c.maxFinite)
        let inf = U(repeating: 0x7F80_0000)
        mb = mb.replacing(with: c.infIn, where: a .== inf)
        mb = mb.replacing(with: U(repeating: 0x7FC0_0000), where: a .> inf)
        if c.keepNegativeZero { return sign | mb }
        return sign.replacing(with: zero, where: mb .== zero) | mb
    }

    /// Eight values rounded at once (quantize → dequantize), for fused kernels in other
    /// modules: the same bits as `element` lane by lane. `random` feeds stochastic rounding.
    @inlinable @inline(__always)
    public func round8(_ x: SIMD8<Float>, random: SIMD8<UInt32> = SIMD8(), _ c: VectorConstants) -> SIMD8<Float> {
        let b = unsafeBitCast(x, to: SIMD8<UInt32>.self)
        let r: SIMD8<UInt32>
        switch mode {
        case 0: r = vectorFixed(b, random: random, mode: 0, c)
        case 1: r = vectorFixed(b, random: random, mode: 1, c)
        case 2: r = vectorFixed(b, random: random, mode: 2, c)
        case 3: r = vectorFixed(b, random: random, mode: 3, c)
        case 4: r = vectorFixed(b, random: random, mode: 4, c)
        case 5: r = vectorFixed(b, random: random, mode: 5, c)
        default: r = vectorFixed(b, random: random, mode: 6, c)
        }
        return unsafeBitCast(r, to: SIMD8<Float>.self)
    }

    /// One element; `mode` is passed as a literal by the loops above so each loop is
    /// specialised to one rounding mode.
    @inlinable @inline(__always)
    public func element(_ x: Float, random: UInt32) -> Float { element(x, random: random, mode: mode) }

    @_transparent @usableFromInline
    func element(_ x: Float, random: UInt32, mode: Int32) -> Float {
        let b = x.bitPattern
        let sign = b & 0x8000_0000
        let a = b & 0x7FFF_FFFF
        let e = Int32(bitPattern: a &>> 23)
        let eEff = e > 1 ? e : 1
        let extra = targetMinBiased &- eEff
        let dTrue = dropBase &+ (extra > 0 ? extra : 0)
        let d = dTrue < 25 ? dTrue : 25
        let sig = (a & 0x007F_FFFF) | (e != 0 ? 0x0080_0000 : 0)
        let du = UInt32(bitPattern: d)
        let trunc = sig &>> du
        let remMask = (UInt32(1) &<< du) &- 1
        let rem = sig & remMask
        let half = (UInt32(1) &<< du) &>> 1
        let odd = (trunc & 1) != 0
        let inexact = rem != 0
        let negative = sign != 0
        let up: Bool
        switch mode {
        case 0: up = rem > half || (rem == half && odd && inexact)
        case 1: up = rem >= half && inexact
        case 2: up = false
        case 3: up = inexact && !negative
        case 4: up = inexact && negative
        case 5: up = inexact && !odd
        default:
            // Dropped fraction as a 0.32 fixed-point number, cut to the random bits used.
            // The dropped fraction as 0.32 fixed point, from the unclamped drop (tiny values keep
            // a small chance to round up); d = 0 leaves rem = 0.
            let dt = UInt32(bitPattern: dTrue)
            let frac = dt <= 32 ? rem &<< (32 &- dt) : (dt &- 32 < 32 ? sig &>> (dt &- 32) : 0)
            let f = (frac &>> randomShift) &<< randomShift
            let rnd = (random & randomMask) &<< randomShift
            up = f &+ rnd < f
        }
        let r = Int32(bitPattern: trunc &+ (up ? 1 : 0))
        let qexp = (eEff > targetMinBiased ? eEff : targetMinBiased) &- 127 &- m
        // 2^qexp as a binary32; qexp ≥ −126 holds for every format with a target min normal
        // above binary32's (those with the same range take the split product below).
        let lowPart = qexp < -126 ? qexp &+ 64 : qexp
        let scale = Float(bitPattern: UInt32(bitPattern: (lowPart &+ 127)) &<< 23)
        var mag = Float(r) * scale
        if qexp < -126 { mag = mag * 0x1p-64 }
        var magBits = mag.bitPattern
        if flush && magBits < minNormalBits { magBits = 0 }
        if magBits > maxFiniteBits { magBits = negative ? negativeOverflowBits : positiveOverflowBits }
        if a == 0x7F80_0000 { magBits = infinityInBits }
        if a > 0x7F80_0000 { magBits = 0x7FC0_0000 }
        let outSign: UInt32 = (magBits == 0 && !keepNegativeZero) ? 0 : sign
        return Float(bitPattern: outSign | magBits)
    }
}
