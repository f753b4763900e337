/// One head of a variant advancing token by token on some backend: what the lockstep
/// comparator and the certification drive. Position t is the number of `step()` calls so far
/// minus one; outputs and states are those of the last step.
public protocol SteppedRun: AnyObject {
    var tier: BackendTier { get }
    var outputCount: Int { get }
    /// Elements of the recurrent state (0 for variants without one).
    var stateCount: Int { get }
    /// Advances one token.
    func step()
    func exportOutput(into out: MPFRArray)
    func exportState(into out: MPFRArray)
    func readOutput(into out: UnsafeMutableBufferPointer<Double>)
    func readState(into out: UnsafeMutableBufferPointer<Double>)
}

/// Per-position distances between two runs advanced in lockstep.
public struct LockstepSeries: Sendable {
    public var positions: [Int] = []
    public var outputRelativeError: [Double] = []
    public var outputMaxAbsError: [Double] = []
    /// Positions where the state was compared, and the errors there.
    public var statePositions: [Int] = []
    public var stateRelativeError: [Double] = []
    public var nonFinite = 0

    public init() {}

    public var outputMaxRelative: Double { outputRelativeError.reduce(0) { Swift.max($0, $1.isNaN ? .infinity : $1) } }
    public var stateMaxRelative: Double { stateRelativeError.reduce(0) { Swift.max($0, $1.isNaN ? .infinity : $1) } }
}

/// Advances a reference and an approximation together and measures their distance online
/// (nothing O(T·d) is kept).
public enum Lockstep {
    /// How values are compared: `.exact` through MPFR (for certification), `.double` through
    /// doubles (for emulated runs whose errors are far above 1e-16).
    public enum Comparison: Sendable { case exact, double }

    /// Positions 0..<tokens; outputs compared where `outputAt(t)`, states where `stateAt(t)`.
    public static func run(
        reference: SteppedRun, approximation: SteppedRun, tokens: Int, comparison: Comparison,
        outputAt: (Int) -> Bool = { _ in true }, stateAt: (Int) -> Bool = Lockstep.defaultStateSample
    ) -> LockstepSeries {
        precondition(reference.outputCount == approximation.outputCount && reference.stateCount == approximation.stateCount)
        var series = LockstepSeries()
        let meter = ErrorMeter()
        let oc = reference.outputCount, sc = reference.stateCount
        let precision = 2 * max(bits(reference.tier), bits(approximation.tier))
        let refOut = MPFRArray(count: comparison == .exact ? oc : 0, precision: precision)
        let apxOut = MPFRArray(count: comparison == .exact ? oc : 0, precision: precision)
        let refState = MPFRArray(count: comparison == .exact ? sc : 0, precision: precision)
        let apxState = MPFRArray(count: comparison == .exact ? sc : 0, precision: precision)
        var d1 = [Double](repeating: 0, count: max(oc, sc)), d2 = d1
        func compare(_ count: Int, exportA: (MPFRArray) -> Void, exportB: (MPFRArray) -> Void,
                     readA: (UnsafeMutableBufferPointer<Double>) -> Void, readB: (UnsafeMutableBufferPointer<Double>) -> Void,
                     a: MPFRArray, b: MPFRArray) -> ErrorMeter.Distance {
            if comparison == .exact {
                exportA(a); exportB(b)
                return meter.distance(reference: a, b, count: count)
            }
            d1.withUnsafeMutableBufferPointer { x in readA(UnsafeMutableBufferPointer(rebasing: x[0..<count])) }
            d2.withUnsafeMutableBufferPointer { x in readB(UnsafeMutableBufferPointer(rebasing: x[0..<count])) }
            return d1.withUnsafeBufferPointer { x in
                d2.withUnsafeBufferPointer { y in
                    meter.distance(reference: UnsafeBufferPointer(rebasing: x[0..<count]), UnsafeBufferPointer(rebasing: y[0..<count]))
                }
            }
        }
        for t in 0..<tokens {
            reference.step()
            approximation.step()
            if outputAt(t) {
                let d = compare(
                    oc, exportA: reference.exportOutput, exportB: approximation.exportOutput,
                    readA: reference.readOutput, readB: approximation.readOutput, a: refOut, b: apxOut)
                series.positions.append(t)
                series.outputRelativeError.append(d.relative)
                series.outputMaxAbsError.append(d.maxAbsolute)
                series.nonFinite += d.nonFinite
            }
            if sc > 0 && (stateAt(t) || t == tokens - 1) {
                let d = compare(
                    sc, exportA: reference.exportState, exportB: approximation.exportState,
                    readA: reference.readState, readB: approximation.readState, a: refState, b: apxState)
                series.statePositions.append(t)
                series.stateRelativeError.append(d.relative)
                series.nonFinite += d.nonFinite
            }
        }
        return series
    }

    /// Every position up to 64, then powers of two, then every 64th.
    public static func defaultStateSample(_ t: Int) -> Bool {
        t < 64 || (t + 1) & t == 0 || (t + 1) % 64 == 0
    }

    static func bits(_ tier: BackendTier) -> Int {
        switch tier {
        case .mpfr(let b): return b
        case .float64: return 53
        case .doubleDouble: return 107
        case .float32: return 24
        }
    }
}
