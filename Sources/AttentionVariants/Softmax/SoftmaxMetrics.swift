import Foundation

/// Softmax-specific metrics of DESIGN.md §7.
public enum SoftmaxMetrics {
    /// KL(p ‖ p̂) of the attention distributions given by two score vectors over the same keys
    /// (p from `exact`, p̂ from `approximate`), each normalised in binary64 with its own max;
    /// an optional sink logit joins both denominators (its own probability mass counts too).
    public static func attentionKL(exact: [Double], approximate: [Double], sinkLogit: Double? = nil) -> Double {
        precondition(exact.count == approximate.count && !exact.isEmpty)
        func logNormaliser(_ s: [Double]) -> Double {
            var m = s.max()!
            if let z = sinkLogit { m = max(m, z) }
            var l = 0.0
            for x in s { l += Foundation.exp(x - m) }
            if let z = sinkLogit { l += Foundation.exp(z - m) }
            return m + Foundation.log(l)
        }
        let a = logNormaliser(exact), b = logNormaliser(approximate)
        var kl = 0.0
        for (x, y) in zip(exact, approximate) {
            let lp = x - a, lq = y - b
            kl += Foundation.exp(lp) * (lp - lq)
        }
        if let z = sinkLogit {
            let lp = z - a, lq = z - b
            kl += Foundation.exp(lp) * (lp - lq)
        }
        return max(kl, 0)
    }

    /// |A ∩ B| / |A| of two selected position sets (top-k overlap).
    public static func overlap(_ a: [Int], _ b: [Int]) -> Double {
        guard !a.isEmpty else { return 1 }
        return Double(Set(a).intersection(b).count) / Double(a.count)
    }
}
