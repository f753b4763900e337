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

    /// Positions 0..<tokens; outputs compared where `outputAt(t)`, states where `stateAt(t)`
    /// and at the last position. The two runs advance on the `LockstepEngine` (one thread), a
    /// block ending at each compared position, so the values compared are those of stepping.
    public static func run(
        reference: SteppedRun, approximation: SteppedRun, tokens: Int, comparison: Comparison,
        outputAt: (Int) -> Bool = { _ in true }, stateAt: (Int) -> Bool = Lockstep.defaultStateSample
    ) -> LockstepSeries {
        precondition(reference.outputCount == approximation.outputCount && reference.stateCount == approximation.stateCount)
        var series = LockstepSeries()
        let meter = ErrorMeter()
        let oc = reference.outputCount, sc = reference.stateCount
        let exact = comparison == .exact ? ExactPair(reference, approximation, meter: meter) : nil
        let engine = LockstepEngine(
            runs: [SteppedBlockRun(reference), SteppedBlockRun(approximation)], maxBlock: 64, everyOutput: false)
        engine.run(tokens: tokens, endsAt: { outputAt($0) || (sc > 0 && stateAt($0)) }) { start, n in
            let t = start + n - 1
            if outputAt(t) {
                let d = exact?.outputs(oc) ?? meter.distance(reference: engine.row(0, n - 1), engine.row(1, n - 1))
                series.positions.append(t)
                series.outputRelativeError.append(d.relative)
                series.outputMaxAbsError.append(d.maxAbsolute)
                series.nonFinite += d.nonFinite
            }
            if sc > 0 && (stateAt(t) || t == tokens - 1) {
                let d = exact?.states(sc) ?? engine.stateDistance(0, 1, meter: meter)
                series.statePositions.append(t)
                series.stateRelativeError.append(d.relative)
                series.nonFinite += d.nonFinite
            }
        }
        return series
    }

    /// The `.exact` comparison: both runs' values exported to MPFR at twice the wider tier's
    /// precision (so the difference is formed without loss).
    final class ExactPair {
        let reference: SteppedRun, approximation: SteppedRun
        let meter: ErrorMeter
        let refOut: MPFRArray, apxOut: MPFRArray, refState: MPFRArray, apxState: MPFRArray

        init(_ reference: SteppedRun, _ approximation: SteppedRun, meter: ErrorMeter) {
            self.reference = reference
            self.approximation = approximation
            self.meter = meter
            let precision = 2 * max(bits(reference.tier), bits(approximation.tier))
            refOut = MPFRArray(count: reference.outputCount, precision: precision)
            apxOut = MPFRArray(count: reference.outputCount, precision: precision)
            refState = MPFRArray(count: reference.stateCount, precision: precision)
            apxState = MPFRArray(count: reference.stateCount, precision: precision)
        }

        func outputs(_ count: Int) -> ErrorMeter.Distance {
            reference.exportOutput(into: refOut)
            approximation.exportOutput(into: apxOut)
            return meter.distance(reference: refOut, apxOut, count: count)
        }

        func states(_ count: Int) -> ErrorMeter.Distance {
            reference.exportState(into: refState)
            approximation.exportState(into: apxState)
            return meter.distance(reference: refState, apxState, count: count)
        }
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
