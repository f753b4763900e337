import AttentionVariants
import ExactArithmetic

/// Everything one study record measures of an emulated run against its reference, online:
/// the output and state error curves (`DriftMeter`), and at the sampled positions the largest
/// absolute error, the cosine, and the KV diagnostics of runs that expose attention scores.
struct RecordMeter {
    var output: DriftMeter
    var state: DriftMeter
    var maxAbs: [Double] = []
    var cosine: [Double] = []
    var cache: [Double] = []
    var kl: [Double?] = []
    var overlap: [Double] = []
    /// Overlaps where the exact selection left keys out.
    var activeOverlap: [Double] = []
    /// NaN or infinite elements seen (outputs and states), at least one per non-finite error.
    var nonFinite = 0
    /// The first position whose output or state was not finite.
    var firstNonFinite: Int?
    /// Non-finite values the run's caches stored, at every position (`AttentionDiagnostics`).
    var stored = NonFiniteCount()

    init(lengths: [Int], thresholds: [Double]) {
        output = DriftMeter(lengths: lengths, thresholds: thresholds)
        state = DriftMeter(lengths: lengths)
    }

    /// The relative error of `d` at position t, NaN (and counted) when anything was not finite.
    mutating func relative(_ t: Int, _ d: ErrorMeter.Distance) -> Double {
        var rel = d.relative
        if d.nonFinite > 0 || !rel.isFinite {
            rel = .nan
            nonFinite += max(d.nonFinite, 1)
            firstNonFinite = min(firstNonFinite ?? t, t)
        }
        return rel
    }

    /// The outputs at position t; at sampled positions also the cosine and largest error.
    mutating func addOutput(_ t: Int, _ d: ErrorMeter.Distance, sampled: Bool, cosine c: @autoclosure () -> Double) {
        output.add(t, relative(t, d), sampled: sampled)
        if sampled { maxAbs.append(d.maxAbsolute); cosine.append(c()) }
    }

    /// The states at (sampled) position t.
    mutating func addState(_ t: Int, _ d: ErrorMeter.Distance) {
        state.add(t, relative(t, d), sampled: true)
    }

    /// The KV diagnostics at (sampled) position t: the cache's own error, the attention KL when
    /// both runs selected the same keys, and for sparse variants the selections' overlap.
    mutating func addScores(_ t: Int, reference ref: AttentionDiagnostics, _ p: AttentionDiagnostics, sparse: Bool) {
        cache.append(p.cacheRelativeError)
        let same = ref.lastSelection == p.lastSelection
        kl.append(same && !ref.lastScores.isEmpty && ref.lastScores.count == p.lastScores.count
            ? SoftmaxMetrics.attentionKL(exact: ref.lastScores, approximate: p.lastScores, sinkLogit: ref.sinkLogit) : nil)
        if sparse {
            let o = same ? 1 : SoftmaxMetrics.overlap(ref.lastSelection, p.lastSelection)
            overlap.append(o)
            if ref.lastSelection.count < t + 1 { activeOverlap.append(o) }
        }
    }

    /// The error at each length (the state's too when the run has one).
    func errorAt(hasState: Bool) -> [StudyRecord.ErrorAt] {
        output.lengths.indices.map { j in
            StudyRecord.ErrorAt(tokens: output.lengths[j], outputRelErr: output.error(atIndex: j), stateRelErr: hasState ? state.error(atIndex: j) : nil)
        }
    }

    /// The summary of a run of T tokens (memory fields left to the caller).
    func summary(tokens T: Int, hasState: Bool, probed: Bool, sparse: Bool) -> StudyRecord.Summary {
        let errorAt = errorAt(hasState: hasState)
        let slope = output.slope(upTo: T)
        let final = errorAt.last!.outputRelErr
        // A flat curve (slope below 0.1 within its interval) has saturated: its level is the mean of the second half.
        let saturation = slope.map { $0.slopeHigh < 0.1 } == true ? output.sampledMean(from: T / 2) : nil
        var s = StudyRecord.Summary(
            errorAt: errorAt, maxOutputRelErr: output.maximum, slope: slope, stateSlope: hasState ? state.slope(upTo: T) : nil,
            saturation: saturation,
            firstCrossing: output.thresholds.enumerated().map { StudyRecord.Crossing(threshold: $1, position: output.crossing[$0]) },
            nonFinite: nonFinite, bytesPerToken: nil, stateBytes: nil, memoryBytes: 0,
            verdict: Verdict.classify(nonFinite: nonFinite + stored.count, final: final, slope: slope))
        if stored.count > 0 { s.nonFiniteStored = stored.count }
        if let f = [firstNonFinite, stored.first].compactMap({ $0 }).min() { s.firstNonFinite = f }
        s.minCosine = cosine.contains { $0.isNaN } ? .nan : cosine.min()
        if probed {
            s.cacheRelErr = cache.last
            s.attentionKL = kl.last ?? nil
            if sparse && !activeOverlap.isEmpty {
                s.topkOverlapMean = activeOverlap.reduce(0, +) / Double(activeOverlap.count)
                s.topkOverlapMin = activeOverlap.min()
            }
        }
        return s
    }

    /// cos ∠(a, b) in binary64 (NaN when b has a non-finite element; 1 when both are zero).
    static func cosineSimilarity(_ a: UnsafeBufferPointer<Double>, _ b: UnsafeBufferPointer<Double>) -> Double {
        var ab = 0.0, aa = 0.0, bb = 0.0
        for i in 0..<a.count {
            ab = ab.addingProduct(a[i], b[i]); aa = aa.addingProduct(a[i], a[i]); bb = bb.addingProduct(b[i], b[i])
        }
        if !bb.isFinite || !ab.isFinite { return .nan }
        if aa == 0 || bb == 0 { return aa == bb ? 1 : 0 }
        return ab / (aa.squareRoot() * bb.squareRoot())
    }
}

/// The one-word verdict of a record (DESIGN.md §7).
enum Verdict {
    /// nan (anything non-finite), fails (≥ 0.1 at the end), grows (slope's lower bound above
    /// 0.1), high (≥ 1e-2), else ok.
    static func classify(nonFinite: Int, final: Double, slope: SlopeFit?) -> String {
        let growing = (slope?.slopeLow ?? 0) > 0.1
        if nonFinite > 0 || final.isNaN { return "nan" }
        if final >= 0.1 { return "fails" }
        if growing { return "grows" }
        if final >= 1e-2 { return "high" }
        return "ok"
    }
}
