import AttentionVariants
import ExactArithmetic
import Foundation
import NumberFormats

/// Measures one group: the reference and every recipe's emulated run advance together, token
/// by token; errors are measured online and only the recorded positions are kept.
public enum GroupRunner {
    public static let fixedLengths = [1024, 8192, 32768, 65536, 1 << 20]
    public static let thresholds = [1e-3, 1e-2, 1e-1]

    struct Accumulator {
        var positions: [Int] = []
        var out: [Double] = []
        var maxAbs: [Double] = []
        var state: [Double] = []
        var windowSum: [Double]
        var windowCount: [Int]
        var windowStateSum: [Double]
        var windowStateCount: [Int]
        var lastBefore: [Double]
        var lastStateBefore: [Double]
        var crossing: [Int?]
        var cosine: [Double] = []
        var cache: [Double] = []
        var kl: [Double?] = []
        var overlap: [Double] = []
        /// Overlaps where the exact selection left keys out.
        var activeOverlap: [Double] = []
        var nonFinite = 0
        var maxErr = 0.0

        init(lengths: Int) {
            windowSum = Array(repeating: 0, count: lengths)
            windowCount = Array(repeating: 0, count: lengths)
            windowStateSum = windowSum
            windowStateCount = windowCount
            lastBefore = Array(repeating: .nan, count: lengths)
            lastStateBefore = lastBefore
            crossing = Array(repeating: nil, count: GroupRunner.thresholds.count)
        }
    }

    /// Runs `group` (only the records in `keys`, all when nil) and returns its records.
    public static func run(_ group: PlannedGroup, keys: Set<String>? = nil, progress: ((Int) -> Void)? = nil) throws -> [StudyRecord] {
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
        let windows = lengths.map { L in (lo: L - max(1, min(64, L / 16)), hi: L - 1) }
        var acc = plans.map { _ in Accumulator(lengths: lengths.count) }
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
        var refOut = [Double](repeating: 0, count: oc), apxOut = refOut
        var refState = [Double](repeating: 0, count: sc), apxState = refState
        for t in 0..<T {
            if let w = window, t == w.start {
                var st = [Double](repeating: 0, count: sc)
                st.withUnsafeMutableBufferPointer { reference.readState(into: $0) }
                stateAtWindow = st
            }
            reference.step()
            for e in emulated { e.step() }
            if t & 1023 == 1023 { progress?(1024) }
            let evaluated = !shape.isCache || schedule.contains(t)
            if !evaluated { continue }
            let sampled = schedule.contains(t)
            refOut.withUnsafeMutableBufferPointer { reference.readOutput(into: $0) }
            if sampled && sc > 0 { refState.withUnsafeMutableBufferPointer { reference.readState(into: $0) } }
            for (i, e) in emulated.enumerated() {
                apxOut.withUnsafeMutableBufferPointer { e.readOutput(into: $0) }
                let d = refOut.withUnsafeBufferPointer { a in apxOut.withUnsafeBufferPointer { b in meter.distance(reference: a, b) } }
                var rel = d.relative
                if d.nonFinite > 0 || !rel.isFinite { rel = .nan; acc[i].nonFinite += max(d.nonFinite, 1) }
                acc[i].maxErr = rel.isNaN ? .nan : max(acc[i].maxErr, rel)
                for (j, th) in thresholds.enumerated() where acc[i].crossing[j] == nil && (rel.isNaN || rel > th) { acc[i].crossing[j] = t }
                for (j, w) in windows.enumerated() {
                    if t >= w.lo && t <= w.hi { acc[i].windowSum[j] += rel; acc[i].windowCount[j] += 1 }
                    if t <= w.hi { acc[i].lastBefore[j] = rel }
                }
                if sampled {
                    acc[i].positions.append(t)
                    acc[i].out.append(rel)
                    acc[i].maxAbs.append(d.maxAbsolute)
                    acc[i].cosine.append(refOut.withUnsafeBufferPointer { a in apxOut.withUnsafeBufferPointer { b in cosineSimilarity(a, b) } })
                    if let ref = refProbe, let p = probes[i] {
                        acc[i].cache.append(p.cacheRelativeError)
                        let same = ref.lastSelection == p.lastSelection
                        acc[i].kl.append(same && !ref.lastScores.isEmpty && ref.lastScores.count == p.lastScores.count
                            ? SoftmaxMetrics.attentionKL(exact: ref.lastScores, approximate: p.lastScores, sinkLogit: ref.sinkLogit) : nil)
                        if sparse {
                            let o = same ? 1 : SoftmaxMetrics.overlap(ref.lastSelection, p.lastSelection)
                            acc[i].overlap.append(o)
                            if ref.lastSelection.count < t + 1 { acc[i].activeOverlap.append(o) }
                        }
                    }
                    if sc > 0 {
                        apxState.withUnsafeMutableBufferPointer { e.readState(into: $0) }
                        let ds = refState.withUnsafeBufferPointer { a in apxState.withUnsafeBufferPointer { b in meter.distance(reference: a, b) } }
                        var srel = ds.relative
                        if ds.nonFinite > 0 || !srel.isFinite { srel = .nan; acc[i].nonFinite += max(ds.nonFinite, 1) }
                        acc[i].state.append(srel)
                        for (j, w) in windows.enumerated() {
                            if t >= w.lo && t <= w.hi { acc[i].windowStateSum[j] += srel; acc[i].windowStateCount[j] += 1 }
                            if t <= w.hi { acc[i].lastStateBefore[j] = srel }
                        }
                    }
                }
            }
        }
        progress?(T & 1023)
        var cert = try certify(group, refTier: refTier, make: make)
        if let w = window, let st = stateAtWindow {
            try certifyLater(group, refTier: refTier, start: w.start, tokens: w.tokens, state: st, into: &cert, make: make)
        }
        let family = (try? VariantCatalog.entry(v.name).family) ?? "unknown"
        return plans.enumerated().map { i, p in
            let a = acc[i]
            var errorAt: [StudyRecord.ErrorAt] = []
            for (j, L) in lengths.enumerated() {
                let o = a.windowCount[j] > 0 ? a.windowSum[j] / Double(a.windowCount[j]) : a.lastBefore[j]
                var s: Double? = nil
                if sc > 0 { s = a.windowStateCount[j] > 0 ? a.windowStateSum[j] / Double(a.windowStateCount[j]) : a.lastStateBefore[j] }
                errorAt.append(StudyRecord.ErrorAt(tokens: L, outputRelErr: o, stateRelErr: s))
            }
            let xs = a.positions.map { Double($0 + 1) }
            let range = (Double(T) / 64)...Double(T)
            let slope = SlopeFit.logLog(x: xs, y: a.out, range: range)
            let stateSlope = sc > 0 ? SlopeFit.logLog(x: xs, y: a.state, range: range) : nil
            let final = errorAt.last!.outputRelErr
            var saturation: Double? = nil
            if let s = slope, s.slopeHigh < 0.1 {
                let tail = zip(a.positions, a.out).filter { $0.0 >= T / 2 }.map(\.1)
                if !tail.isEmpty { saturation = tail.reduce(0, +) / Double(tail.count) }
            }
            let growing = (slope?.slopeLow ?? 0) > 0.1
            let verdict: String
            if a.nonFinite > 0 || final.isNaN { verdict = "nan" } else if final >= 0.1 { verdict = "fails" } else if growing { verdict = "grows" } else if final >= 1e-2 { verdict = "high" } else { verdict = "ok" }
            let storage = storageSpec(p.recipe)
            var bytesPerToken: Double? = nil, stateBytes: Double? = nil, memory = 0.0
            if shape.isCache {
                bytesPerToken = VariantFactory.cacheBytesPerToken(v, recipe: p.recipe)
                memory = (bytesPerToken ?? 0) * Double(VariantFactory.cachedTokens(v, tokens: T))
            } else {
                let bits = p.recipe.format(.state)?.bitsPerElement(shape: [shape.stateRows, shape.stateCols]) ?? 32
                stateBytes = bits / 8 * Double(sc)
                memory = stateBytes!
            }
            var theory = StudyRecord.Theory()
            let u = storage.map { unitRoundoff($0) } ?? 0x1p-24
            let kappa = storage?.rounding.isStochastic == true ? DriftTheory.kappaStochastic : DriftTheory.kappaNearest
            if let u {
                theory.unitRoundoff = u
                theory.kappa = kappa
                if shape.isCache {
                    theory.law = "flat"
                    // A cache that stores the (already rounded) inputs in a format holding them exactly loses
                    // nothing: what is left is the binary32 compute.
                    if p.recipe.format(.kCache) != nil, let input = group.inputs.format(.k), holdsExactly(storage!, input) {
                        theory.unitRoundoff = 0x1p-24
                    }
                } else if shape.undecayed { theory.law = "sqrt" } else if let d = shape.constantDecay { theory.law = "saturation"; theory.decay = d }
                if theory.law != nil {
                    theory.predictedAtEnd = theory.predicted(at: T - 1)
                    if let pr = theory.predictedAtEnd, pr > 0, final.isFinite { theory.ratio = final / pr }
                }
            }
            let probed = refProbe != nil && probes[i] != nil
            var summary = StudyRecord.Summary(
                errorAt: errorAt, maxOutputRelErr: a.maxErr, slope: slope, stateSlope: stateSlope, saturation: saturation,
                firstCrossing: thresholds.enumerated().map { StudyRecord.Crossing(threshold: $1, position: a.crossing[$0]) },
                nonFinite: a.nonFinite, bytesPerToken: bytesPerToken, stateBytes: stateBytes, memoryBytes: memory, verdict: verdict)
            summary.minCosine = a.cosine.contains { $0.isNaN } ? .nan : a.cosine.min()
            if probed {
                summary.cacheRelErr = a.cache.last
                summary.attentionKL = a.kl.last ?? nil
                if sparse && !a.activeOverlap.isEmpty {
                    summary.topkOverlapMean = a.activeOverlap.reduce(0, +) / Double(a.activeOverlap.count)
                    summary.topkOverlapMin = a.activeOverlap.min()
                }
            }
            return StudyRecord(
                key: p.key, variant: v.name, family: family, preset: v.preset, form: v.form, recipeName: p.recipeName,
                recipe: RecipeResolver.canonical(p.recipe),
                workload: StudyRecord.Workload(name: group.workload.name, input: group.workloadInput, gates: v.gates, seed: group.seed),
                tokens: T, positions: a.positions, outputRelErr: a.out, outputMaxAbs: a.maxAbs, stateRelErr: sc > 0 ? a.state : nil,
                outputCosine: a.cosine, cacheRelErr: probed ? a.cache : nil, attentionKL: probed ? a.kl : nil,
                topkOverlap: probed && sparse ? a.overlap : nil,
                summary: summary, theory: theory, reference: cert)
        }
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

    /// Every value of `input` is a value of `storage` (both unscaled floating-point formats, the
    /// storage with at least the input's exponent and mantissa bits).
    static func holdsExactly(_ storage: FormatSpec, _ input: FormatSpec) -> Bool {
        guard !storage.isScaled, !input.isScaled, case .float(let s) = storage.element, case .float(let i) = input.element else { return false }
        return s.exponentBits >= i.exponentBits && s.mantissaBits >= i.mantissaBits
    }

    /// The spec of the role that holds the variant's memory (state, KV cache or latent).
    static func storageSpec(_ r: Recipe) -> FormatSpec? {
        for role in [Role.state, .kCache, .latent] { if let s = r.format(role) { return s } }
        return nil
    }

    /// u = 2^−(m+1) for floating-point elements (nil for integers).
    static func unitRoundoff(_ s: FormatSpec) -> Double? {
        if case .float(let f) = s.element { return Double(sign: .plus, exponent: -(f.mantissaBits + 1), significand: 1) }
        return nil
    }

    /// The later window of DESIGN.md §5's "sample of later positions": the last
    /// min(certify_tokens, 256) positions of a recurrent run at least 4 windows long.
    static func laterWindow(_ g: PlannedGroup, run: SteppedRun) -> (start: Int, tokens: Int)? {
        let n = min(g.reference.certifyTokens, 256)
        guard n > 0, g.tokens >= 4 * n, let s = run as? Seekable, s.canSeek else { return nil }
        return (g.tokens - n, n)
    }

    /// MPFR and a fresh fast run, both started at `start` from the reference's state there,
    /// stepped in lockstep over the window.
    static func certifyLater(
        _ g: PlannedGroup, refTier: BackendTier, start: Int, tokens: Int, state: [Double],
        into info: inout StudyRecord.ReferenceInfo, make: (BackendTier, Recipe) throws -> SteppedRun
    ) throws {
        guard let fast = try make(refTier, g.inputs) as? Seekable, let exact = try make(.mpfr(bits: g.reference.bits), g.inputs) as? Seekable else { return }
        for r in [fast, exact] as [Seekable] {
            state.withUnsafeBufferPointer { r.writeState($0) }
            r.seek(to: start)
        }
        let s = Lockstep.run(reference: exact, approximation: fast, tokens: tokens, comparison: .exact)
        info.laterStart = start
        info.laterTokens = tokens
        info.laterFastVsMPFROutput = s.nonFinite > 0 ? .nan : s.outputMaxRelative
        info.laterFastVsMPFRState = s.nonFinite > 0 ? .nan : s.stateMaxRelative
        if s.outputMaxRelative > ReferenceCertification.fastThreshold || s.stateMaxRelative > ReferenceCertification.fastThreshold || s.nonFinite > 0 {
            info.pass = false
        }
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
