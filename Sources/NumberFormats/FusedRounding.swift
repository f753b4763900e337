/// A fused kernel's store rounding, 16 lanes at a time (`GatedDeltaFusedKernel` uses it through
/// generics, so each conformer's `round` inlines into its sweep). `track` keeps the largest
/// exponent field seen (the bound that decides whether the next token may take a fast rounding).
public protocol FusedRounding {
    func round(_ x: SIMD16<Float>, _ track: inout SIMD16<UInt32>) -> SIMD16<Float>
}

@inlinable @inline(__always)
public func laneMax(_ a: SIMD16<UInt32>, _ b: SIMD16<UInt32>) -> SIMD16<UInt32> {
    // A select rather than `pointwiseMax`, which LLVM scalarised inside the kernel loop.
    a.replacing(with: b, where: b .> a)
}

public struct KeepFloat32: FusedRounding {
    @inlinable public init() {}
    @inlinable @inline(__always)
    public func round(_ x: SIMD16<Float>, _ track: inout SIMD16<UInt32>) -> SIMD16<Float> { x }
}

/// Nearest-even on the signed bits (bf16, tf32 without saturation): add half − 1 + lsb, mask.
/// Exact for every finite or infinite input (a carry into the exponent is the correct rounding,
/// overflow becomes ±∞, the sign bit is never reached) and for a NaN whose bits below the
/// kept mantissa are zero, which stays a NaN. The kernel keeps every NaN it feeds here in that
/// form (see `GatedDeltaFusedKernel`), so no NaN fix-up is needed: 5 vector operations.
public struct BitsRounding: FusedRounding {
    @usableFromInline let shift: SIMD16<UInt32>, halfMinusOne: SIMD16<UInt32>, mask: SIMD16<UInt32>
    @inlinable public init(_ l: NearestEvenLanes) {
        shift = SIMD16(lowHalf: l.shift, highHalf: l.shift)
        halfMinusOne = SIMD16(lowHalf: l.halfMinusOne, highHalf: l.halfMinusOne)
        mask = SIMD16(lowHalf: l.mask, highHalf: l.mask)
    }
    @inlinable @inline(__always)
    public func round(_ x: SIMD16<Float>, _ track: inout SIMD16<UInt32>) -> SIMD16<Float> {
        let xb = unsafeBitCast(x, to: SIMD16<UInt32>.self)
        return unsafeBitCast(xb.nearestEvenOnBits(shift: shift, halfMinusOne: halfMinusOne, keep: mask), to: SIMD16<Float>.self)
    }
}

/// Nearest-even by the magic number c = 1.5·2^(max(e, emin) − m + 23) with the sign of x:
/// x + c stays in c's binade for |x| < 2^(e+1) when m ≤ 21, so (x + c) − c is x rounded to the
/// format's quantum at its exponent (subnormals included, ties to even since c/quantum is
/// even); the sign is OR-ed back for results that cancel to +0. Only for finite inputs below
/// the format's overflow threshold (the kernel's gate); 7 vector operations with the tracker.
public struct MagicRounding: FusedRounding {
    @usableFromInline let minExponent: SIMD16<UInt32>, offset: SIMD16<UInt32>
    @inlinable public init(_ l: NearestEvenLanes) {
        let drop = UInt32(23 - l.mantissaBits)
        minExponent = SIMD16(repeating: l.minNormalExponentBits[0])
        offset = SIMD16(repeating: (drop << 23) | 0x0040_0000)
    }
    @inlinable @inline(__always)
    public func round(_ x: SIMD16<Float>, _ track: inout SIMD16<UInt32>) -> SIMD16<Float> {
        let xb = unsafeBitCast(x, to: SIMD16<UInt32>.self)
        let e = laneMax(xb & SIMD16(repeating: 0x7F80_0000), minExponent)
        track = laneMax(track, e)
        let c = unsafeBitCast(e &+ offset, to: SIMD16<Float>.self)
        let r = unsafeBitCast((x + c) - c, to: SIMD16<UInt32>.self)
        return unsafeBitCast(r | (xb & SIMD16(repeating: 0x8000_0000)), to: SIMD16<Float>.self)
    }
}

/// `NearestEvenLanes.round` itself (every input, every accepted format), with the tracker.
public struct ExactRounding: FusedRounding {
    @usableFromInline let lanes: NearestEvenLanes
    @inlinable public init(_ l: NearestEvenLanes) { lanes = l }
    @inlinable @inline(__always)
    public func round(_ x: SIMD16<Float>, _ track: inout SIMD16<UInt32>) -> SIMD16<Float> {
        track = laneMax(track, unsafeBitCast(x, to: SIMD16<UInt32>.self) & SIMD16(repeating: 0x7F80_0000))
        return SIMD16(lowHalf: lanes.round(x.lowHalf), highHalf: lanes.round(x.highHalf))
    }
}
