/// One error curve measured online (DESIGN.md §7): the error at each of `lengths` (the mean over
/// the last min(64, L/16) positions fed up to L, else the last value fed before L), the first
/// position above each of `thresholds`, the maximum, and the sampled points a slope is fitted
/// over. Positions are fed in increasing order; memory is O(lengths + samples), never O(T).
public struct DriftMeter: Sendable {
    public let lengths: [Int]
    public let thresholds: [Double]
    let windows: [(lo: Int, hi: Int)]
    var windowSum: [Double]
    var windowCount: [Int]
    var lastBefore: [Double]
    /// The first position above each threshold (or NaN there).
    public private(set) var crossing: [Int?]
    /// The largest value fed (NaN once a NaN was fed).
    public private(set) var maximum = 0.0
    /// The sampled positions and their values, in the order fed.
    public private(set) var positions: [Int] = []
    public private(set) var values: [Double] = []

    public init(lengths: [Int], thresholds: [Double] = []) {
        self.lengths = lengths
        self.thresholds = thresholds
        windows = lengths.map { L in (L - Self.window(L), L - 1) }
        windowSum = Array(repeating: 0, count: lengths.count)
        windowCount = Array(repeating: 0, count: lengths.count)
        lastBefore = Array(repeating: .nan, count: lengths.count)
        crossing = Array(repeating: nil, count: thresholds.count)
    }

    /// The tail window of length L: min(64, L/16) positions, at least one.
    public static func window(_ length: Int) -> Int { max(1, min(64, length / 16)) }

    /// Feeds the value at position t; `sampled` keeps it for the slope and the record.
    public mutating func add(_ t: Int, _ value: Double, sampled: Bool) {
        maximum = value.isNaN ? .nan : max(maximum, value)
        for (j, th) in thresholds.enumerated() where crossing[j] == nil && (value.isNaN || value > th) { crossing[j] = t }
        for (j, w) in windows.enumerated() {
            if t >= w.lo && t <= w.hi { windowSum[j] += value; windowCount[j] += 1 }
            if t <= w.hi { lastBefore[j] = value }
        }
        if sampled { positions.append(t); values.append(value) }
    }

    /// The error at `lengths[j]`: the tail-window mean, else the last value before it (NaN
    /// when nothing was fed before it).
    public func error(atIndex j: Int) -> Double {
        windowCount[j] > 0 ? windowSum[j] / Double(windowCount[j]) : lastBefore[j]
    }

    /// The error at `length` (one of `lengths`).
    public func error(at length: Int) -> Double {
        error(atIndex: lengths.firstIndex(of: length)!)
    }

    /// The log–log slope of the sampled values against position (t + 1) over [T/64, T].
    public func slope(upTo tokens: Int) -> SlopeFit? {
        let T = Double(tokens)
        return SlopeFit.logLog(x: positions.map { Double($0 + 1) }, y: values, range: (T / 64)...T)
    }

    /// The mean of the sampled values at positions ≥ `start` (nil when there are none).
    public func sampledMean(from start: Int) -> Double? {
        let tail = zip(positions, values).filter { $0.0 >= start }.map(\.1)
        return tail.isEmpty ? nil : tail.reduce(0, +) / Double(tail.count)
    }
}
