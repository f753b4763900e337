import Foundation
import NumberFormats

/// Counter-based random numbers: every value is a pure function of
/// (seed, stream, head, position, index), so any position can be regenerated on demand in any
/// order (the exact K/V of a 1M-token cache are recomputed, not stored).
///
/// Keys are mixed with SplitMix64's finaliser; a uniform is the top 53 bits of a mixed
/// counter; normals come in Box–Muller pairs computed without libm (`BoxMuller`: the same bits
/// on every machine, scalar or vectorised).
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

    /// Standard normal for element i: elements 2m and 2m + 1 are the two outputs (cos, sin) of
    /// one Box–Muller pair on counters 2m and 2m + 1 (`BoxMuller`: no libm, the same bits as
    /// `normals(into:from:count:)` and on every machine).
    @inlinable public func normal(_ i: Int) -> Double {
        let m = i >> 1
        let z = BoxMuller.pair(bits(2 &* m), bits(2 &* m &+ 1))
        return i & 1 == 0 ? z.0 : z.1
    }

    /// Elements start..<start+count of `normal`, eight pairs at a time.
    @inlinable
    public func normals(into out: UnsafeMutablePointer<Double>, from start: Int, count: Int) {
        guard count > 0 else { return }
        let end = start + count
        var m = start >> 1
        let mEnd = (end + 1) >> 1
        let lane = SIMD8<UInt64>(0, 1, 2, 3, 4, 5, 6, 7)
        let mul = SIMD8<UInt64>(repeating: 0xBF58_476D_1CE4_E5B9), keyV = SIMD8<UInt64>(repeating: key)
        while m < mEnd {
            let n = min(8, mEnd - m)
            let c1 = (SIMD8<UInt64>(repeating: UInt64(bitPattern: Int64(m))) &+ lane) &* 2
            let b1 = CounterStream.splitmix(keyV ^ (c1 &* mul))
            let b2 = CounterStream.splitmix(keyV ^ ((c1 | 1) &* mul))
            let (zc, zs) = BoxMuller.pairs(b1, b2)
            var i = 2 * m - start
            if n == 8 && i >= 0 && i + 16 <= count {
                let o = out + i
                for l in 0..<8 { o[2 * l] = zc[l]; o[2 * l + 1] = zs[l] }
            } else {
                for l in 0..<n {
                    if i >= 0 && i < count { out[i] = zc[l] }
                    if i + 1 >= 0 && i + 1 < count { out[i + 1] = zs[l] }
                    i += 2
                }
            }
            m += n
        }
    }

    /// SplitMix64's finaliser on eight lanes (`CounterRandom.splitmix`).
    @inlinable @inline(__always)
    static func splitmix(_ v: SIMD8<UInt64>) -> SIMD8<UInt64> {
        var z = v &+ 0x9E37_79B9_7F4A_7C15
        z = (z ^ (z &>> 30)) &* 0xBF58_476D_1CE4_E5B9
        z = (z ^ (z &>> 27)) &* 0x94D0_49BB_1331_11EB
        return z ^ (z &>> 31)
    }

    /// The generator before `BoxMuller` (libm log and cos, one output per pair of uniforms on
    /// counters 2i and 2i + 1): kept as the baseline of `attnprec bench reference`.
    public func libmNormal(_ i: Int) -> Double {
        let u1 = uniform(2 &* i), u2 = uniform(2 &* i &+ 1)
        return (-2 * Foundation.log(u1)).squareRoot() * Foundation.cos(2 * Double.pi * u2)
    }

    static func fnv1a(_ s: String) -> UInt64 {
        var h: UInt64 = 0xcbf2_9ce4_8422_2325
        for b in s.utf8 { h = (h ^ UInt64(b)) &* 0x100_0000_01b3 }
        return h
    }
}
