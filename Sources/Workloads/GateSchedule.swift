import Foundation

/// Where a variant's decays come from (DESIGN.md §6). Gates are given as *raw parameters*
/// (A_log, dt_bias, per-token logits) so that every backend computes α in its own arithmetic,
/// as the kernels do; only constant decays are given as values.
public enum GateSchedule: Hashable, Sendable, CustomStringConvertible {
    /// No decay (α = 1): the state accumulates forever.
    case none
    /// The same α for every token and head.
    case constant(Double)
    /// RetNet: γ_h = 1 − 2^(−5−h).
    case retnet
    /// Mamba-2 / Gated DeltaNet style data-dependent gates from raw parameters:
    /// A_log per head = log U(aMin, aMax), dt_bias per head = softplus⁻¹(dt), dt log-uniform in
    /// [dtMin, dtMax] (Mamba's initialisation); per-token logits a_t ~ N(0,1) from stream "gate".
    case mamba(aMin: Double = 1, aMax: Double = 16, dtMin: Double = 0.001, dtMax: Double = 0.1)

    public var description: String {
        switch self {
        case .none: return "none"
        case .constant(let a): return "constant(\(a))"
        case .retnet: return "1-2^(-5-h)"
        case .mamba(let a0, let a1, let d0, let d1): return "mamba(A=\(a0)..\(a1),dt=\(d0)..\(d1))"
        }
    }

    /// A constant decay for `head` when the schedule has one (nil for none and data-dependent).
    public func constantDecay(head: Int) -> Double? {
        switch self {
        case .none, .mamba: return nil
        case .constant(let a): return a
        case .retnet: return 1 - Double(sign: .plus, exponent: -5 - head, significand: 1)
        }
    }

    /// The per-head raw parameters of a data-dependent schedule: (A_log, dt_bias).
    public func rawParameters(seed: UInt64, head: Int) -> (aLog: Double, dtBias: Double)? {
        guard case .mamba(let aMin, let aMax, let dtMin, let dtMax) = self else { return nil }
        let s = CounterStream(seed: seed, stream: "gate_params", head: head, position: 0)
        let a = aMin + (aMax - aMin) * s.uniform(0)
        let dt = Foundation.exp(Foundation.log(dtMin) + (Foundation.log(dtMax) - Foundation.log(dtMin)) * s.uniform(1))
        let dtBias = dt + Foundation.log(-Foundation.expm1(-dt))  // softplus⁻¹(dt)
        return (Double(Float(Foundation.log(a))), Double(Float(dtBias)))
    }
}

/// MiniMax-01's Lightning Attention decay: λ_h = exp(−slope_h·(1 − l/(L−1) + 1e−5)),
/// slope_h = (2^(−8/H))^(h+1) (MiniMax's code, not FLA's schedule). Returns the exponent's
/// argument −slope_h·(1 − l/(L−1) + 1e−5) so that backends evaluate exp themselves.
public func lightningLogDecay(head: Int, heads: Int, layer: Int, layers: Int) -> Double {
    let slope = Foundation.pow(Foundation.pow(2, -8 / Double(heads)), Double(head + 1))
    let depth = layers > 1 ? Double(layer) / Double(layers - 1) : 0
    return -slope * (1 - depth + 1e-5)
}
