/// Counter-based random bits for stochastic rounding.
///
/// Every draw is a pure function of (seed, tensor role, head, step, element index): no state
/// is carried from one element to the next, so the bits an element receives do not depend on
/// how the work is split over threads or chunks, nor on the order elements are visited.
///
/// The per-stream key is mixed with SplitMix64's finaliser. The per-element function is a
/// bijection of the 32-bit counter: xor with one key half, multiply by the other (odd) half,
/// then the second half of Wellons' `lowbias32` finaliser — two 32-bit multiplies, so eight
/// lanes cost a few vector instructions. Different keys give different permutations, not
/// shifted copies of one sequence.
public struct CounterRandom: Hashable, Sendable {
    public let key0: UInt32
    public let key1: UInt32

    /// A stream for one (seed, role, head, step).
    public init(seed: UInt64, role: String = "", head: Int = 0, step: Int = 0) {
        var h = CounterRandom.splitmix(seed ^ 0x6174_746E_7072_6563)  // "attnprec"
        h = CounterRandom.splitmix(h ^ CounterRandom.fnv1a(role))
        h = CounterRandom.splitmix(h ^ UInt64(bitPattern: Int64(head)))
        h = CounterRandom.splitmix(h ^ UInt64(bitPattern: Int64(step)) &* 0x9E37_79B9_7F4A_7C15)
        key0 = UInt32(truncatingIfNeeded: h)
        key1 = UInt32(truncatingIfNeeded: h >> 32)
    }

    public init(key0: UInt32, key1: UInt32) {
        self.key0 = key0
        self.key1 = key1
    }

    /// 32 random bits for element `index` of this stream.
    @inlinable @inline(__always)
    public func bits(_ index: Int) -> UInt32 {
        let lo = UInt32(truncatingIfNeeded: index)
        let hi = UInt32(truncatingIfNeeded: index >> 32)
        var x = (lo ^ key0 ^ (hi &* 0x9E37_79B9)) &* (key1 | 1)
        x ^= x >> 15
        x = x &* 0x735a_2d97
        x ^= x >> 15
        return x
    }

    /// `bits(index + j)` for j = 0…7.
    @_transparent
    public func bits8(_ index: Int) -> SIMD8<UInt32> {
        let lo0 = UInt32(truncatingIfNeeded: index)
        let hi = UInt32(truncatingIfNeeded: index >> 32)
        let lanes = SIMD8<UInt32>(0, 1, 2, 3, 4, 5, 6, 7)
        var x = ((SIMD8(repeating: lo0) &+ lanes) ^ SIMD8(repeating: key0 ^ (hi &* 0x9E37_79B9))) &* SIMD8(repeating: key1 | 1)
        x ^= x &>> SIMD8(repeating: 15)
        x = x &* SIMD8(repeating: 0x735a_2d97)
        x ^= x &>> SIMD8(repeating: 15)
        if lo0 > UInt32.max - 7 {  // the eight indices straddle a multiple of 2^32
            for j in 0..<8 { x[j] = bits(index + j) }
        }
        return x
    }

    @_transparent
    public static func lowbias32(_ v: SIMD8<UInt32>) -> SIMD8<UInt32> {
        var x = v
        x ^= x &>> SIMD8(repeating: 16)
        x = x &* SIMD8(repeating: 0x21f0_aaad)
        x ^= x &>> SIMD8(repeating: 15)
        x = x &* SIMD8(repeating: 0x735a_2d97)
        x ^= x &>> SIMD8(repeating: 15)
        return x
    }

    @inlinable @inline(__always)
    public static func lowbias32(_ v: UInt32) -> UInt32 {
        var x = v
        x ^= x >> 16
        x = x &* 0x21f0_aaad
        x ^= x >> 15
        x = x &* 0x735a_2d97
        x ^= x >> 15
        return x
    }

    public static func splitmix(_ v: UInt64) -> UInt64 {
        var z = v &+ 0x9E37_79B9_7F4A_7C15
        z = (z ^ (z >> 30)) &* 0xBF58_476D_1CE4_E5B9
        z = (z ^ (z >> 27)) &* 0x94D0_49BB_1331_11EB
        return z ^ (z >> 31)
    }

    static func fnv1a(_ s: String) -> UInt64 {
        var h: UInt64 = 0xcbf2_9ce4_8422_2325
        for b in s.utf8 { h = (h ^ UInt64(b)) &* 0x100_0000_01b3 }
        return h
    }
}
