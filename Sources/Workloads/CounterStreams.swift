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

    /// Standard normal for element i. Elements come in blocks of 16 from eight Box–Muller pairs
    /// (`BoxMuller`: no libm, the same bits on every machine): element 16b + l is the cosine
    /// output and 16b + 8 + l the sine output of pair 8b + l (l < 8), which uses counters
    /// 2(8b + l) and 2(8b + l) + 1. The same bits as `normals(into:from:count:)`.
    @inlinable public func normal(_ i: Int) -> Double {
        let m = (i >> 4) &* 8 &+ (i & 7)
        let z = BoxMuller.pair(bits(2 &* m), bits(2 &* m &+ 1))
        return i & 8 == 0 ? z.0 : z.1
    }

    /// Elements start..<start+count of `normal`, a block of 16 at a time.
    @inlinable
    public func normals(into out: UnsafeMutablePointer<Double>, from start: Int, count: Int) {
        guard count > 0 else { return }
        precondition(start >= 0)
        let end = start + count
        let lane = SIMD8<UInt64>(0, 1, 2, 3, 4, 5, 6, 7)
        let mul = SIMD8<UInt64>(repeating: 0xBF58_476D_1CE4_E5B9), keyV = SIMD8<UInt64>(repeating: key)
        var block = start >> 4
        var tmp = (SIMD8<Double>(), SIMD8<Double>())
        while block << 4 < end {
            let c1 = (SIMD8<UInt64>(repeating: UInt64(block) << 3) &+ lane) &* 2
            let (zc, zs) = BoxMuller.pairs(CounterStream.splitmix(keyV ^ (c1 &* mul)), CounterStream.splitmix(keyV ^ ((c1 | 1) &* mul)))
            let base = block << 4
            if base >= start && base + 16 <= end {
                UnsafeMutableRawPointer(out + (base - start)).storeBytes(of: zc, as: SIMD8<Double>.self)
                UnsafeMutableRawPointer(out + (base - start + 8)).storeBytes(of: zs, as: SIMD8<Double>.self)
            } else {
                tmp = (zc, zs)
                withUnsafeBytes(of: &tmp) { raw in
                    let z = raw.bindMemory(to: Double.self)
                    for i in max(base, start)..<min(base + 16, end) { out[i - start] = z[i - base] }
                }
            }
            block += 1
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
