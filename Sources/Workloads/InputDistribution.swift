import Foundation

/// The distribution of one input stream's elements (DESIGN.md §6).
public enum InputDistribution: Hashable, Sendable, CustomStringConvertible {
    /// N(mean, std²).
    case gaussian(mean: Double = 0, std: Double = 1)
    /// Student-t with `dof` degrees of freedom (heavy tails), unit scale.
    case studentT(dof: Int)
    /// FA3's outlier model: N(0,1) + N(0, scale²)·Bernoulli(probability).
    case sparseOutliers(probability: Double = 0.001, scale: Double = 10)
    /// N(0,1) with `count` channels (chosen per (seed, stream, head)) multiplied by a factor
    /// drawn log-uniformly in [minFactor, maxFactor] (real key caches; why KIVI quantizes keys
    /// per channel).
    case channelOutliers(count: Int = 4, minFactor: Double = 10, maxFactor: Double = 100)

    public static let gaussian = InputDistribution.gaussian()

    public var description: String {
        switch self {
        case .gaussian(let m, let s): return m == 0 && s == 1 ? "gaussian" : "gaussian(mean=\(m),std=\(s))"
        case .studentT(let d): return "student_t(dof=\(d))"
        case .sparseOutliers(let p, let s): return "sparse_outliers(p=\(p),scale=\(s))"
        case .channelOutliers(let c, let lo, let hi): return "channel_outliers(count=\(c),factor=\(lo)..\(hi))"
        }
    }
}

/// Generates the rows of one input stream (q, k, v, gate logits …) of one head, position by
/// position, as a pure function of (seed, stream, head, position).
///
/// Values are rounded to Float32-representable doubles by default, so that every backend
/// (Float32 included) receives exactly the same inputs and differences measure arithmetic and
/// storage, not input conversion.
public struct InputGenerator: Hashable, Sendable {
    public var seed: UInt64
    public var stream: String
    public var dimension: Int
    public var distribution: InputDistribution
    /// Scale each row to unit L2 norm (before the Float32 rounding).
    public var l2Normalized: Bool
    public var float32Representable: Bool
    /// Rows read from a replayed tensor instead of generated (exactly as stored: no
    /// normalisation, no rounding).
    public var replay: TensorRows?

    public init(
        seed: UInt64, stream: String, dimension: Int, distribution: InputDistribution = .gaussian,
        l2Normalized: Bool = false, float32Representable: Bool = true
    ) {
        self.seed = seed
        self.stream = stream
        self.dimension = dimension
        self.distribution = distribution
        self.l2Normalized = l2Normalized
        self.float32Representable = float32Representable
    }

    /// Writes the row of (head, position) into out[0..<dimension].
    public func fill(_ out: UnsafeMutableBufferPointer<Double>, head: Int, position: Int) {
        precondition(out.count >= dimension)
        if let replay {
            precondition(replay.width == dimension, "replayed tensor \(replay) has rows of \(replay.width), the stream needs \(dimension)")
            replay.fill(out, head: head, position: position)
            return
        }
        // Generated every time: a row of 128 costs about as much as hashing its key for a memo
        // (the vectorised `BoxMuller`), and runs on different threads would not share one.
        generate(out, head: head, position: position)
    }

    func generate(_ out: UnsafeMutableBufferPointer<Double>, head: Int, position: Int) {
        let s = CounterStream(seed: seed, stream: stream, head: head, position: position)
        let n = dimension
        switch distribution {
        case .gaussian(let mean, let std):
            s.normals(into: out.baseAddress!, from: 0, count: n)
            if mean != 0 || std != 1 { for i in 0..<n { out[i] = mean + std * out[i] } }
        case .studentT(let dof):
            precondition(dof >= 1)
            // z / sqrt(χ²_ν / ν), χ² from ν further normals per element (counters beyond the row).
            s.normals(into: out.baseAddress!, from: 0, count: n)
            let chi = UnsafeMutablePointer<Double>.allocate(capacity: n * dof)
            defer { chi.deallocate() }
            s.normals(into: chi, from: n, count: n * dof)
            for i in 0..<n {
                var c = 0.0
                for j in 0..<dof { c += chi[i * dof + j] * chi[i * dof + j] }
                out[i] = out[i] / (c / Double(dof)).squareRoot()
            }
        case .sparseOutliers(let p, let scale):
            // Normals 0..<n are the row, n..<2n the outlier magnitudes; uniforms from counter 4n on.
            let z = UnsafeMutablePointer<Double>.allocate(capacity: 2 * n)
            defer { z.deallocate() }
            s.normals(into: z, from: 0, count: 2 * n)
            for i in 0..<n {
                let bernoulli = s.uniform(4 * n + i) < p
                out[i] = z[i] + (bernoulli ? scale * z[n + i] : 0)
            }
        case .channelOutliers(let count, let lo, let hi):
            let chosen = CounterStream(seed: seed, stream: stream + "/channels", head: head, position: 0)
            s.normals(into: out.baseAddress!, from: 0, count: n)
            for c in 0..<min(count, n) {
                let channel = Int(chosen.bits(2 * c) % UInt64(n))
                let factor = lo * Foundation.pow(hi / lo, chosen.uniform(2 * c + 1))
                out[channel] *= factor
            }
        }
        if l2Normalized {
            var ss = 0.0
            for i in 0..<dimension { ss = ss.addingProduct(out[i], out[i]) }
            let r = 1 / ss.squareRoot()
            for i in 0..<dimension { out[i] *= r }
        }
        if float32Representable {
            for i in 0..<dimension { out[i] = Double(Float(out[i])) }
        }
    }

    /// The row of (head, position) as an array.
    public func row(head: Int, position: Int) -> [Double] {
        [Double](unsafeUninitializedCapacity: dimension) { b, n in
            fill(b, head: head, position: position)
            n = dimension
        }
    }
}
