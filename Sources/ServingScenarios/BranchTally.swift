import DriftStudy

/// A prefix-cache record's continuations, shared by the recurrent and softmax runs: per
/// branch the mean errors of the resumed and the uncheckpointed run, the mean distance between
/// the two and the checkpoint it resumed from; and how many branches resumed from one.
struct BranchTally {
    var resumed: [Double] = [], plain: [Double] = [], delta: [Double] = [], at: [Double] = []
    var hits = 0

    /// Adds a branch's means and the checkpoint c_j it resumed from (0: none).
    mutating func add(resumed e: Double, uncheckpointed ep: Double, delta d: Double, at cj: Int) {
        resumed.append(e); plain.append(ep); delta.append(d); at.append(Double(cj))
    }

    /// Sets `record`'s positions (the branch points), series and summary (`hits`, `mean_*`,
    /// `max_resumed_err`).
    func write(to record: inout ScenarioRecord, branches: [Int]) {
        record.positions = branches
        record.series = ["resumed_err": resumed, "uncheckpointed_err": plain, "checkpoint_delta": delta, "checkpoint_at": at]
        func mean(_ x: [Double]) -> Double { x.reduce(0, +) / Double(x.count) }
        record.summary = [
            "hits": Double(hits), "mean_resumed_err": mean(resumed), "mean_uncheckpointed_err": mean(plain),
            "mean_checkpoint_delta": mean(delta), "max_resumed_err": resumed.reduce(0) { Swift.max($0, $1.isNaN ? .infinity : $1) },
        ]
    }
}
