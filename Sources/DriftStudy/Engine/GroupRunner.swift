import AttentionVariants
import ExactArithmetic
import Foundation
import NumberFormats

/// Measures one group: the reference and every recipe's emulated run advance together, token
/// by token; errors are measured online and only the recorded positions are kept.
public enum GroupRunner {
    public static let fixedLengths = [1024, 8192, 32768, 65536, 1 << 20]
    public static let thresholds = [1e-3, 1e-2, 1e-1]

    /// Runs `group` (only the records in `keys`, all when nil) and returns its records.
    ///
    /// Runs advance in blocks of tokens that end at every recorded position (and where the later
    /// certification window starts); `fastPaths` lets fused kernels run the runs they reproduce
    /// bit for bit (`BlockRuns`), `threads` > 1 advances the reference and the emulated runs of a
    /// block concurrently. Neither changes a bit of the records.
    public static func run(
        _ group: PlannedGroup, keys: Set<String>? = nil, fastPaths: Bool = true, threads: Int = 1,
        progress: ((Int) -> Void)? = nil
    ) throws -> [StudyRecord] {
        let v = group.variant, T = group.tokens
        let plans = group.records.filter { keys?.contains($0.key) ?? true }
        if plans.isEmpty { return [] }
        let schedule = VariantFactory.schedule(tokens: T, perOctave: group.perOctave)
        let refTier: BackendTier = group.reference.tier == "double-double" ? .doubleDouble : .float64
        func make(_ tier: BackendTier, _ recipe: Recipe) throws -> SteppedRun {
            try VariantFactory.makeRun(v, workload: group.workload, seed: group.seed, tokens: T, schedule: schedule, tier: tier, recipe: recipe)
        }
        let reference = try make(refTier, group.inputs)
        let emulated = try plans.map { try make(.float32, $0.recipe) }
        let shape = VariantFactory.shape(v, run: reference)
        let lengths = Array(Set(fixedLengths.filter { $0 <= T } + [T])).sorted()
        let measure = GroupMeasure(
            reference: reference, emulated: emulated, schedule: schedule, isCache: shape.isCache, sparse: VariantFactory.isSparse(v.name),
            lengths: lengths, thresholds: thresholds)
        // The reference's state where the later certification window starts (recurrent runs).
        let window = laterWindow(group, run: reference)
        var stateAtWindow: [Double]? = nil
        let runs = ([reference] + emulated).map { BlockRuns.make($0, fast: fastPaths) }
        let engine = LockstepEngine(
            runs: runs, maxBlock: BlockRuns.maxBlock, everyOutput: !shape.isCache,
            threads: threads > 1 && runs.count > 1 ? 2 * runs.count : 1)
        var reported = 0
        // Blocks end at every recorded position and before the window start.
        engine.run(
            tokens: T, endsAt: { t in schedule.contains(t) || window.map { t + 1 == $0.start } ?? false },
            atBlockStart: { t in
                guard let w = window, t == w.start else { return }
                var st = [Double](repeating: 0, count: reference.stateCount)
                st.withUnsafeMutableBufferPointer { runs[0].readState(into: $0) }
                stateAtWindow = st
            },
            measure: { start, n in
                for i in 0..<n { measure.position(start + i, row: i, engine: engine) }
                while reported + 1024 <= start + n { reported += 1024; progress?(1024) }
            })
        progress?(T - reported)
        measure.finish()
        let cert = try certification(group, refTier: refTier, window: window, state: stateAtWindow, threads: threads, make: make)
        let family = (try? VariantCatalog.entry(v.name).family.rawValue) ?? "unknown"
        return plans.enumerated().map { i, p in
            let a = measure.meters[i]
            let probed = measure.probed(i)
            var summary = a.summary(tokens: T, hasState: reference.stateCount > 0, probed: probed, sparse: measure.sparse)
            memory(v, recipe: p.recipe, shape: shape, tokens: T, stateCount: reference.stateCount, into: &summary)
            let theory = DriftTheory.overlay(recipe: p.recipe, inputs: group.inputs, shape: shape, tokens: T, final: summary.errorAt.last!.outputRelErr)
            return StudyRecord(
                key: p.key, variant: v.name, family: family, preset: v.preset, form: v.form, recipeName: p.recipeName,
                recipe: RecipeResolver.canonical(p.recipe),
                workload: StudyRecord.Workload(name: group.workload.name, input: group.workloadInput, gates: v.gates, seed: group.seed),
                tokens: T, positions: a.output.positions, outputRelErr: a.output.values, outputMaxAbs: a.maxAbs,
                stateRelErr: reference.stateCount > 0 ? a.state.values : nil,
                outputCosine: a.cosine, cacheRelErr: probed ? a.cache : nil, attentionKL: probed ? a.kl : nil,
                topkOverlap: probed && measure.sparse ? a.overlap : nil,
                summary: summary, theory: theory, reference: cert)
        }
    }

    /// The reference's certification: its first positions, and the later window when there is
    /// one. The two are independent: on two threads they run side by side.
    static func certification(
        _ group: PlannedGroup, refTier: BackendTier, window: (start: Int, tokens: Int)?, state: [Double]?, threads: Int,
        make: @escaping (BackendTier, Recipe) throws -> SteppedRun
    ) throws -> StudyRecord.ReferenceInfo {
        guard let w = window, let st = state else { return try certify(group, refTier: refTier, make: make) }
        let results = CertificationResults()
        let tasks: [() throws -> Void] = [
            { results.first = try certify(group, refTier: refTier, make: make) },
            { results.later = try laterCertification(group, refTier: refTier, start: w.start, tokens: w.tokens, state: st, make: make) },
        ]
        try WorkQueue.perform(tasks, jobs: threads > 1 ? 2 : 1)
        var cert = results.first!
        results.later?.apply(to: &cert)
        return cert
    }

    /// The bytes a record's memory takes: per cached token and in all for a cache, the state's
    /// for a recurrent run.
    static func memory(
        _ v: StudyConfig.VariantSpec, recipe: Recipe, shape: VariantFactory.Shape, tokens T: Int, stateCount sc: Int,
        into s: inout StudyRecord.Summary
    ) {
        if shape.isCache {
            s.bytesPerToken = VariantFactory.cacheBytesPerToken(v, recipe: recipe)
            s.memoryBytes = (s.bytesPerToken ?? 0) * Double(VariantFactory.cachedTokens(v, tokens: T))
        } else {
            let bits = recipe.format(.state)?.bitsPerElement(shape: [shape.stateRows, shape.stateCols]) ?? 32
            s.stateBytes = bits / 8 * Double(sc)
            s.memoryBytes = s.stateBytes!
        }
    }

    /// The later window of DESIGN.md §5's "sample of later positions": the last
    /// min(certify_tokens, 256) positions of a recurrent run at least 4 windows long.
    static func laterWindow(_ g: PlannedGroup, run: SteppedRun) -> (start: Int, tokens: Int)? {
        let n = min(g.reference.certifyTokens, 256)
        guard n > 0, g.tokens >= 4 * n, let s = run as? Seekable, s.canSeek else { return nil }
        return (g.tokens - n, n)
    }

    /// The later window's certification: maxima of the fast run against MPFR.
    struct LaterCertification {
        var start: Int, tokens: Int, output: Double, state: Double, failed: Bool

        func apply(to info: inout StudyRecord.ReferenceInfo) {
            info.laterStart = start
            info.laterTokens = tokens
            info.laterFastVsMPFROutput = output
            info.laterFastVsMPFRState = state
            if failed { info.pass = false }
        }
    }

    /// What the two certification tasks write (each its own field).
    final class CertificationResults: @unchecked Sendable {
        var first: StudyRecord.ReferenceInfo?
        var later: LaterCertification?
    }

    /// MPFR and a fresh fast run, both started at `start` from the reference's state there,
    /// stepped in lockstep over the window (nil when the variant cannot be restarted there).
    static func laterCertification(
        _ g: PlannedGroup, refTier: BackendTier, start: Int, tokens: Int, state: [Double],
        make: (BackendTier, Recipe) throws -> SteppedRun
    ) throws -> LaterCertification? {
        guard let fast = try make(refTier, g.inputs) as? Seekable, let exact = try make(.mpfr(bits: g.reference.bits), g.inputs) as? Seekable else { return nil }
        for r in [fast, exact] as [Seekable] {
            state.withUnsafeBufferPointer { r.writeState($0) }
            r.seek(to: start)
        }
        let s = Lockstep.run(reference: exact, approximation: fast, tokens: tokens, comparison: .exact)
        return LaterCertification(
            start: start, tokens: tokens,
            output: s.nonFinite > 0 ? .nan : s.outputMaxRelative, state: s.nonFinite > 0 ? .nan : s.stateMaxRelative,
            failed: s.outputMaxRelative > ReferenceCertification.fastThreshold || s.stateMaxRelative > ReferenceCertification.fastThreshold
                || s.nonFinite > 0)
    }

    /// `laterCertification` applied to `info`.
    static func certifyLater(
        _ g: PlannedGroup, refTier: BackendTier, start: Int, tokens: Int, state: [Double],
        into info: inout StudyRecord.ReferenceInfo, make: (BackendTier, Recipe) throws -> SteppedRun
    ) throws {
        try laterCertification(g, refTier: refTier, start: start, tokens: tokens, state: state, make: make)?.apply(to: &info)
    }

    static func certify(_ g: PlannedGroup, refTier: BackendTier, make: (BackendTier, Recipe) throws -> SteppedRun) throws -> StudyRecord.ReferenceInfo {
        let n = min(g.reference.certifyTokens, g.tokens)
        var info = StudyRecord.ReferenceInfo(tier: refTier.description, certifiedTokens: n, bits: g.reference.bits)
        guard n > 0 else { return info }
        let c = try ReferenceCertification.certify(
            variant: g.variant.name, form: g.variant.form, tokens: n, bits: g.reference.bits, fastTier: refTier,
            doublePrecisionTokens: min(n, g.reference.doublePrecisionTokens)
        ) { tier in try make(tier, g.inputs) }
        info.fastVsMPFROutput = c.fastVsMPFR.outputMaxRel
        info.fastVsMPFRState = c.fastVsMPFR.stateMaxRel
        info.mpfrPVs2POutput = c.mpfrPVs2P.outputMaxRel
        info.mpfrPVs2PState = c.mpfrPVs2P.stateMaxRel
        info.pass = c.pass
        return info
    }
}
