import Foundation

/// A least-squares line through (log10 x, log10 y): the growth law of an error curve.
public struct SlopeFit: Sendable, Equatable, Codable {
    public var slope: Double
    public var intercept: Double
    /// 95% confidence interval of the slope (Student-t quantile, n − 2 degrees of freedom).
    public var slopeLow: Double
    public var slopeHigh: Double
    public var points: Int

    /// Fits over the points with x in `range` and x, y > 0 and finite; nil with fewer than 3.
    public static func logLog(x: [Double], y: [Double], range: ClosedRange<Double>? = nil) -> SlopeFit? {
        precondition(x.count == y.count)
        var lx: [Double] = [], ly: [Double] = []
        for (a, b) in zip(x, y) where a > 0 && b > 0 && a.isFinite && b.isFinite && (range?.contains(a) ?? true) {
            lx.append(log10(a)); ly.append(log10(b))
        }
        let n = lx.count
        guard n >= 3 else { return nil }
        let mx = lx.reduce(0, +) / Double(n), my = ly.reduce(0, +) / Double(n)
        var sxx = 0.0, sxy = 0.0
        for i in 0..<n { sxx += (lx[i] - mx) * (lx[i] - mx); sxy += (lx[i] - mx) * (ly[i] - my) }
        guard sxx > 0 else { return nil }
        let slope = sxy / sxx
        let intercept = my - slope * mx
        var sse = 0.0
        for i in 0..<n { let r = ly[i] - (intercept + slope * lx[i]); sse += r * r }
        let se = (sse / Double(n - 2) / sxx).squareRoot()
        let tq = studentT975(dof: n - 2)
        return SlopeFit(slope: slope, intercept: intercept, slopeLow: slope - tq * se, slopeHigh: slope + tq * se, points: n)
    }

    /// The 97.5% quantile of Student's t (Cornish–Fisher expansion around the normal's 1.96;
    /// within 1% for dof ≥ 3, exact table below).
    static func studentT975(dof: Int) -> Double {
        let table: [Double] = [12.706, 4.303, 3.182, 2.776, 2.571, 2.447, 2.365, 2.306, 2.262, 2.228]
        if dof >= 1 && dof <= table.count { return table[dof - 1] }
        let z = 1.959964, v = Double(dof)
        return z + (z * z * z + z) / (4 * v) + (5 * pow(z, 5) + 16 * z * z * z + 3 * z) / (96 * v * v)
    }
}
