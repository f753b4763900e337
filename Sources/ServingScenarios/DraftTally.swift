import DriftStudy
import Workloads

/// Speculative decoding's acceptance decisions, shared by the recurrent and softmax runs: the
/// verifier's directions w_t, each drafted token's accept decision in the exact and the
/// quantized run (cos(o_t, w_t) ≥ threshold), and the counts over the cycles.
struct DraftTally {
    let verify: InputGenerator
    let threshold: Double
    /// w_t and the exact and quantized outputs of the drafted token.
    private var w: [Double], oe: [Double], os: [Double]
    var cycles = 0, accepted = 0, disagreeCycles = 0, disagreePositions = 0, drafted = 0

    init(seed: UInt64, outputs V: Int, threshold: Double) {
        verify = InputGenerator(seed: seed, stream: "speculative.verify", dimension: V)
        self.threshold = threshold
        w = [Double](repeating: 0, count: V)
        oe = w
        os = w
    }

    /// One cycle's draft of m tokens from p: `decode(i, oe, os)` decodes token p + i in the
    /// exact and the quantized run and reads their outputs into oe, os. Returns the tokens the
    /// cycle keeps: the exact run's accepted prefix and the correction token, at most m.
    mutating func draft(
        from p: Int, count m: Int, _ decode: (Int, UnsafeMutableBufferPointer<Double>, UnsafeMutableBufferPointer<Double>) -> Void
    ) -> Int {
        var aE = m, aS = m
        for i in 0..<m {
            oe.withUnsafeMutableBufferPointer { e in os.withUnsafeMutableBufferPointer { decode(i, e, $0) } }
            w.withUnsafeMutableBufferPointer { verify.fill($0, head: 0, position: p + i) }
            let okE = Speculative.cosine(oe, w) >= threshold, okS = Speculative.cosine(os, w) >= threshold
            if okE != okS { disagreePositions += 1 }
            if !okE && aE == m { aE = i }
            if !okS && aS == m { aS = i }
        }
        drafted += m
        if aE != aS { disagreeCycles += 1 }
        cycles += 1
        accepted += aE
        return min(aE + 1, m)
    }

    /// The summary keys `cycles`, `mean_accepted`, `disagree_cycles`, `disagree_positions`.
    var summary: [String: Double] {
        [
            "cycles": Double(cycles), "mean_accepted": Double(accepted) / Double(cycles),
            "disagree_cycles": Double(disagreeCycles) / Double(cycles), "disagree_positions": Double(disagreePositions) / Double(drafted),
        ]
    }
}
