import Foundation

/// Rotary position embedding (Su et al. 2021) in DeepSeek's interleaved form: channel pairs
/// (2i, 2i+1) rotate by the angle p·θ_i, θ_i = base^(−2i/d) (the reference code's
/// `view_as_complex` over adjacent pairs).
///
/// Applied in binary64 when inputs are generated (keys are cached after RoPE, as kernels write
/// them), then rounded to binary32 like every generated input, so all tiers see the same values.
public struct RotaryEmbedding: Hashable, Sendable {
    public var dimension: Int
    public var base: Double

    public init(dimension: Int, base: Double = 10000) {
        precondition(dimension % 2 == 0, "RoPE needs an even dimension")
        self.dimension = dimension
        self.base = base
    }

    /// Rotates x[offset..<offset+dimension] in place for position p.
    public func apply(_ x: UnsafeMutableBufferPointer<Double>, offset: Int = 0, position p: Int) {
        for i in 0..<dimension / 2 {
            let theta = Foundation.pow(base, -2 * Double(i) / Double(dimension))
            let angle = Double(p) * theta
            let c = Foundation.cos(angle), s = Foundation.sin(angle)
            let a = x[offset + 2 * i], b = x[offset + 2 * i + 1]
            x[offset + 2 * i] = a * c - b * s
            x[offset + 2 * i + 1] = a * s + b * c
        }
    }
}

/// RMSNorm with unit weight: x / sqrt(mean(x²) + eps), in binary64.
func rmsNormalize(_ x: UnsafeMutableBufferPointer<Double>, count n: Int, eps: Double = 1e-6) {
    var ss = 0.0
    for i in 0..<n { ss = ss.addingProduct(x[i], x[i]) }
    let r = 1 / (ss / Double(n) + eps).squareRoot()
    for i in 0..<n { x[i] *= r }
}

/// The Sylvester–Hadamard transform scaled by n^(−1/2) (n a power of two), in place, binary64:
/// the indexer's `rotate_activation`.
func hadamardRotate(_ x: UnsafeMutableBufferPointer<Double>, offset: Int = 0, count n: Int) {
    precondition(n > 0 && n & (n - 1) == 0)
    var h = 1
    while h < n {
        var i = 0
        while i < n {
            for j in i..<i + h {
                let a = x[offset + j], b = x[offset + j + h]
                x[offset + j] = a + b
                x[offset + j + h] = a - b
            }
            i += 2 * h
        }
        h *= 2
    }
    let r = 1 / Double(n).squareRoot()
    for i in 0..<n { x[offset + i] *= r }
}

/// Rounds each element to the nearest binary32 value (generated inputs are fp32).
func roundToFloat32(_ x: UnsafeMutableBufferPointer<Double>, count n: Int) {
    for i in 0..<n { x[i] = Double(Float(x[i])) }
}
