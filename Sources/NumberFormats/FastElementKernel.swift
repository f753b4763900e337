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
                let x = loadLanes(src + i) / sv
                var rnd = SIMD8<UInt32>()
                if mode == 6 { rnd = random.bits8(offset &+ i) }
                let y = unsafeBitCast(
                    vectorFixed(unsafeBitCast(x, to: SIMD8<UInt32>.self), random: rnd, mode: mode, c), to: SIMD8<Float>.self)
                storeLanes(dst + i, y * sv)
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
                let v = loadLaneBits(src + i) & absMask
                m8 = m8.replacing(with: v, where: v .> m8)
                i += 8
            }
            let (scale, effective, code) = scaler.scale(amaxBits: largestLane(m8))
            scales[g] = scale
            codes[g] = code
            if effective == 0 {
                for j in base..<end { dst[j] = 0 }  // a zero scale stores zeros (x/0 would be ±Inf)
            } else {
                let sv = SIMD8<Float>(repeating: effective)
                i = base
                while i < end {
                    let x = loadLanes(src + i) / sv
                    var rnd = SIMD8<UInt32>()
                    if mode == 6 { rnd = random.bits8(offset &+ i) }
                    let y = unsafeBitCast(
                        vectorFixed(unsafeBitCast(x, to: SIMD8<UInt32>.self), random: rnd, mode: mode, c), to: SIMD8<Float>.self)
                    storeLanes(dst + i, y * sv)
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
            var x = loadLanes(src + i)
            if scaled { x = x / sv }
            var rnd = SIMD8<UInt32>()
            if mode == 6 { rnd = random.bits8(offset &+ i) }
            let xb = unsafeBitCast(x, to: SIMD8<UInt32>.self)
            var y = unsafeBitCast(vectorFixed(xb, random: rnd, mode: mode, c), to: SIMD8<Float>.self)
            if scaled { y = y * sv }
            storeLanes(dst + i, y)
            i += 8
        }
        while i < n {
            let r: UInt32 = mode == 6 ? random.bits(offset &+ i) : 0
            dst[i] = scaled ? element(src[i] / s, random: r, mode: mode) * s : element(src[i], random: r, mode: mode)
            i += 1
        }
    }
}

// Lane loads, stores and reductions for the kernels of this module, always inlined. The
// standard library's own (`loadUnaligned`, `storeBytes`, `any`, `max()`) reach the code as
// generic specialisations that the optimizer does not inline into functions as large as the
// mode-specialised loops above (14 copies in `runScaled`); LLVM inlines them later only where
// the call and the specialisation share an object file, which depends on how the module's
// code is spread over files. Split over files that way, mxfp4 and the per-token and
// stochastic formats ran at half speed. `@inline(__always)` is inlined whatever the size,
// and the reductions are written out, so no call is left for the file layout to decide.

@inlinable @inline(__always)
func loadLanes(_ p: UnsafeRawPointer) -> SIMD8<Float> { p.loadUnaligned(as: SIMD8<Float>.self) }

@inlinable @inline(__always)
func loadLaneBits(_ p: UnsafeRawPointer) -> SIMD8<UInt32> { p.loadUnaligned(as: SIMD8<UInt32>.self) }

@inlinable @inline(__always)
func storeLanes(_ p: UnsafeMutableRawPointer, _ v: SIMD8<Float>) { p.storeBytes(of: v, as: SIMD8<Float>.self) }

@inlinable @inline(__always)
func storeLaneBits(_ p: UnsafeMutableRawPointer, _ v: SIMD8<UInt32>) { p.storeBytes(of: v, as: SIMD8<UInt32>.self) }

/// Whether any lane of the mask is set (a set lane is −1: the OR of the lanes is negative).
@inlinable @inline(__always)
func anyLane(_ m: SIMDMask<SIMD8<Int32>>) -> Bool {
    let v = unsafeBitCast(m, to: SIMD8<Int32>.self)
    let four = v.lowHalf | v.highHalf
    let two = four.lowHalf | four.highHalf
    return (two[0] | two[1]) < 0
}

/// The largest lane (the loop the standard library's `max()` runs; LLVM makes it a tree of
/// `vpmaxud`).
@inlinable @inline(__always)
func largestLane(_ v: SIMD8<UInt32>) -> UInt32 {
    var m = v[0]
    for i in 1..<8 { m = Swift.max(m, v[i]) }
    return m
}
