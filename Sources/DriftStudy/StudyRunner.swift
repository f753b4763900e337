import AttentionVariants
import Dispatch
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
        let oc = reference.outputCount, sc = reference.stateCount
        let lengths = Array(Set(fixedLengths.filter { $0 <= T } + [T])).sorted()
        var meters = plans.map { _ in RecordMeter(lengths: lengths, thresholds: thresholds) }
        let meter = ErrorMeter()
        // The reference's state where the later certification window starts (recurrent runs).
        let window = laterWindow(group, run: reference)
        var stateAtWindow: [Double]? = nil
        let refProbe = reference as? AttentionDiagnostics
        let probes = emulated.map { $0 as? AttentionDiagnostics }
        let sparse = VariantFactory.isSparse(v.name)
        if refProbe != nil && probes.allSatisfy({ $0 != nil }) {
            refProbe!.recordScores = true
            for p in probes { p!.recordScores = true }
        }
        var refState = [Double](repeating: 0, count: sc), apxState = refState
        let refBlock = BlockRuns.make(reference, fast: fastPaths)
        let emuBlocks = emulated.map { BlockRuns.make($0, fast: fastPaths) }
        let runs = [refBlock] + emuBlocks
        let B = BlockRuns.maxBlock
        // Block outputs: run r's token i at buffers[r][i·oc ..< (i+1)·oc].
        let buffers = BlockBuffers(runs: runs.count, count: B * max(oc, 1))
        let everyOutput = !shape.isCache
        let parallel = threads > 1 && runs.count > 1
        // The block starting at t ends at the next recorded position, before the window start,
        // or after B tokens.
        func blockLength(from t: Int) -> Int {
            var end = t
            while end < T - 1 && end - t + 1 < B && !schedule.contains(end) && !(window.map { end + 1 == $0.start } ?? false) { end += 1 }
            return end - t + 1
        }
        // Each step computes block b and prepares block b + 1: independent tasks, run on the
        // threads in this order (largest first) or one after another.
        func runTasks(compute n: Int, prepare next: Int) {
            var tasks: [() -> Void] = []
            for r in 0..<runs.count {
                if next > 0 { tasks.append { runs[r].prepare(next) } }
                if n > 0 { tasks.append { runs[r].compute(n, outputs: buffers.rows[r], everyOutput: everyOutput) } }
            }
            if parallel {
                let work = BlockWork(tasks: tasks)
                DispatchQueue.concurrentPerform(iterations: work.tasks.count) { work.tasks[$0]() }
            } else {
                for task in tasks { task() }
            }
        }
        var t = 0
        var reported = 0
        var n = blockLength(from: 0)
        runTasks(compute: 0, prepare: n)
        while t < T {
            if let w = window, t == w.start {
                var st = [Double](repeating: 0, count: sc)
                st.withUnsafeMutableBufferPointer { refBlock.readState(into: $0) }
                stateAtWindow = st
            }
            let end = t + n - 1
            let next = end + 1 < T ? blockLength(from: end + 1) : 0
            runTasks(compute: n, prepare: next)
            for tt in t...end {
                let row = (tt - t) * oc
                let evaluated = !shape.isCache || schedule.contains(tt)
                if !evaluated { continue }
                let sampled = schedule.contains(tt)
                if sampled && sc > 0 { refState.withUnsafeMutableBufferPointer { refBlock.readState(into: $0) } }
                let refOut = UnsafeBufferPointer(start: buffers.rows[0] + row, count: oc)
                for (i, e) in emuBlocks.enumerated() {
                    let apxOut = UnsafeBufferPointer(start: buffers.rows[i + 1] + row, count: oc)
                    meters[i].addOutput(tt, meter.distance(reference: refOut, apxOut), sampled: sampled,
                                        cosine: RecordMeter.cosineSimilarity(refOut, apxOut))
                    guard sampled else { continue }
                    if let ref = refProbe, let p = probes[i] { meters[i].addScores(tt, reference: ref, p, sparse: sparse) }
                    if sc > 0 {
                        apxState.withUnsafeMutableBufferPointer { e.readState(into: $0) }
                        meters[i].addState(tt, refState.withUnsafeBufferPointer { a in apxState.withUnsafeBufferPointer { b in meter.distance(reference: a, b) } })
                    }
                }
            }
            t = end + 1
            n = next
            while reported + 1024 <= t { reported += 1024; progress?(1024) }
        }
        progress?(T - reported)
        // The two certifications (the first positions, the later window) are independent: on
        // two threads they run side by side.
        var cert: StudyRecord.ReferenceInfo
        if let w = window, let st = stateAtWindow {
            let results = CertificationResults()
            let jobs: [() throws -> Void] = [
                { results.first = try certify(group, refTier: refTier, make: make) },
                { results.later = try laterCertification(group, refTier: refTier, start: w.start, tokens: w.tokens, state: st, make: make) },
            ]
            let work = CertificationWork(jobs: jobs, results: results)
            if threads > 1 {
                DispatchQueue.concurrentPerform(iterations: 2) { i in work.run(i) }
            } else {
                work.run(0); work.run(1)
            }
            if let e = results.errors.compactMap({ $0 }).first { throw e }
            cert = results.first!
            results.later?.apply(to: &cert)
        } else {
            cert = try certify(group, refTier: refTier, make: make)
        }
        let family = (try? VariantCatalog.entry(v.name).family) ?? "unknown"
        return plans.enumerated().map { i, p in
            let a = meters[i]
            let probed = refProbe != nil && probes[i] != nil
            var summary = a.summary(tokens: T, hasState: sc > 0, probed: probed, sparse: sparse)
            memory(v, recipe: p.recipe, shape: shape, tokens: T, stateCount: sc, into: &summary)
            let theory = DriftTheory.overlay(recipe: p.recipe, inputs: group.inputs, shape: shape, tokens: T, final: summary.errorAt.last!.outputRelErr)
            return StudyRecord(
                key: p.key, variant: v.name, family: family, preset: v.preset, form: v.form, recipeName: p.recipeName,
                recipe: RecipeResolver.canonical(p.recipe),
                workload: StudyRecord.Workload(name: group.workload.name, input: group.workloadInput, gates: v.gates, seed: group.seed),
                tokens: T, positions: a.output.positions, outputRelErr: a.output.values, outputMaxAbs: a.maxAbs,
                stateRelErr: sc > 0 ? a.state.values : nil,
                outputCosine: a.cosine, cacheRelErr: probed ? a.cache : nil, attentionKL: probed ? a.kl : nil,
                topkOverlap: probed && sparse ? a.overlap : nil,
                summary: summary, theory: theory, reference: cert)
        }
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

    /// The block output buffers, shared with the threads that fill them (each thread writes
    /// only its own run's row).
    final class BlockBuffers: @unchecked Sendable {
        let rows: [UnsafeMutablePointer<Double>]
        init(runs: Int, count: Int) {
            rows = (0..<runs).map { _ in
                let p = UnsafeMutablePointer<Double>.allocate(capacity: count)
                p.initialize(repeating: 0, count: count)
                return p
            }
        }
        deinit { for p in rows { p.deallocate() } }
    }

    /// The tasks of one block step, shared with the threads (each task touches one run's
    /// state or one run's input slot, and its own output rows).
    struct BlockWork: @unchecked Sendable {
        let tasks: [() -> Void]
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

    final class CertificationResults: @unchecked Sendable {
        var first: StudyRecord.ReferenceInfo?
        var later: LaterCertification?
        var errors: [Error?] = [nil, nil]
    }

    struct CertificationWork: @unchecked Sendable {
        let jobs: [() throws -> Void]
        let results: CertificationResults
        func run(_ i: Int) {
            do { try jobs[i]() } catch { results.errors[i] = error }
        }
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
