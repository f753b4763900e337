import DriftStudy

/// A handoff record's errors, shared by the recurrent and softmax runs: the handoff,
/// decode-only and prefill-only errors at the recorded positions, the mean handoff error over
/// the `Handoff.window` tokens before / from P, and each run's mean over the last 64 tokens.
struct HandoffTally {
    /// The handoff position P and the run length T.
    let prefill: Int, tokens: Int
    var positions: [Int] = []
    var handoffErr: [Double] = [], decodeErr: [Double] = [], prefillErr: [Double] = []
    var before = 0.0, after = 0.0
    var end = (handoff: 0.0, decode: 0.0, prefill: 0.0)

    /// Adds position t's errors of the handoff (h), decode-only (d) and prefill-only (p) runs.
    mutating func add(_ t: Int, handoff h: Double, decodeOnly d: Double, prefillOnly p: Double) {
        let P = prefill, T = tokens, window = Handoff.window
        if t >= P - window && t < P { before += h / Double(window) }
        if t >= P && t < P + window { after += h / Double(window) }
        if t >= T - 64 { end.handoff += h / 64; end.decode += d / 64; end.prefill += p / 64 }
        if Handoff.recorded(t, prefill: P, tokens: T) {
            positions.append(t)
            handoffErr.append(h); decodeErr.append(d); prefillErr.append(p)
        }
    }

    /// Sets `record`'s positions and series, and the summary keys `before`, `after`, `jump`
    /// and `end_*`.
    func write(to record: inout ScenarioRecord) {
        record.positions = positions
        record.series = ["handoff_err": handoffErr, "decode_only_err": decodeErr, "prefill_only_err": prefillErr]
        record.summary["before"] = before
        record.summary["after"] = after
        record.summary["jump"] = before > 0 ? after / before : (after == 0 ? 1 : .infinity)
        record.summary["end_handoff"] = end.handoff
        record.summary["end_decode_only"] = end.decode
        record.summary["end_prefill_only"] = end.prefill
    }
}
