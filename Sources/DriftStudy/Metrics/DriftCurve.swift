import ExactArithmetic

/// Error-versus-position curves of an emulated run against its reference, with the summaries
/// of DESIGN.md §7 that a one-run comparison can give, computed by the `DriftMeter` the study
/// runner uses.
public struct DriftCurve: Sendable {
    public var tokens: Int
    public var series: LockstepSeries

    /// "Error at length T": the mean output relative error over the last min(64, T/16)
    /// compared positions up to T.
    public func outputError(at length: Int) -> Double {
        Self.meter(series.positions, series.outputRelativeError, lengths: [length]).error(atIndex: 0)
    }

    /// The same for the state (over the compared state positions).
    public func stateError(at length: Int) -> Double {
        Self.meter(series.statePositions, series.stateRelativeError, lengths: [length]).error(atIndex: 0)
    }

    /// The log–log slope of output error against position (t + 1) over [T/64, T].
    public func outputSlope(upTo length: Int? = nil) -> SlopeFit? {
        Self.meter(series.positions, series.outputRelativeError).slope(upTo: length ?? tokens)
    }

    public func stateSlope(upTo length: Int? = nil) -> SlopeFit? {
        Self.meter(series.statePositions, series.stateRelativeError).slope(upTo: length ?? tokens)
    }

    /// The first position whose output error exceeds `threshold`.
    public func firstCrossing(_ threshold: Double) -> Int? {
        Self.meter(series.positions, series.outputRelativeError, thresholds: [threshold]).crossing[0]
    }

    /// A meter fed every point of a curve (each one sampled).
    static func meter(_ positions: [Int], _ values: [Double], lengths: [Int] = [], thresholds: [Double] = []) -> DriftMeter {
        var m = DriftMeter(lengths: lengths, thresholds: thresholds)
        for (p, v) in zip(positions, values) { m.add(p, v, sampled: true) }
        return m
    }
}

/// Advances a reference run and an emulated run in lockstep (the seed of the study runner).
public enum DriftComparator {
    /// Compares every output position and the state at `Lockstep.defaultStateSample` positions
    /// (or every position with `stateEveryPosition`).
    public static func compare(
        reference: SteppedRun, emulated: SteppedRun, tokens: Int,
        comparison: Lockstep.Comparison = .double, stateEveryPosition: Bool = false
    ) -> DriftCurve {
        let s = Lockstep.run(
            reference: reference, approximation: emulated, tokens: tokens, comparison: comparison,
            stateAt: stateEveryPosition ? { _ in true } : Lockstep.defaultStateSample)
        return DriftCurve(tokens: tokens, series: s)
    }
}
