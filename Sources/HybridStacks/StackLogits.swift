import ExactArithmetic
import Foundation
import NumberFormats

/// Logits through a seeded LM head (`LayerWeights.lmHead`, vocab 4096) whose scale s is
/// calibrated so that the reference's mean next-token entropy over the measured positions is
/// 2.5 nats (a near-uniform head would make KL and top-1 meaningless): KL(p‖p̂) and top-1
/// agreement of each stream, per measured length. Evaluated in binary64 with correctly rounded
/// exp and log (the same bits on every machine); s is found by bisection and kept as a bfloat16.
struct StackLogits {
    let weights: WeightMatrix
    var vocab: Int { weights.rows }
    var scale = 1.0

    init(_ shape: StackShape, seed: UInt64) {
        weights = LayerWeights.lmHead(shape, seed: seed)
    }

    static let targetEntropy = 2.5

    /// Log-probabilities of each row of `hidden` (n × d) at scale s, row-major n × vocab.
    func logProbabilities(_ hidden: [Double], d: Int, scale s: Double) -> [Double] {
        let n = hidden.count / d, b = Float64Backend()
        let head = b.allocate(rows: d, cols: vocab)
        b.load(head, weights.transposed)
        let h = b.allocate(rows: n, cols: d), z = b.allocate(rows: n, cols: vocab), e = b.allocate(rows: 1, cols: vocab)
        let m = b.allocate(rows: 1, cols: 1), sum = b.allocate(rows: 1, cols: 1)
        b.load(h, hidden)
        b.gemm(z, h, transposeA: false, head, transposeB: false, accumulate: false)
        b.scale(z, by: b.scalar(s))
        for r in 0..<n {
            let row = z.row(r)
            b.max(m, row)
            b.subtract(row, row, m)
            b.apply(.exp, e, row)
            b.sum(sum, e)
            b.apply(.log, sum, sum)
            b.subtract(row, row, sum)
        }
        return b.read(z)
    }

    /// Mean entropy of the rows at scale s, with libm (calibration only).
    func entropy(_ logits: [Double], rows n: Int, scale s: Double) -> Double {
        var total = 0.0
        for r in 0..<n {
            let z = logits[(r * vocab)..<((r + 1) * vocab)]
            let m = z.max()! * s
            var sum = 0.0, dot = 0.0
            for v in z { let p = Foundation.exp(v * s - m); sum += p; dot += p * (v * s - m) }
            total += Foundation.log(sum) - dot / sum
        }
        return total / Double(n)
    }

    /// Finds s (a bfloat16) with the reference's mean entropy at `targetEntropy`.
    mutating func calibrate(_ reference: [Double], d: Int) {
        let raw = logProbabilities(reference, d: d, scale: 1)
        let n = reference.count / d
        // Unnormalised logits at s = 1 are the log-probabilities plus a per-row constant.
        var lo = -10.0, hi = 10.0
        for _ in 0..<60 {
            let mid = (lo + hi) / 2
            if entropy(raw, rows: n, scale: Foundation.exp(mid)) > Self.targetEntropy { lo = mid } else { hi = mid }
        }
        scale = LayerWeights.bf16.round(Foundation.exp((lo + hi) / 2))
    }

    /// (KL(p‖p̂) mean over rows, top-1 agreement, reference entropy) of `emulated` against `reference` rows.
    func compare(_ reference: [Double], _ emulated: [Double], d: Int) -> (kl: Double, top1: Double, entropy: Double) {
        let p = logProbabilities(reference, d: d, scale: scale), q = logProbabilities(emulated, d: d, scale: scale)
        let n = reference.count / d, b = Float64Backend()
        let pt = b.allocate(rows: n, cols: vocab)
        b.load(pt, p)
        b.apply(.exp, pt, pt)
        let probs = b.read(pt)
        var kl = 0.0, agree = 0, ent = 0.0
        for r in 0..<n {
            var k = 0.0, h = 0.0, best = 0, bestHat = 0
            for j in 0..<vocab {
                let i = r * vocab + j, pr = probs[i]
                k += pr * (p[i] - q[i])
                h -= pr * p[i]
                if p[i] > p[r * vocab + best] { best = j }
                if q[i] > q[r * vocab + bestHat] { bestHat = j }
            }
            kl += k
            ent += h
            if best == bestHat { agree += 1 }
        }
        return (kl / Double(n), Double(agree) / Double(n), ent / Double(n))
    }
}
