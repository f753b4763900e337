import AttentionVariants
import ExactArithmetic

/// A study group's measurements at each position of the lockstep: every emulated run's outputs
/// (and, at the sampled positions, states and attention scores) against the reference's, fed to
/// one `RecordMeter` per run.
final class GroupMeasure {
    let reference: SteppedRun
    let emulated: [SteppedRun]
    let schedule: EvaluationSchedule
    let isCache: Bool
    let sparse: Bool
    let refProbe: AttentionDiagnostics?
    let probes: [AttentionDiagnostics?]
    private(set) var meters: [RecordMeter]
    let distance = ErrorMeter()
    var refState: [Double], apxState: [Double]

    /// Scores are recorded when every run exposes them.
    init(
        reference: SteppedRun, emulated: [SteppedRun], schedule: EvaluationSchedule, isCache: Bool, sparse: Bool,
        lengths: [Int], thresholds: [Double]
    ) {
        self.reference = reference
        self.emulated = emulated
        self.schedule = schedule
        self.isCache = isCache
        self.sparse = sparse
        refProbe = reference as? AttentionDiagnostics
        probes = emulated.map { $0 as? AttentionDiagnostics }
        if let r = refProbe, probes.allSatisfy({ $0 != nil }) {
            r.recordScores = true
            for p in probes { p!.recordScores = true }
        }
        meters = emulated.map { _ in RecordMeter(lengths: lengths, thresholds: thresholds) }
        refState = [Double](repeating: 0, count: reference.stateCount)
        apxState = refState
    }

    /// After the last position: what each run's caches stored that was not finite, at any
    /// position (the measured positions alone would miss a NaN no recorded query reads).
    func finish() {
        for i in meters.indices { if let p = probes[i] { meters[i].stored = p.storedNonFinite } }
    }

    /// Whether run i's record carries the KV diagnostics.
    func probed(_ i: Int) -> Bool { refProbe != nil && probes[i] != nil }

    /// Position t, whose outputs are row `row` of the engine's current block (run 0 the
    /// reference, run i + 1 emulated run i). A cache variant is measured at the sampled
    /// positions only; states are read from the engine's runs.
    func position(_ t: Int, row: Int, engine: LockstepEngine) {
        let sampled = schedule.contains(t)
        if isCache && !sampled { return }
        let sc = reference.stateCount
        if sampled && sc > 0 { refState.withUnsafeMutableBufferPointer { engine.runs[0].readState(into: $0) } }
        let refOut = engine.row(0, row)
        for i in meters.indices {
            let apxOut = engine.row(i + 1, row)
            meters[i].addOutput(t, distance.distance(reference: refOut, apxOut), sampled: sampled,
                                cosine: RecordMeter.cosineSimilarity(refOut, apxOut))
            guard sampled else { continue }
            if let ref = refProbe, let p = probes[i] { meters[i].addScores(t, reference: ref, p, sparse: sparse) }
            if sc > 0 {
                apxState.withUnsafeMutableBufferPointer { engine.runs[i + 1].readState(into: $0) }
                let d = refState.withUnsafeBufferPointer { a in apxState.withUnsafeBufferPointer { b in distance.distance(reference: a, b) } }
                meters[i].addState(t, d)
            }
        }
    }
}
