import ExactArithmetic

/// Error-versus-position curves of an emulated run against its reference, with the summaries
/// of DESIGN.md §7 that a one-run comparison can give.
public struct DriftCurve: Sendable {
    public var tokens: Int
    public var series: LockstepSeries

    /// "Error at length T": the mean output relative error over the last min(64, T/16)
    /// compared positions up to T.
    public func outputError(at length: Int) -> Double {
        Self.tailMean(series.positions, series.outputRelativeError, length: length)
    }

    /// The same for the state (over the compared state positions).
    public func stateError(at length: Int) -> Double {
        Self.tailMean(series.statePositions, series.stateRelativeError, length: length)
    }

    static func tailMean(_ positions: [Int], _ values: [Double], length: Int) -> Double {
        let window = max(1, min(64, length / 16))
        var s = 0.0, n = 0
        for (p, v) in zip(positions, values) where p < length && p >= length - window { s += v; n += 1 }
        if n == 0, let i = positions.lastIndex(where: { $0 < length }) { return values[i] }
        return n == 0 ? .nan : s / Double(n)
    }

    /// The log–log slope of output error against position (t + 1) over [T/64, T].
    public func outputSlope(upTo length: Int? = nil) -> SlopeFit? {
        let T = Double(length ?? tokens)
        return SlopeFit.logLog(
            x: series.positions.map { Double($0 + 1) }, y: series.outputRelativeError, range: (T / 64)...T)
    }

    public func stateSlope(upTo length: Int? = nil) -> SlopeFit? {
        let T = Double(length ?? tokens)
        return SlopeFit.logLog(
            x: series.statePositions.map { Double($0 + 1) }, y: series.stateRelativeError, range: (T / 64)...T)
    }

    /// The first position whose output error exceeds `threshold`.
    public func firstCrossing(_ threshold: Double) -> Int? {
        zip(series.positions, series.outputRelativeError).first { $0.1 > threshold || $0.1.isNaN }?.0
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

/// Theory overlays of DESIGN.md §7.
public enum DriftTheory {
    /// κ for round-to-nearest.
    public static let kappaNearest = 0.42
    /// κ for stochastic rounding.
    public static let kappaStochastic = 0.58

    /// Undecayed state rounded every step with zero-mean updates: κ·u·√(t/2).
    public static func undecayedRelativeRMS(unitRoundoff u: Double, t: Int, kappa: Double = kappaNearest) -> Double {
        kappa * u * (Double(t) / 2).squareRoot()
    }

    /// Decay a < 1: saturation at κ·u/√(1 − a²).
    public static func decayedSaturation(unitRoundoff u: Double, decay a: Double, kappa: Double = kappaNearest) -> Double {
        kappa * u / (1 - a * a).squareRoot()
    }
}
