import AttentionVariants
import DriftStudy
import ExactArithmetic
import Foundation
import NumberFormats

/// Runs of recurrent variants whose state a scenario can read and replace.
public enum ScenarioRuns {
    /// A run of `v` (gaussian inputs, `seed`) on `tier` storing through `recipe`, with its
    /// state shape.
    static func make(_ v: StudyConfig.VariantSpec, seed: UInt64, tokens: Int, tier: BackendTier, recipe: Recipe) throws -> (run: StateWritable, rows: Int, cols: Int) {
        let run = try VariantFactory.makeRun(
            v, workload: StudyConfig.WorkloadSpec(name: "gaussian"), seed: seed, tokens: tokens,
            schedule: VariantFactory.schedule(tokens: tokens, perOctave: 1), tier: tier, recipe: recipe)
        guard let w = run as? StateWritable else {
            throw StudyInputError("variant '\(v.name)' (\(v.form)): its state cannot be replaced; expected a recurrent decode form")
        }
        let shape = VariantFactory.shape(v, run: run)
        return (w, shape.stateRows, shape.stateCols)
    }

    /// The recipe the variant itself applies (the scenario roles `checkpoint` and `snapshot`
    /// are applied by the scenario at its events).
    static func kernelRecipe(_ r: Recipe) -> Recipe {
        var k = Recipe()
        for role in r.roles where role != .checkpoint && role != .snapshot { k[role] = r[role] }
        return k.fast
    }

    /// Saves a run's state and restores it, stored as `quantizer` would (kept at compute
    /// precision for nil): the round trip of a checkpoint, a snapshot or a handoff.
    static func roundState(_ run: StateWritable, through quantizer: (any StoreQuantizer)?, rows: Int, cols: Int, buffer: inout [Double], random: CounterRandom) {
        buffer.withUnsafeMutableBufferPointer { b in
            run.readState(into: b)
            quantizer?.store(b, rows: rows, cols: cols, random: random)
            run.writeState(UnsafeBufferPointer(b))
        }
    }

    /// ‖a_t − b_t‖/‖a_t‖ with a_t = reference row t (NaN stays NaN; a zero reference row gives
    /// the absolute distance). Plain sums, unlike `ErrorMeter.distance` (the study's, with the
    /// difference compensated): the committed scenario results were made with this one, so the
    /// two stay apart until a commit that regenerates those results unifies them.
    static func relativeError<C: Collection<Double>>(_ ref: C, _ x: UnsafeBufferPointer<Double>) -> Double {
        var num = 0.0, den = 0.0
        for (i, r) in zip(x.indices, ref) { let d = x[i] - r; num += d * d; den += r * r }
        if num.isNaN { return .nan }
        return den > 0 ? (num / den).squareRoot() : num.squareRoot()
    }
}

/// Prefix caching (DESIGN.md §8): a shared prefix of P tokens is processed once with the
/// state stored in the recipe's `state` format; the state at checkpoint positions is kept in
/// the `checkpoint` format; many continuations branch off the prefix at positions p_j ∈ [⌈P/2⌉, P]
/// and each resumes from the latest checkpoint c_j ≤ p_j (recomputing c_j…p_j), then decodes
/// `continuation` tokens. Mode `all` keeps a checkpoint at every multiple of the interval;
/// `last` keeps only the last aligned block of the prefix (⌊P/I⌋·I), so branches before it
/// recompute from the start. Continuations read the same counter-based input stream, so they
/// differ only in where they resume: the measured difference is the checkpoint round trip.
public enum PrefixCache {
    public enum Mode: String, Sendable, CaseIterable { case all, last }

    public static var supported: [String] { VariantRegistry.names(with: .stateCheckpoint) }
    /// Softmax variants, whose KV cache is what gets checkpointed (`runKV`).
    public static var supportedKV: [String] { VariantRegistry.names(with: .kvCache) }

    /// The roles a prefix-cache recipe may name for `v`: the variant's and `checkpoint`
    /// (recurrent variants also `snapshot`, which this scenario does not apply).
    static func prefixRoles(_ v: StudyConfig.VariantSpec) throws -> [Role] {
        KVRuns.isSoftmax(v) ? SoftmaxAttentionConfig.roles + [.checkpoint] : try VariantFactory.roles(v) + [.checkpoint, .snapshot]
    }

    /// The checkpoint a branch at p resumes from (0: none, recompute from the start).
    public static func checkpoint(branch p: Int, prefix P: Int, interval I: Int, mode: Mode) -> Int {
        switch mode {
        case .all: return (p / I) * I
        case .last:
            let last = (P / I) * I
            return last <= p ? last : 0
        }
    }

    /// The branch points of `requests` continuations: counter-based, in [⌈P/2⌉, P] (requests
    /// share at least half of the prefix), sorted.
    public static func branches(requests n: Int, prefix P: Int, seed: UInt64) -> [Int] {
        let rnd = CounterRandom(seed: seed, role: "prefix_cache.branches")
        let lo = (P + 1) / 2
        return (0..<n).map { lo + Int(rnd.bits($0) % UInt32(P - lo + 1)) }.sorted()
    }

    /// One (variant, recipe, interval, mode, seed) record. Per continuation j (positions =
    /// branch points): `resumed_err` — mean output error over its continuation tokens against
    /// the exact run; `uncheckpointed_err` — the same for the low-precision run that never
    /// went through a checkpoint; `checkpoint_delta` — mean distance between the two (the
    /// checkpoint's own effect); `checkpoint_at` — c_j.
    public static func run(
        variant v: StudyConfig.VariantSpec, recipeName: String, recipe: Recipe, tier: BackendTier,
        interval I: Int, mode: Mode, seed: UInt64, config c: ScenarioConfig
    ) throws -> ScenarioRecord {
        let P = c.tokens[0], L = c.continuation
        let T = P + L
        var record = ScenarioRecord(
            scenario: "prefix_cache", memory: instanceLabel(v), recipeName: recipeName, recipe: RecipeResolver.canonical(recipe),
            parameters: ["prefix": P, "continuation": L, "interval": I, "requests": c.requests], labels: ["mode": mode.rawValue],
            seed: seed, tokens: T)
        let kernel = ScenarioRuns.kernelRecipe(recipe)
        let branches = branches(requests: c.requests, prefix: P, seed: seed)
        let resumes = branches.map { checkpoint(branch: $0, prefix: P, interval: I, mode: mode) }
        // The exact run, the uncheckpointed low-precision run and one run per continuation, in
        // lockstep; continuation j stops at its end, and its state goes through the checkpoint
        // round trip where it resumes (cj = 0: it recomputes the prefix from the start).
        var made = [try ScenarioRuns.make(v, seed: seed, tokens: T, tier: .float64, recipe: .exact)]
        made.append(try ScenarioRuns.make(v, seed: seed, tokens: T, tier: tier, recipe: kernel))
        for _ in branches { made.append(try ScenarioRuns.make(v, seed: seed, tokens: T, tier: tier, recipe: kernel)) }
        let ends = [T, T] + branches.map { min($0 + L, T) }
        let engine = LockstepEngine(runs: made.indices.map { SteppedBlockRun(made[$0].run, until: ends[$0]) }, maxBlock: BlockRuns.maxBlock)
        var e = [Double](repeating: 0, count: branches.count), ep = e, d = e
        var buffer = [Double](repeating: 0, count: made[0].run.stateCount)
        engine.run(tokens: T, endsAt: { t in resumes.contains(t + 1) }, atBlockStart: { t in
            for (j, cj) in resumes.enumerated() where cj > 0 && cj == t {
                let (run, rows, cols) = made[j + 2]
                ScenarioRuns.roundState(run, through: recipe[.checkpoint], rows: rows, cols: cols, buffer: &buffer,
                                        random: CounterRandom(seed: seed, role: "checkpoint", head: j, step: cj))
            }
        }, measure: { start, n in
            for i in 0..<n {
                let t = start + i, exact = engine.row(0, i), low = engine.row(1, i)
                for (j, p) in branches.enumerated() where t >= p && t < ends[j + 2] {
                    let o = engine.row(j + 2, i)
                    e[j] += ScenarioRuns.relativeError(exact, o)
                    d[j] += ScenarioRuns.relativeError(low, o)
                    ep[j] += ScenarioRuns.relativeError(exact, low)
                }
            }
        })
        var tally = BranchTally()
        for (j, p) in branches.enumerated() {
            if resumes[j] > 0 { tally.hits += 1 }
            let count = Double(ends[j + 2] - p)
            tally.add(resumed: e[j] / count, uncheckpointed: ep[j] / count, delta: d[j] / count, at: resumes[j])
        }
        tally.write(to: &record, branches: branches)
        return record
    }

    /// A variant instance's label (name plus shape overrides).
    static func instanceLabel(_ v: StudyConfig.VariantSpec) -> String {
        v.preset == "default" ? v.name : "\(v.name) (\(v.preset))"
    }

    static func plan(_ c: ScenarioConfig) throws -> [(String, @Sendable () throws -> ScenarioRecord)] {
        var out: [(String, @Sendable () throws -> ScenarioRecord)] = []
        let memo = Delethink.Memo()
        for seed in c.seeds {
            for v in c.variants {
                let roles = try prefixRoles(v)
                var recipes: [(String, Recipe, BackendTier)] = [(TaskRunner.exactName, .exact, .float64)]
                // A recipe applies to the variants that have all its roles (the parser checked
                // that each applies to at least one).
                for spec in c.recipes {
                    if let r = try? c.recipe(spec, for: v, roles: roles) { recipes.append((spec.name, r, .float32)) }
                }
                let kv = KVRuns.isSoftmax(v)
                for (name, recipe, tier) in recipes {
                    for I in c.intervals {
                        for mode in c.modes {
                            out.append(("\(v.name)|\(name)|\(I)|\(mode)|\(seed)", {
                                kv ? try runKV(variant: v, recipeName: name, recipe: recipe, tier: tier, interval: I, mode: mode, seed: seed, config: c, memo: memo)
                                    : try run(variant: v, recipeName: name, recipe: recipe, tier: tier, interval: I, mode: mode, seed: seed, config: c)
                            }))
                        }
                    }
                }
            }
        }
        return out
    }
}
