import AttentionVariants
import DriftStudy
import ExactArithmetic
import NumberFormats
import Workloads

/// Speculative decoding with a recurrent state (DESIGN.md §8). Each cycle starts at position
/// p: the state is snapshotted (the copy stored in the `snapshot` format), n tokens are
/// drafted from the live state, the accepted prefix is decided, the state is rolled back to
/// the snapshot and the accepted tokens plus the correction token are decoded again.
///
/// Acceptance stands in for "the target samples the drafted token": drafted token t is
/// accepted when cos(o_t, w_t) ≥ `threshold`, w_t a counter-random Gaussian direction; the
/// first rejection ends the prefix. The exact run's decisions set the schedule (both runs
/// decode the same positions); the quantized run's own decisions are counted where they
/// differ. The baseline is the same quantized kernel decoding the accepted stream once,
/// without snapshots or rollbacks.
public enum Speculative {
    public static var supported: [String] { VariantRegistry.names(with: .rewind) }
    /// Softmax variants: the rollback truncates the KV cache (`runKV`).
    public static var supportedKV: [String] { VariantRegistry.names(with: .kvCache) }

    static func cosine(_ o: [Double], _ w: [Double]) -> Double {
        var d = 0.0, a = 0.0, b = 0.0
        for i in o.indices { d += o[i] * w[i]; a += o[i] * o[i]; b += w[i] * w[i] }
        return a > 0 && b > 0 ? d / (a * b).squareRoot() : (d.isNaN || a.isNaN ? .nan : 0)
    }

    /// One (variant, recipe, draft length, seed) record. Positions: cycle ends sampled
    /// log-spaced; series `state_err` (speculative run) and `baseline_state_err` (no
    /// snapshots) against the exact run. Summary: cycles, mean accepted length,
    /// `disagree_cycles` (fraction of cycles where the quantized run would accept a different
    /// length), `disagree_positions` (fraction of drafted positions whose accept decision
    /// differs), final state errors and their ratio.
    public static func run(
        variant v: StudyConfig.VariantSpec, recipeName: String, recipe: Recipe, tier: BackendTier, draft n: Int, seed: UInt64,
        config c: ScenarioConfig
    ) throws -> ScenarioRecord {
        let T = c.tokens.last!
        var record = ScenarioRecord(
            scenario: "speculative", memory: ScenarioRuns.instanceLabel(v), recipeName: recipeName, recipe: RecipeResolver.canonical(recipe),
            parameters: ["draft": n], labels: ["threshold": StudyJSON.number(c.threshold)], seed: seed, tokens: T)
        let kernel = ScenarioRuns.kernelRecipe(recipe)
        func rewindable(_ r: StateWritable) throws -> Rewindable {
            guard let x = r as? Rewindable else { throw StudyInputError("variant '\(v.name)': its decode run cannot be rewound; expected one of \(supported.joined(separator: ", "))") }
            return x
        }
        let exact = try rewindable(try ScenarioRuns.make(v, seed: seed, tokens: T, tier: .float64, recipe: .exact).run)
        let (specRun, rows, cols) = try ScenarioRuns.make(v, seed: seed, tokens: T, tier: tier, recipe: kernel)
        let spec = try rewindable(specRun)
        let baseline = try ScenarioRuns.make(v, seed: seed, tokens: T, tier: tier, recipe: kernel).run
        let V = exact.outputCount, S = exact.stateCount
        var tally = DraftTally(seed: seed, outputs: V, threshold: c.threshold)
        var snapE = [Double](repeating: 0, count: S), snapS = snapE, se = snapE, ss = snapE
        let samples = Set(TaskRunner.probeLengths(c, from: 1))
        var nextSamples = samples.sorted()[...]
        var positions: [Int] = [], stateErr: [Double] = [], baseErr: [Double] = []
        var p = 0
        func stateError(_ run: SteppedRun) -> Double {
            se.withUnsafeMutableBufferPointer { exact.readState(into: $0) }
            ss.withUnsafeMutableBufferPointer { run.readState(into: $0) }
            return ss.withUnsafeBufferPointer { ScenarioRuns.relativeError(se[...], $0) }
        }
        while p < T {
            let m = min(n, T - p)
            snapE.withUnsafeMutableBufferPointer { exact.readState(into: $0) }
            snapS.withUnsafeMutableBufferPointer { b in
                spec.readState(into: b)
                recipe[.snapshot]?.store(b, rows: rows, cols: cols, random: CounterRandom(seed: seed, role: "snapshot", head: 0, step: p))
            }
            let advance = tally.draft(from: p, count: m) { _, e, s in
                exact.step(); spec.step()
                exact.readOutput(into: e)
                spec.readOutput(into: s)
            }
            // Roll back to the snapshot; decode the accepted tokens and the correction token.
            snapE.withUnsafeBufferPointer { exact.writeState($0) }
            snapS.withUnsafeBufferPointer { spec.writeState($0) }
            exact.rewind(to: p); spec.rewind(to: p)
            for _ in 0..<advance { exact.step(); spec.step(); baseline.step() }
            p += advance
            if let next = nextSamples.first, p >= next {
                while let x = nextSamples.first, x <= p { nextSamples = nextSamples.dropFirst() }
                positions.append(p)
                stateErr.append(stateError(spec))
                baseErr.append(stateError(baseline))
            }
        }
        record.positions = positions
        record.series = ["state_err": stateErr, "baseline_state_err": baseErr]
        let final = stateErr.last ?? .nan, base = baseErr.last ?? .nan
        record.summary = tally.summary
        record.summary.merge(["final_state_err": final, "final_baseline_state_err": base]) { $1 }
        if base > 0 { record.summary["ratio"] = final / base }
        return record
    }

    static func plan(_ c: ScenarioConfig) throws -> [(String, @Sendable () throws -> ScenarioRecord)] {
        var out: [(String, @Sendable () throws -> ScenarioRecord)] = []
        for seed in c.seeds {
            for v in c.variants {
                let roles = try speculativeRoles(v)
                var recipes: [(String, Recipe, BackendTier)] = [(TaskRunner.exactName, .exact, .float64)]
                // A recipe applies to the variants that have all its roles.
                for spec in c.recipes {
                    if let r = try? c.recipe(spec, for: v, roles: roles) { recipes.append((spec.name, r, .float32)) }
                }
                let kv = KVRuns.isSoftmax(v)
                for (name, recipe, tier) in recipes {
                    for n in c.drafts {
                        out.append(("\(v.name)|\(name)|\(n)|\(seed)", {
                            kv ? try runKV(variant: v, recipeName: name, recipe: recipe, tier: tier, draft: n, seed: seed, config: c)
                                : try run(variant: v, recipeName: name, recipe: recipe, tier: tier, draft: n, seed: seed, config: c)
                        }))
                    }
                }
            }
        }
        return out
    }
}

extension Speculative {
    /// The roles a speculative recipe may name for `v`: a recurrent variant's and `snapshot`;
    /// a softmax variant's own (a rollback truncates the cache, nothing is snapshotted).
    static func speculativeRoles(_ v: StudyConfig.VariantSpec) throws -> [Role] {
        KVRuns.isSoftmax(v) ? SoftmaxAttentionConfig.roles : try VariantFactory.roles(v) + [.snapshot]
    }

    /// One (softmax variant, recipe, draft length, seed) record, cycles as in `run`: n tokens
    /// are drafted (their entries appended to the cache), the accepted prefix is decided from
    /// the outputs, and the rollback truncates the cache to the accepted length — the drafted
    /// entries are dropped, the kept ones keep their codes — before the accepted tokens and the
    /// correction token are decoded again. Series `state_err` / `baseline_state_err`: the
    /// cache error ‖Ĉ − C‖/‖C‖ over the entries held by the speculative run and by the same
    /// kernel decoding the accepted stream once; `output_err`: the speculative run's output
    /// at the last accepted token against the exact run. Summary as in `run`, plus
    /// `rollback_output_delta` (largest ‖ô_spec − ô_baseline‖/‖ô_baseline‖ at the last
    /// accepted token of a cycle) and `rollback_bytes_delta` (largest difference in cache bytes
    /// held): both 0 when rollback is neutral.
    static func runKV(
        variant v: StudyConfig.VariantSpec, recipeName: String, recipe: Recipe, tier: BackendTier, draft n: Int, seed: UInt64,
        config c: ScenarioConfig
    ) throws -> ScenarioRecord {
        let T = c.tokens.last!
        var record = ScenarioRecord(
            scenario: "speculative", memory: ScenarioRuns.instanceLabel(v), recipeName: recipeName, recipe: RecipeResolver.canonical(recipe),
            parameters: ["draft": n], labels: ["threshold": StudyJSON.number(c.threshold)], seed: seed, tokens: T)
        let exact = try KVRuns.make(v, seed: seed, tier: .float64, recipe: .exact)
        let spec = try KVRuns.make(v, seed: seed, tier: tier, recipe: recipe)
        let baseline = try KVRuns.make(v, seed: seed, tier: tier, recipe: recipe)
        guard spec.canRollback else {
            throw StudyInputError("variant '\(v.name)', recipe '\(recipeName)': a group:N cache cannot drop drafted entries; expected per-token, block:N or element formats")
        }
        let V = exact.outputCount
        var tally = DraftTally(seed: seed, outputs: V, threshold: c.threshold)
        var oe = [Double](repeating: 0, count: V), os = oe, ob = oe
        var nextSamples = Set(TaskRunner.probeLengths(c, from: 1)).sorted()[...]
        var positions: [Int] = [], stateErr: [Double] = [], baseErr: [Double] = [], outErr: [Double] = []
        var p = 0
        var outputDelta = 0.0, bytesDelta = 0
        while p < T {
            let m = min(n, T - p)
            let advance = tally.draft(from: p, count: m) { i, e, s in
                exact.step(); spec.step()
                exact.evaluate(p + i); spec.evaluate(p + i)
                exact.read(e)
                spec.read(s)
            }
            // Roll back to p (drop the drafted entries); decode the accepted tokens and the
            // correction token again.
            exact.rollback(p); spec.rollback(p)
            for _ in 0..<advance { exact.step(); spec.step(); baseline.step() }
            p += advance
            spec.evaluate(p - 1); baseline.evaluate(p - 1)
            os.withUnsafeMutableBufferPointer { spec.read($0) }
            ob.withUnsafeMutableBufferPointer { baseline.read($0) }
            let delta = os.withUnsafeBufferPointer { ScenarioRuns.relativeError(ob[...], $0) }
            outputDelta = Swift.max(outputDelta, delta.isNaN ? .infinity : delta)
            bytesDelta = Swift.max(bytesDelta, abs(spec.cacheBytes() - baseline.cacheBytes()))
            if let next = nextSamples.first, p >= next {
                while let x = nextSamples.first, x <= p { nextSamples = nextSamples.dropFirst() }
                exact.evaluate(p - 1)
                oe.withUnsafeMutableBufferPointer { exact.read($0) }
                positions.append(p)
                stateErr.append(spec.cacheError())
                baseErr.append(baseline.cacheError())
                outErr.append(os.withUnsafeBufferPointer { ScenarioRuns.relativeError(oe[...], $0) })
            }
        }
        record.positions = positions
        record.series = ["state_err": stateErr, "baseline_state_err": baseErr, "output_err": outErr]
        let final = stateErr.last ?? .nan, base = baseErr.last ?? .nan
        record.summary = tally.summary
        record.summary.merge([
            "final_state_err": final, "final_baseline_state_err": base, "final_output_err": outErr.last ?? .nan,
            "rollback_output_delta": outputDelta, "rollback_bytes_delta": Double(bytesDelta),
        ]) { $1 }
        if base > 0 { record.summary["ratio"] = final / base }
        KVRuns.noteStored(spec.storedNonFinite(), into: &record)
        return record
    }
}

/// Speculative decoding's acceptance decisions, shared by the recurrent and softmax runs: the
/// verifier's directions w_t, each drafted token's accept decision in the exact and the
/// quantized run (cos(o_t, w_t) ≥ threshold), and the counts over the cycles.
struct DraftTally {
    let verify: InputGenerator
    let threshold: Double
    /// w_t and the exact and quantized outputs of the drafted token.
    private var w: [Double], oe: [Double], os: [Double]
    var cycles = 0, accepted = 0, disagreeCycles = 0, disagreePositions = 0, drafted = 0
    /// Non-finite elements in the quantized run's drafted outputs (every drafted token, kept
    /// or rolled back).
    var nonFinite = NonFiniteCount()

    init(seed: UInt64, outputs V: Int, threshold: Double) {
        verify = InputGenerator(seed: seed, stream: "speculative.verify", dimension: V)
        self.threshold = threshold
        w = [Double](repeating: 0, count: V)
        oe = w
        os = w
    }

    /// One cycle's draft of m tokens from p: `decode(i, oe, os)` decodes token p + i in the
    /// exact and the quantized run and reads their outputs into oe, os. Returns the tokens the
    /// cycle keeps: the exact run's accepted prefix and the correction token, at most m.
    mutating func draft(
        from p: Int, count m: Int, _ decode: (Int, UnsafeMutableBufferPointer<Double>, UnsafeMutableBufferPointer<Double>) -> Void
    ) -> Int {
        var aE = m, aS = m
        for i in 0..<m {
            oe.withUnsafeMutableBufferPointer { e in os.withUnsafeMutableBufferPointer { decode(i, e, $0) } }
            w.withUnsafeMutableBufferPointer { verify.fill($0, head: 0, position: p + i) }
            nonFinite.add(os.reduce(0) { $0 + ($1.isFinite ? 0 : 1) }, at: p + i)
            let okE = Speculative.cosine(oe, w) >= threshold, okS = Speculative.cosine(os, w) >= threshold
            if okE != okS { disagreePositions += 1 }
            if !okE && aE == m { aE = i }
            if !okS && aS == m { aS = i }
        }
        drafted += m
        if aE != aS { disagreeCycles += 1 }
        cycles += 1
        accepted += aE
        return min(aE + 1, m)
    }

    /// The summary keys `cycles`, `mean_accepted`, `disagree_cycles`, `disagree_positions`;
    /// `non_finite_drafted` and `first_non_finite` only when a drafted output was not finite.
    var summary: [String: Double] {
        var s = [
            "cycles": Double(cycles), "mean_accepted": Double(accepted) / Double(cycles),
            "disagree_cycles": Double(disagreeCycles) / Double(cycles), "disagree_positions": Double(disagreePositions) / Double(drafted),
        ]
        if let first = nonFinite.first {
            s["non_finite_drafted"] = Double(nonFinite.count)
            s["first_non_finite"] = Double(first)
        }
        return s
    }
}
