import Foundation

/// The query positions where a softmax run computes its output (DESIGN.md §7): every position
/// below `dense`, `perOctave` log-spaced positions per doubling, every `stride`-th position,
/// and `last`. Each evaluated position attends over its whole prefix, so a long context costs
/// O(T·d) per evaluated position instead of O(T²·d) for the run; between evaluations a step
/// only appends to the cache and the output keeps its last value.
public struct EvaluationSchedule: Hashable, Sendable, CustomStringConvertible {
    public var dense: Int
    public var perOctave: Int
    public var stride: Int
    public var last: Int?
    /// Every position from this one on (a tail window), when set.
    public var from: Int?

    public init(dense: Int = 64, perOctave: Int = 4, stride: Int = 0, last: Int? = nil, from: Int? = nil) {
        self.dense = dense
        self.perOctave = perOctave
        self.stride = stride
        self.last = last
        self.from = from
    }

    /// Every position (short runs, closed-form tests).
    public static let every = EvaluationSchedule(dense: Int.max, perOctave: 0, stride: 0)

    /// The certification sample: every position below 64, 4 per octave, every 64th (so a run of
    /// a multiple of 64 tokens always includes its last position).
    public static let certification = EvaluationSchedule(dense: 64, perOctave: 4, stride: 64)

    /// A long-context sample: 16 dense positions, 4 per octave, and the last.
    public static func sampled(tokens: Int, perOctave: Int = 4, stride: Int = 0) -> EvaluationSchedule {
        EvaluationSchedule(dense: 16, perOctave: perOctave, stride: stride, last: tokens - 1)
    }

    public func contains(_ t: Int) -> Bool {
        if t < dense || t == last { return true }
        if let from, t >= from { return true }
        if stride > 0 && (t + 1) % stride == 0 { return true }
        if perOctave > 0 {
            let x = Double(t + 1)
            let k = (Double(perOctave) * log2(x)).rounded()
            return (pow(2, k / Double(perOctave))).rounded() == x
        }
        return false
    }

    /// The evaluated positions below `tokens`.
    public func positions(below tokens: Int) -> [Int] { (0..<tokens).filter(contains) }

    public var description: String {
        var parts: [String] = []
        if dense == Int.max { return "every" }
        parts.append("dense<\(dense)")
        if perOctave > 0 { parts.append("\(perOctave)/octave") }
        if stride > 0 { parts.append("stride \(stride)") }
        if let last { parts.append("last \(last)") }
        if let from { parts.append("from \(from)") }
        return parts.joined(separator: ", ")
    }
}
