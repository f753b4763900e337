/// A branch-free binary32 kernel for quantize → dequantize, written so the compiler can
/// vectorise it: every lane does the same integer operations on the input's bits, selects
/// replace branches, and all shifts are masking shifts.
///
/// It computes exactly what `ElementRounder.round` computes (a test compares them over every
/// format, mode and boundary); it exists for throughput only. Not covered (callers fall back
/// to the scalar path): formats without a mantissa (e8m0, custom eXm0).
public struct FastElementKernel: Sendable {
    @usableFromInline let mode: Int32  // 0 RNE 1 RNA 2 RZ 3 up 4 down 5 odd 6 stochastic
    @usableFromInline let m: Int32
    @usableFromInline let targetMinBiased: Int32  // min normal exponent, binary32-biased
    @usableFromInline let dropBase: Int32  // 23 − m
    @usableFromInline let maxFiniteBits: UInt32
    @usableFromInline let positiveOverflowBits: UInt32  // magnitude bits for a positive overflow
    @usableFromInline let negativeOverflowBits: UInt32  // magnitude bits for a negative overflow
    @usableFromInline let infinityInBits: UInt32  // magnitude bits for ±Inf input
    @usableFromInline let keepNegativeZero: Bool
    @usableFromInline let flush: Bool
    @usableFromInline let minNormalBits: UInt32
    @usableFromInline let randomMask: UInt32  // the random bits used, placed at the top
    @usableFromInline let randomShift: UInt32

    public init?(_ r: ElementRounder) {
        let f = r.format
        guard f.mantissaBits >= 1, f.nanEncoding != .allOnesUnsigned else { return nil }
        m = Int32(f.mantissaBits)
        targetMinBiased = Int32(f.minNormalExponent + 127)
        dropBase = 23 - Int32(f.mantissaBits)
        maxFiniteBits = Float(f.maxFinite).bitPattern
        minNormalBits = Float(f.minNormal).bitPattern
        switch r.rounding {
        case .nearestEven: mode = 0
        case .nearestAway: mode = 1
        case .towardZero: mode = 2
        case .up: mode = 3
        case .down: mode = 4
        case .toOdd: mode = 5
        case .stochastic: mode = 6
        }
        if case .stochastic(let b) = r.rounding {
            randomMask = b == 32 ? ~0 : (UInt32(1) << b) - 1
            randomShift = UInt32(32 - b)
        } else {
            randomMask = 0
            randomShift = 0
        }
        keepNegativeZero = f.hasNegativeZero
        flush = r.flushSubnormals
        // Overflow results as magnitudes (NaN as the quiet NaN bits; the sign is added later).
        func overflowBits(negative: Bool, infiniteInput: Bool) -> UInt32 {
            let v = r.decodeDouble(r.overflowCode(negative: negative, infiniteInput: infiniteInput))
            return Float(v).bitPattern & 0x7FFF_FFFF
        }
        positiveOverflowBits = overflowBits(negative: false, infiniteInput: false)
        negativeOverflowBits = overflowBits(negative: true, infiniteInput: false)
        infinityInBits = overflowBits(negative: false, infiniteInput: true)
    }

    /// Quantize → dequantize `input` into `output` (which must not overlap it). Element `i`
    /// draws stochastic bits from `random.bits(offset + i)`.
    @inlinable
    public func run(
        _ input: UnsafeBufferPointer<Float>, into output: UnsafeMutableBufferPointer<Float>,
        random: CounterRandom = CounterRandom(key0: 0, key1: 0), offset: Int = 0
    ) {
        let n = min(input.count, output.count)
        guard n > 0, let src = input.baseAddress, let dst = output.baseAddress else { return }
        runScaled(src, dst, count: n, scale: 1, random: random, offset: offset, scaled: false, VectorConstants(self))
    }

    /// `output[i] = round(input[i] / scale) · scale` for `count` elements (no overlap).
    @inlinable
    public func runScaled(
        _ src: UnsafePointer<Float>, _ dst: UnsafeMutablePointer<Float>, count n: Int, scale s: Float,
        random: CounterRandom, offset: Int
    ) {
        runScaled(src, dst, count: n, scale: s, random: random, offset: offset, scaled: true, VectorConstants(self))
    }

    @inlinable
    func runScaled(
        _ src: UnsafePointer<Float>, _ dst: UnsafeMutablePointer<Float>, count n: Int, scale s: Float,
        random: CounterRandom, offset: Int, scaled: Bool, _ c: VectorConstants
    ) {
        switch (mode, scaled) {
        case (0, false): loop(src, dst, n, s, random, offset, mode: 0, scaled: false, c)
        case (0, true): loop(src, dst, n, s, random, offset, mode: 0, scaled: true, c)
        case (1, false): loop(src, dst, n, s, random, offset, mode: 1, scaled: false, c)
        case (1, true): loop(src, dst, n, s, random, offset, mode: 1, scaled: true, c)
        case (2, false): loop(src, dst, n, s, random, offset, mode: 2, scaled: false, c)
        case (2, true): loop(src, dst, n, s, random, offset, mode: 2, scaled: true, c)
        case (3, false): loop(src, dst, n, s, random, offset, mode: 3, scaled: false, c)
        case (3, true): loop(src, dst, n, s, random, offset, mode: 3, scaled: true, c)
        case (4, false): loop(src, dst, n, s, random, offset, mode: 4, scaled: false, c)
        case (4, true): loop(src, dst, n, s, random, offset, mode: 4, scaled: true, c)
        case (5, false): loop(src, dst, n, s, random, offset, mode: 5, scaled: false, c)
        case (5, true): loop(src, dst, n, s, random, offset, mode: 5, scaled: true, c)
        case (_, false): loop(src, dst, n, s, random, offset, mode: 6, scaled: false, c)
        default: loop(src, dst, n, s, random, offset, mode: 6, scaled: true, c)
        }
    }

    /// Many equal-length groups, each with its own scale: `dst[i] = round(src[i] / s_g) · s_g`
    /// for i in group g. The group length must be a multiple of 8 (no vector straddles two
    /// groups). One mode dispatch for the whole tensor: the per-group cost is a broadcast.
    @inlinable
    public func runGroups(
        _ src: UnsafePointer<Float>, _ dst: UnsafeMutablePointer<Float>, groups: Int, groupLength: Int,
        scales: UnsafePointer<Float>, random: CounterRandom, offset: Int
    ) {
        precondition(groupLength % 8 == 0)
        switch mode {
        case 0: groupLoop(src, dst, groups, groupLength, scales, random, offset, mode: 0)
        case 1: groupLoop(src, dst, groups, groupLength, scales, random, offset, mode: 1)
        case 2: groupLoop(src, dst, groups, groupLength, scales, random, offset, mode: 2)
        case 3: groupLoop(src, dst, groups, groupLength, scales, random, offset, mode: 3)
        case 4: groupLoop(src, dst, groups, groupLength, scales, random, offset, mode: 4)
        case 5: groupLoop(src, dst, groups, groupLength, scales, random, offset, mode: 5)
        default: groupLoop(src, dst, groups, groupLength, scales, random, offset, mode: 6)
        }
    }

    @_transparent @usableFromInline
    func groupLoop(
        _ src: UnsafePointer<Float>, _ dst: UnsafeMutablePointer<Float>, _ groups: Int, _ groupLength: Int,
        _ scales: UnsafePointer<Float>, _ random: CounterRandom, _ offset: Int, mode: Int32
    ) {
        let c = VectorConstants(self)
        var base = 0
        for g in 0..<groups {
            let sv = SIMD8<Float>(repeating: scales[g])
            var i = base
            let end = base + groupLength
            while i < end {
                let x = UnsafeRawPointer(src + i).loadUnaligned(as: SIMD8<Float>.self) / sv
                var rnd = SIMD8<UInt32>()
                if mode == 6 { rnd = random.bits8(offset &+ i) }
                let y = unsafeBitCast(
                    vectorFixed(unsafeBitCast(x, to: SIMD8<UInt32>.self), random: rnd, mode: mode, c), to: SIMD8<Float>.self)
                UnsafeMutableRawPointer(dst + i).storeBytes(of: y * sv, as: SIMD8<Float>.self)
                i += 8
            }
            base = end
        }
    }

    /// Groups whose scale comes from their own maximum, in one pass: each group's maximum is
    /// taken while it is in L1, its scale decided by `scaler`, then the group is rounded.
    /// Writes one scale, effective scale and code per group. Group length: a multiple of 8.
    @inlinable
    public func runGroupsFused<S: GroupScaler>(
        _ src: UnsafePointer<Float>, _ dst: UnsafeMutablePointer<Float>, groups: Int, groupLength: Int,
        scaler: S, scales: UnsafeMutablePointer<Float>, codes: UnsafeMutablePointer<UInt8>,
        random: CounterRandom, offset: Int
    ) {
        precondition(groupLength % 8 == 0)
        switch mode {
        case 0: fusedLoop(src, dst, groups, groupLength, scaler, scales, codes, random, offset, mode: 0)
        case 1: fusedLoop(src, dst, groups, groupLength, scaler, scales, codes, random, offset, mode: 1)
        case 2: fusedLoop(src, dst, groups, groupLength, scaler, scales, codes, random, offset, mode: 2)
        case 3: fusedLoop(src, dst, groups, groupLength, scaler, scales, codes, random, offset, mode: 3)
        case 4: fusedLoop(src, dst, groups, groupLength, scaler, scales, codes, random, offset, mode: 4)
        case 5: fusedLoop(src, dst, groups, groupLength, scaler, scales, codes, random, offset, mode: 5)
        default: fusedLoop(src, dst, groups, groupLength, scaler, scales, codes, random, offset, mode: 6)
        }
    }

    @_transparent @usableFromInline
    func fusedLoop<S: GroupScaler>(
        _ src: UnsafePointer<Float>, _ dst: UnsafeMutablePointer<Float>, _ groups: Int, _ groupLength: Int,
        _ scaler: S, _ scales: UnsafeMutablePointer<Float>, _ codes: UnsafeMutablePointer<UInt8>,
        _ random: CounterRandom, _ offset: Int, mode: Int32
    ) {
        let c = VectorConstants(self)
        let absMask = SIMD8<UInt32>(repeating: 0x7FFF_FFFF)
        var base = 0
        for g in 0..<groups {
            let end = base + groupLength
            var m8 = SIMD8<UInt32>(repeating: 0)
            var i = base
            while i < end {
                let v = UnsafeRawPointer(src + i).loadUnaligned(as: SIMD8<UInt32>.self) & absMask
                m8 = m8.replacing(with: v, where: v .> m8)
                i += 8
            }
            let (scale, effective, code) = scaler.scale(amaxBits: m8.max())
            scales[g] = scale
            codes[g] = code
            if effective == 0 {
                for j in base..<end { dst[j] = 0 }  // a zero scale stores zeros (x/0 would be ±Inf)
            } else {
                let sv = SIMD8<Float>(repeating: effective)
                i = base
                while i < end {
                    let x = UnsafeRawPointer(src + i).loadUnaligned(as: SIMD8<Float>.self) / sv
                    var rnd = SIMD8<UInt32>()
                    if mode == 6 { rnd = random.bits8(offset &+ i) }
                    let y = unsafeBitCast(
                        vectorFixed(unsafeBitCast(x, to: SIMD8<UInt32>.self), random: rnd, mode: mode, c), to: SIMD8<Float>.self)
                    UnsafeMutableRawPointer(dst + i).storeBytes(of: y * sv, as: SIMD8<Float>.self)
                    i += 8
                }
            }
            base = end
        }
    }

    @_transparent @usableFromInline
    func loop(
        _ src: UnsafePointer<Float>, _ dst: UnsafeMutablePointer<Float>, _ n: Int, _ s: Float,
        _ random: CounterRandom, _ offset: Int, mode: Int32, scaled: Bool, _ c: VectorConstants
    ) {
        let sv = SIMD8<Float>(repeating: s)
        var i = 0
        while i + 8 <= n {
            var x = UnsafeRawPointer(src + i).loadUnaligned(as: SIMD8<Float>.self)
            if scaled { x = x / sv }
            var rnd = SIMD8<UInt32>()
            if mode == 6 { rnd = random.bits8(offset &+ i) }
            let xb = unsafeBitCast(x, to: SIMD8<UInt32>.self)
            var y = unsafeBitCast(vectorFixed(xb, random: rnd, mode: mode, c), to: SIMD8<Float>.self)
            if scaled { y = y * sv }
            UnsafeMutableRawPointer(dst + i).storeBytes(of: y, as: SIMD8<Float>.self)
            i += 8
        }
        while i < n {
            let r: UInt32 = mode == 6 ? random.bits(offset &+ i) : 0
            dst[i] = scaled ? element(src[i] / s, random: r, mode: mode) * s : element(src[i], random: r, mode: mode)
            i += 1
        }
    }

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
            case 0: t = a &+ (c.halfBit &- one) &+ ((a &>> c.shift) & one)
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
        if c.hasSubnormalRange && (mode != 6 || any(a .< c.minNormalTarget)) {
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

extension FormatSpec {
    /// The fast path of `quantize` for binary32 input, float elements and contiguous scale
    /// groups (unscaled, per-tensor, per-head, per-token, block:N). Same results as
    /// `quantize` (a test compares them); nil where it does not apply. No codes.
    public func quantizeFast(
        _ input: UnsafeBufferPointer<Float>, shape: [Int], into output: UnsafeMutableBufferPointer<Float>,
        random: CounterRandom = CounterRandom(seed: 0)
    ) -> QuantizationSideData? {
        if case .integer = element, let src = input.baseAddress, let dst = output.baseAddress, output.count >= input.count {
            return quantizeFastInteger(src, count: input.count, shape: shape, into: dst)
        }
        guard let rounder = elementRounder, let src = input.baseAddress, let dst = output.baseAddress,
            output.count >= input.count
        else { return nil }
        if granularity == nil, let e8m0 = FastE8M0Kernel(rounder) {
            e8m0.run(input, into: output)
            return QuantizationSideData()
        }
        guard let kernel = FastElementKernel(rounder) else { return nil }
        var side = QuantizationSideData()
        let n = input.count
        guard let g = granularity else {
            kernel.run(input, into: output, random: random, offset: 0)
            return side
        }
        let layout = ScaleLayout(shape: shape, granularity: g)
        let segment: Int
        let rowLength: Int
        switch g {
        case .perTensor: segment = n; rowLength = n
        case .perHead: segment = layout.tokens * layout.channels; rowLength = segment
        case .perToken: segment = layout.channels; rowLength = segment
        case .block(let b): segment = b; rowLength = layout.channels
        default: return nil
        }
        if n == 0 { return side }
        if let fused = quantizeFused(kernel, src, dst, n: n, segment: segment, rowLength: rowLength, random: random) {
            return fused
        }
        let rows = n / max(rowLength, 1)
        let perRow = (rowLength + segment - 1) / segment
        let count = rows * perRow
        // Pass 1: absolute maxima as bit patterns (integer order is float order for |x|).
        var amaxBits = [UInt32](repeating: 0, count: count)
        src.withMemoryRebound(to: UInt32.self, capacity: n) { bits in
            let absMask = SIMD8<UInt32>(repeating: 0x7FFF_FFFF)
            for r in 0..<rows {
                for s in 0..<perRow {
                    let start = r * rowLength + s * segment
                    let end = start + min(segment, rowLength - s * segment)
                    var m8 = SIMD8<UInt32>(repeating: 0)
                    var i = start
                    while i + 8 <= end {
                        let v = UnsafeRawPointer(bits + i).loadUnaligned(as: SIMD8<UInt32>.self) & absMask
                        m8 = m8.replacing(with: v, where: v .> m8)
                        i += 8
                    }
                    var h4 = m8.lowHalf
                    let g4 = m8.highHalf
                    h4 = h4.replacing(with: g4, where: g4 .> h4)
                    var h2 = h4.lowHalf
                    let g2 = h4.highHalf
                    h2 = h2.replacing(with: g2, where: g2 .> h2)
                    var mx = h2[0] > h2[1] ? h2[0] : h2[1]
                    while i < end {
                        let a = bits[i] & 0x7FFF_FFFF
                        mx = a > mx ? a : mx
                        i += 1
                    }
                    amaxBits[r * perRow + s] = mx
                }
            }
        }
        var tensorScale: Float = 1
        if case .nvfp4(true) = scaleRule {
            let mx = amaxBits.max() ?? 0
            tensorScale = mx >= 0x7F80_0000 ? .nan : (mx == 0 ? 1 : Float(bitPattern: mx) / Float(448.0 * 6.0))
            side.tensorScale = tensorScale
        }
        let constants = FastElementKernel.VectorConstants(kernel)
        let fastRule: FastScaleRule
        switch (scaleRule, element) {
        case (.mx(.floor)?, .float(let f)): fastRule = .mxFloor(emax: f.maxExponent)
        case (.absmax?, .float(let f)): fastRule = .absmax(maxFinite: Float(f.maxFinite))
        case (.nvfp4?, _):
            let e4m3 = ElementRounder(format: .float8_e4m3fn, rounding: .nearestEven, overflow: .saturate)
            fastRule = .nvfp4(FastElementKernel(e4m3)!)
        default: fastRule = .generic
        }
        // Equal groups of a multiple of 8 that tile every row: one pass over the tensor.
        let grouped = segment % 8 == 0 && rowLength % segment == 0
        var effectiveScales = [Float](repeating: 1, count: grouped ? count : 0)
        var zeroGroups: [Int] = []
        var scales = [Float](repeating: 1, count: count)
        var codes: [UInt8]? = nil
        switch scaleRule {
        case .mx, .pow2, .nvfp4: codes = [UInt8](repeating: 0, count: count)
        default: break
        }
        // The scale of group k, one at a time (the vector pass below falls back to it).
        func scalarScale(_ k: Int) -> (Float, UInt8) {
            let bitsK = amaxBits[k]
            let poisoned = bitsK >= 0x7F80_0000
            let amax = Float(bitPattern: bitsK)
            switch fastRule {
            case .mxFloor(let emax) where bitsK >= 0x0080_0000 && !poisoned:
                // Normal amax: floor(log2 amax) is its exponent field.
                let e = min(max(Int(bitsK >> 23) - 127 - emax, -127), 127)
                return (e == -127 ? Float(bitPattern: 0x0040_0000) : Float(bitPattern: UInt32(e + 127) << 23), UInt8(e + 127))
            case .absmax(let maxFinite) where !poisoned:
                let sc = amax / maxFinite
                return (amax == 0 ? 1 : (sc > 0 ? sc : .leastNonzeroMagnitude), 0)
            case .nvfp4(let e4m3) where !poisoned && !tensorScale.isNaN:
                // E4M3 (saturating, nearest-even) of amax/6/t, and its code from its bits.
                let scale = e4m3.element(amax / 6 / tensorScale, random: 0)
                let b = scale.bitPattern
                let e = Int(b >> 23)
                return (scale, e >= 121 ? UInt8(((e - 120) << 3) | Int((b >> 20) & 7)) : UInt8(scale * 512))
            default:
                return computeScale(amax: amax, poisoned: poisoned, tensorScale: tensorScale, lo: 0, hi: 0)
            }
        }
        if grouped {
            // Eight groups at a time; lanes off the common path (poisoned, subnormal or zero
            // amax) take the scalar rule.
            let isNV: Bool = { if case .nvfp4 = scaleRule { return true } else { return false } }()
            // Results go to plain buffers (no uniqueness check per store), copied out below.
            let scalesPointer = UnsafeMutablePointer<Float>.allocate(capacity: count)
            let effectivePointer = UnsafeMutablePointer<Float>.allocate(capacity: count)
            let codesPointer: UnsafeMutablePointer<UInt8>? = codes == nil ? nil : .allocate(capacity: count + 8)
            let amaxPointer = UnsafeMutablePointer<UInt32>.allocate(capacity: count)
            amaxPointer.initialize(from: amaxBits, count: count)
            defer {
                scalesPointer.deallocate()
                effectivePointer.deallocate()
                codesPointer?.deallocate()
                amaxPointer.deallocate()
            }
            var nvConstants: FastElementKernel.VectorConstants? = nil
            if case .nvfp4(let e4m3) = fastRule { nvConstants = FastElementKernel.VectorConstants(e4m3) }
            var k = 0
            while k + 8 <= count {
                let b = UnsafeRawPointer(amaxPointer + k).loadUnaligned(as: SIMD8<UInt32>.self)
                var sv = SIMD8<Float>(repeating: 1)
                var cv = SIMD8<UInt32>(repeating: 0)
                var slow = b .>= SIMD8(repeating: 0x7F80_0000)
                switch fastRule {
                case .mxFloor(let emax):
                    slow = slow .| (b .< SIMD8(repeating: 0x0080_0000))
                    let e = unsafeBitCast(b &>> SIMD8(repeating: 23), to: SIMD8<Int32>.self) &- SIMD8(repeating: Int32(127 + emax))
                    let low = e .<= SIMD8(repeating: -127)
                    slow = slow .| low .| (e .> SIMD8(repeating: 127))
                    let codes = unsafeBitCast(e &+ SIMD8(repeating: 127), to: SIMD8<UInt32>.self)
                    sv = unsafeBitCast(codes &<< SIMD8(repeating: 23), to: SIMD8<Float>.self)
                    cv = codes
                case .absmax(let maxFinite):
                    slow = slow .| (b .< SIMD8(repeating: 0x0080_0000))
                    sv = unsafeBitCast(b, to: SIMD8<Float>.self) / SIMD8(repeating: maxFinite)
                    slow = slow .| (sv .== SIMD8(repeating: 0))
                case .nvfp4(let e4m3) where !tensorScale.isNaN:
                    let raw = unsafeBitCast(b, to: SIMD8<Float>.self) / SIMD8(repeating: 6) / SIMD8(repeating: tensorScale)
                    let q = e4m3.vectorFixed(unsafeBitCast(raw, to: SIMD8<UInt32>.self), random: SIMD8(), mode: 0, nvConstants!)
                    sv = unsafeBitCast(q, to: SIMD8<Float>.self)
                    let ex = q &>> SIMD8(repeating: 23)
                    slow = slow .| (ex .< SIMD8(repeating: 121))  // zero or subnormal scale
                    cv = ((ex &- SIMD8(repeating: 120)) &<< SIMD8(repeating: 3)) | ((q &>> SIMD8(repeating: 20)) & SIMD8(repeating: 7))
                default:
                    slow = SIMDMask(repeating: true)
                }
                // Common path: vector stores; rare lanes: the scalar rule.
                let ev = isNV ? sv * SIMD8(repeating: tensorScale) : sv
                UnsafeMutableRawPointer(scalesPointer + k).storeBytes(of: sv, as: SIMD8<Float>.self)
                UnsafeMutableRawPointer(effectivePointer + k).storeBytes(of: ev, as: SIMD8<Float>.self)
                if let cp = codesPointer {
                    let narrow = SIMD8<UInt8>(truncatingIfNeeded: cv)
                    UnsafeMutableRawPointer(cp + k).storeBytes(of: narrow, as: SIMD8<UInt8>.self)
                }
                if any(slow) {
                    for j in 0..<8 where slow[j] {
                        let (scale, code) = scalarScale(k + j)
                        scalesPointer[k + j] = scale
                        codesPointer?[k + j] = code
                        let effective = isNV ? scale * tensorScale : scale
                        effectivePointer[k + j] = effective
                        if effective == 0 { zeroGroups.append(k + j) }
                    }
                }
                k += 8
            }
            while k < count {
                let (scale, code) = scalarScale(k)
                scalesPointer[k] = scale
                codesPointer?[k] = code
                let effective = isNV ? scale * tensorScale : scale
                effectivePointer[k] = effective
                if effective == 0 { zeroGroups.append(k) }
                k += 1
            }
            scales = Array(UnsafeBufferPointer(start: scalesPointer, count: count))
            effectiveScales = Array(UnsafeBufferPointer(start: effectivePointer, count: count))
            if let cp = codesPointer { codes = Array(UnsafeBufferPointer(start: cp, count: count)) }
        } else {
        for r in 0..<rows {
            for s in 0..<perRow {
                let k = r * perRow + s
                let start = r * rowLength + s * segment
                let len = min(segment, rowLength - s * segment)
                let (scale, code) = scalarScale(k)
                scales[k] = scale
                codes?[k] = code
                var effective = scale
                if case .nvfp4 = scaleRule { effective = scale * tensorScale }
                if effective.isNaN {
                    for i in start..<start + len { dst[i] = .nan }
                } else if effective == 0 {
                    for i in start..<start + len { dst[i] = 0 }
                } else {
                    kernel.runScaled(src + start, dst + start, count: len, scale: effective, random: random, offset: start,
                        scaled: true, constants)
                }
            }
        }
        }
        if grouped {
            effectiveScales.withUnsafeBufferPointer { sp in
                kernel.runGroups(src, dst, groups: count, groupLength: segment, scales: sp.baseAddress!, random: random, offset: 0)
            }
            for k in zeroGroups {  // a zero scale stores zeros (x/0 would be ±Inf)
                for i in k * segment..<(k + 1) * segment { dst[i] = 0 }
            }
        }
        side.scales = scales
        side.scaleCodes = codes
        return side
    }
}

extension FormatSpec {
    /// One pass per group for the common rules (MX floor, absmax, NVFP4) when groups are equal,
    /// a multiple of 8 long, and tile every row; nil otherwise.
    func quantizeFused(
        _ kernel: FastElementKernel, _ src: UnsafePointer<Float>, _ dst: UnsafeMutablePointer<Float>,
        n: Int, segment: Int, rowLength: Int, random: CounterRandom
    ) -> QuantizationSideData? {
        guard segment % 8 == 0, rowLength % segment == 0, n % segment == 0 else { return nil }
        let rule: FastScaleRule
        switch (scaleRule, element) {
        case (.mx(.floor)?, .float(let f)): rule = .mxFloor(emax: f.maxExponent)
        case (.absmax?, .float(let f)): rule = .absmax(maxFinite: Float(f.maxFinite))
        case (.nvfp4?, _):
            rule = .nvfp4(FastElementKernel(ElementRounder(format: .float8_e4m3fn, rounding: .nearestEven, overflow: .saturate))!)
        default: return nil
        }
        var side = QuantizationSideData()
        var tensorScale: Float = 1
        if case .nvfp4(true) = scaleRule {
            // The tensor maximum first (a read-only pass), as the tensor scale needs it.
            var m8 = SIMD8<UInt32>(repeating: 0)
            let absMask = SIMD8<UInt32>(repeating: 0x7FFF_FFFF)
            var mx: UInt32 = 0
            src.withMemoryRebound(to: UInt32.self, capacity: n) { bits in
                var i = 0
                while i + 8 <= n {
                    let v = UnsafeRawPointer(bits + i).loadUnaligned(as: SIMD8<UInt32>.self) & absMask
                    m8 = m8.replacing(with: v, where: v .> m8)
                    i += 8
                }
                mx = m8.max()
                while i < n {
                    mx = max(mx, bits[i] & 0x7FFF_FFFF)
                    i += 1
                }
            }
            tensorScale = mx >= 0x7F80_0000 ? .nan : (mx == 0 ? 1 : Float(bitPattern: mx) / Float(448.0 * 6.0))
            side.tensorScale = tensorScale
        }
        let groups = n / segment
        var scales = [Float](repeating: 0, count: groups)
        var codes = [UInt8](repeating: 0, count: groups)
        let scaler = FastGroupScaler(spec: self, rule: rule, tensorScale: tensorScale)
        scales.withUnsafeMutableBufferPointer { sp in
            codes.withUnsafeMutableBufferPointer { cp in
                kernel.runGroupsFused(src, dst, groups: groups, groupLength: segment, scaler: scaler,
                    scales: sp.baseAddress!, codes: cp.baseAddress!, random: random, offset: 0)
            }
        }
        side.scales = scales
        switch scaleRule {
        case .mx, .pow2, .nvfp4: side.scaleCodes = codes
        default: break
        }
        return side
    }
}

/// Decides a group's scale from the bit pattern of its absolute maximum.
public protocol GroupScaler {
    /// (stored scale, scale the elements are divided by and multiplied back with, code).
    func scale(amaxBits: UInt32) -> (Float, Float, UInt8)
}

/// The fast scale rules, falling back to `FormatSpec.computeScale` off their common path.
@usableFromInline
struct FastGroupScaler: GroupScaler {
    @usableFromInline let spec: FormatSpec
    @usableFromInline let rule: FastScaleRule
    @usableFromInline let tensorScale: Float

    @inlinable @inline(__always)
    func scale(amaxBits bitsK: UInt32) -> (Float, Float, UInt8) {
        let poisoned = bitsK >= 0x7F80_0000
        let amax = Float(bitPattern: bitsK)
        switch rule {
        case .mxFloor(let emax) where bitsK >= 0x0080_0000 && !poisoned:
            // Normal amax: floor(log2 amax) is its exponent field.
            let e = min(max(Int(bitsK >> 23) - 127 - emax, -127), 127)
            let s = e == -127 ? Float(bitPattern: 0x0040_0000) : Float(bitPattern: UInt32(e + 127) << 23)
            return (s, s, UInt8(e + 127))
        case .absmax(let maxFinite) where !poisoned:
            let sc = amax / maxFinite
            let s: Float = amax == 0 ? 1 : (sc > 0 ? sc : .leastNonzeroMagnitude)
            return (s, s, 0)
        case .nvfp4 where !poisoned && !tensorScale.isNaN:
            // E4M3 (saturating, nearest-even) of amax/6/t, inline, and its code from its bits.
            let raw = amax / 6 / tensorScale
            let a = raw.bitPattern
            let s: Float
            let code: UInt8
            if a >= 0x3C80_0000 {  // ≥ 2^-6: normal in E4M3; round the bits to 3 mantissa bits
                var t = (a &+ 0x7_FFFF &+ ((a >> 20) & 1)) & ~UInt32(0xF_FFFF)
                if t > 0x43E0_0000 { t = 0x43E0_0000 }  // saturate at 448
                s = Float(bitPattern: t)
                code = UInt8(truncatingIfNeeded: (((t >> 23) &- 120) << 3) | ((t >> 20) & 7))
            } else {  // subnormal range: multiples of 2^-9, nearest-even by the 2^23 trick
                let r = (raw * 512 + 8_388_608) - 8_388_608
                s = r / 512
                code = UInt8(r)
            }
            return (s, s * tensorScale, code)
        default:
            let (s, code) = spec.computeScale(amax: amax, poisoned: poisoned, tensorScale: tensorScale, lo: 0, hi: 0)
            if case .nvfp4 = rule { return (s, s * tensorScale, code) }
            return (s, s, code)
        }
    }
}

@usableFromInline
enum FastScaleRule {
    case mxFloor(emax: Int)
    case absmax(maxFinite: Float)
    case nvfp4(FastElementKernel)
    case generic
}

/// The vector kernel for e8m0 (unsigned powers of two, no zero) with nearest rounding, whose
/// ties go away from zero as ml_dtypes does. Same results as `ElementRounder.round`.
public struct FastE8M0Kernel: Sendable {
    @usableFromInline let overflowBits: UInt32  // 2^127 (saturate) or NaN (ieee)

    public init?(_ r: ElementRounder) {
        guard r.format.nanEncoding == .allOnesUnsigned, r.format.mantissaBits == 0,
            r.rounding == .nearestEven || r.rounding == .nearestAway, !r.flushSubnormals
        else { return nil }
        overflowBits = r.overflow == .saturate ? 0x7F00_0000 : 0x7FC0_0000
    }

    @inlinable
    public func run(_ input: UnsafeBufferPointer<Float>, into output: UnsafeMutableBufferPointer<Float>) {
        let n = min(input.count, output.count)
        guard n > 0, let src = input.baseAddress, let dst = output.baseAddress else { return }
        typealias U = SIMD8<UInt32>
        let nan = U(repeating: 0x7FC0_0000)
        let over = U(repeating: overflowBits)
        let expMask = U(repeating: 0x7F80_0000)
        let minNormal = U(repeating: 0x0080_0000)
        let half = U(repeating: 0x0040_0000)
        let threeHalves = U(repeating: 0x0060_0000)
        let positiveLimit = U(repeating: 0x7F80_0000)
        var i = 0
        while i + 8 <= n {
            let b = UnsafeRawPointer(src + i).loadUnaligned(as: U.self)
            var t = (b &+ half) & expMask  // normal inputs: the exponent, half-up
            t = t.replacing(with: over, where: t .== expMask)
            let small = half.replacing(with: minNormal, where: b .>= threeHalves)
            t = t.replacing(with: small, where: b .< minNormal)
            // Zero, negative (sign bit set: b ≥ 2^31), NaN give NaN; +Inf overflows.
            t = t.replacing(with: nan, where: (b &- U(repeating: 1)) .>= U(repeating: 0x7F80_0000))
            t = t.replacing(with: over, where: b .== positiveLimit)
            UnsafeMutableRawPointer(dst + i).storeBytes(of: t, as: U.self)
            i += 8
        }
        while i < n {
            let b = src[i].bitPattern
            var t = (b &+ 0x0040_0000) & 0x7F80_0000
            if t == 0x7F80_0000 { t = overflowBits }
            if b < 0x0080_0000 { t = b >= 0x0060_0000 ? 0x0080_0000 : 0x0040_0000 }
            if b &- 1 >= 0x7F80_0000 { t = 0x7FC0_0000 }
            if b == 0x7F80_0000 { t = overflowBits }
            dst[i] = Float(bitPattern: t)
            i += 1
        }
    }
}
