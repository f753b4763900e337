import AttentionVariants
import DriftStudy
import ExactArithmetic
import NumberFormats

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
            scenario: "prefix_cache", memory: ScenarioRuns.instanceLabel(v), recipeName: recipeName, recipe: RecipeResolver.canonical(recipe),
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

    /// The work of a config: a recurrent variant's records one by one; a softmax variant's
    /// (interval, mode) records of one recipe and seed together, sharing the exact and the
    /// uncheckpointed run.
    static func plan(_ c: ScenarioConfig) throws -> [(String, @Sendable () throws -> [ScenarioRecord])] {
        var out: [(String, @Sendable () throws -> [ScenarioRecord])] = []
        for seed in c.seeds {
            for v in c.variants {
                let roles = try prefixRoles(v)
                var recipes: [(String, Recipe, BackendTier)] = [(TaskRunner.exactName, .exact, .float64)]
                // A recipe applies to the variants that have all its roles (the parser checked
                // that each applies to at least one).
                for spec in c.recipes {
                    if let r = try? c.recipe(spec, for: v, roles: roles) { recipes.append((spec.name, r, .float32)) }
                }
                for (name, recipe, tier) in recipes {
                    if KVRuns.isSoftmax(v) {
                        let cases = c.intervals.flatMap { I in c.modes.map { (interval: I, mode: $0) } }
                        out.append(("\(v.name)|\(name)|\(seed)", {
                            try runKV(variant: v, recipeName: name, recipe: recipe, tier: tier, cases: cases, seed: seed, config: c)
                        }))
                        continue
                    }
                    for I in c.intervals {
                        for mode in c.modes {
                            out.append(("\(v.name)|\(name)|\(I)|\(mode)|\(seed)", {
                                [try run(variant: v, recipeName: name, recipe: recipe, tier: tier, interval: I, mode: mode, seed: seed, config: c)]
                            }))
                        }
                    }
                }
            }
        }
        return out
    }
}

extension PrefixCache {
    /// The (softmax variant, recipe, seed) records of every (interval, mode) in `cases`, with
    /// the same series and summary as `run`: what is checkpointed is the KV cache of the
    /// prefix. A continuation branching at p resumes from the checkpoint at c ≤ p — the cache
    /// entries 0..<c as the live cache held them, stored in the `checkpoint` format (one
    /// count × width block per KV head and stream, so per-token scales are per entry and
    /// per-head scales span the block) — then appends the entries c…p and its own in the live
    /// cache format (`k_cache`, `v_cache`).
    ///
    /// The exact run, the uncheckpointed low-precision run (shared by the cases) and one run
    /// per continuation that resumes from a checkpoint advance in lockstep on the engine; the
    /// errors are summed as the positions are produced (no output is kept). A continuation
    /// without a checkpoint recomputes the prefix and is the uncheckpointed run itself (same
    /// kernel, same inputs, outputs bit for bit; evaluating a position leaves no state behind).
    static func runKV(
        variant v: StudyConfig.VariantSpec, recipeName: String, recipe: Recipe, tier: BackendTier,
        cases: [(interval: Int, mode: Mode)], seed: UInt64, config c: ScenarioConfig
    ) throws -> [ScenarioRecord] {
        let P = c.tokens[0], L = c.continuation
        let T = P + L, lo = (P + 1) / 2
        let kernel = KVRuns.kernelRecipe(recipe)
        let branches = branches(requests: c.requests, prefix: P, seed: seed)
        let ends = branches.map { min($0 + L, T) }
        let resumes = cases.map { k in branches.map { checkpoint(branch: $0, prefix: P, interval: k.interval, mode: k.mode) } }
        // Every resumed continuation as (case, branch), case by case, branches in order.
        let resumed = cases.indices.flatMap { k in branches.indices.filter { resumes[k][$0] > 0 }.map { (k, $0) } }
        let made = try resumed.map { _ in try KVRuns.make(v, seed: seed, tier: tier, recipe: kernel) }
        var runs: [BlockRun] = [
            KVBlockRun(try KVRuns.make(v, seed: seed, tier: .float64, recipe: .exact)) { $0 >= lo },
            KVBlockRun(try KVRuns.make(v, seed: seed, tier: tier, recipe: kernel)) { $0 >= lo },
        ]
        for (r, (_, j)) in resumed.enumerated() {
            let p = branches[j]
            runs.append(KVBlockRun(made[r], until: ends[j]) { $0 >= p })
        }
        let checkpoints = Set(resumed.map { resumes[$0.0][$0.1] })
        let engine = LockstepEngine(runs: runs, maxBlock: BlockRuns.maxBlock)
        var sums = BranchSums(branches: branches.count, resumed: resumed.count)
        engine.run(tokens: T, endsAt: { checkpoints.contains($0 + 1) }, atBlockStart: { t in
            for (r, (k, j)) in resumed.enumerated() where resumes[k][j] == t {
                // The pool holds one copy of the checkpoint at t, shared by every request that
                // resumes from it (stochastic rounding draws the same bits for all of them).
                made[r].restore(t) { role, g, rows, width in
                    recipe[.checkpoint]?.store(rows, rows: t, cols: width, random: CounterRandom(seed: seed, role: "checkpoint.\(role.rawValue)", head: g, step: t))
                }
            }
        }, measure: { start, n in
            for i in 0..<n {
                let t = start + i, exact = engine.row(0, i), low = engine.row(1, i)
                for (j, p) in branches.enumerated() where t >= p && t < ends[j] { sums.plain[j] += ScenarioRuns.relativeError(exact, low) }
                for (r, (_, j)) in resumed.enumerated() where t >= branches[j] && t < ends[j] {
                    let o = engine.row(r + 2, i), p = branches[j], quarter = max(1, (ends[j] - p) / 4)
                    sums.resumed[r] += ScenarioRuns.relativeError(exact, o)
                    let x = ScenarioRuns.relativeError(low, o)
                    sums.delta[r] += x
                    if t - p < quarter { sums.first[r].append(x / Double(quarter * branches.count)) }
                    if t >= ends[j] - quarter { sums.last[r].append(x / Double(quarter * branches.count)) }
                }
            }
        })
        return cases.indices.map { k in
            var record = ScenarioRecord(
                scenario: "prefix_cache", memory: ScenarioRuns.instanceLabel(v), recipeName: recipeName, recipe: RecipeResolver.canonical(recipe),
                parameters: ["prefix": P, "continuation": L, "interval": cases[k].interval, "requests": c.requests],
                labels: ["mode": cases[k].mode.rawValue], seed: seed, tokens: T)
            sums.write(to: &record, branches: branches, ends: ends, resumes: resumes[k], mine: resumed.indices.filter { resumed[$0].0 == k })
            KVRuns.noteStored(runs[1], into: &record)
            return record
        }
    }
}

/// The sums of a group of KV prefix-cache records: per branch the uncheckpointed run's error
/// (the same for every case), per resumed continuation its error, its distance from the
/// uncheckpointed run and the terms of that distance's quarter means.
struct BranchSums {
    var plain: [Double]
    var resumed: [Double], delta: [Double]
    var first: [[Double]], last: [[Double]]

    init(branches: Int, resumed n: Int) {
        plain = [Double](repeating: 0, count: branches)
        resumed = [Double](repeating: 0, count: n)
        delta = resumed
        first = [[Double]](repeating: [], count: n)
        last = first
    }

    /// Sets one case's record: `resumes` its checkpoint per branch, `mine` the indices of its
    /// resumed continuations (in branch order). The quarter means are summed branch by branch,
    /// the order the committed results were made with.
    func write(to record: inout ScenarioRecord, branches: [Int], ends: [Int], resumes: [Int], mine: [Int]) {
        var tally = BranchTally()
        var next = mine[...]
        for (j, p) in branches.enumerated() {
            let count = Double(ends[j] - p)
            guard resumes[j] > 0, let r = next.popFirst() else {
                tally.add(resumed: plain[j] / count, uncheckpointed: plain[j] / count, delta: 0, at: 0)
                continue
            }
            tally.hits += 1
            tally.add(resumed: resumed[r] / count, uncheckpointed: plain[j] / count, delta: delta[r] / count, at: resumes[j])
        }
        tally.write(to: &record, branches: branches)
        // The checkpoint's effect early and late in the continuations: whether it grows with
        // the continuation length.
        record.summary["checkpoint_delta_first_quarter"] = mine.flatMap { first[$0] }.reduce(0.0, +)
        record.summary["checkpoint_delta_last_quarter"] = mine.flatMap { last[$0] }.reduce(0.0, +)
    }
}

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
