import Foundation
import NumberFormats

/// Counter-based random numbers: every value is a pure function of
/// (seed, stream, head, position, index), so any position can be regenerated on demand in any
/// order (the exact K/V of a 1M-token cache are recomputed, not stored).
///
/// Keys are mixed with SplitMix64's finaliser; a uniform is the top 53 bits of a mixed
/// counter; a normal is Box–Muller on two uniforms (libm log/cos: the same bits on every run of
/// the same build).
public struct CounterStream: Hashable, Sendable {
    public let key: UInt64

    public init(seed: UInt64, stream: String, head: Int, position: Int) {
        var h = CounterRandom.splitmix(seed ^ 0x776F_726B_6C6F_6164)  // "workload"
        h = CounterRandom.splitmix(h ^ CounterStream.fnv1a(stream))
        h = CounterRandom.splitmix(h ^ UInt64(bitPattern: Int64(head)) &* 0xD6E8_FEB8_6659_FD93)
        h = CounterRandom.splitmix(h ^ UInt64(bitPattern: Int64(position)) &* 0x9E37_79B9_7F4A_7C15)
        key = h
    }

    /// 64 random bits for counter i.
    @inlinable public func bits(_ i: Int) -> UInt64 {
        CounterRandom.splitmix(key ^ (UInt64(bitPattern: Int64(i)) &* 0xBF58_476D_1CE4_E5B9))
    }

    /// Uniform in (0, 1) (never 0 or 1).
    @inlinable public func uniform(_ i: Int) -> Double {
        (Double(bits(i) >> 11) + 0.5) * 0x1p-53
    }

    /// Standard normal for element i (uses counters 2i and 2i+1).
    @inlinable public func normal(_ i: Int) -> Double {
        let u1 = uniform(2 &* i), u2 = uniform(2 &* i &+ 1)
        return (-2 * Foundation.log(u1)).squareRoot() * Foundation.cos(2 * Double.pi * u2)
    }

    static func fnv1a(_ s: String) -> UInt64 {
        var h: UInt64 = 0xcbf2_9ce4_8422_2325
        for b in s.utf8 { h = (h ^ UInt64(b)) &* 0x100_0000_01b3 }
        return h
    }
}
