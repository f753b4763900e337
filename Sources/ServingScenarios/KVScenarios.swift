import AttentionVariants
import DriftStudy
import ExactArithmetic
import Foundation
import NumberFormats
import Workloads

/// Softmax (KV-cache) runs for the serving scenarios: the cache entries play the part a
/// recurrent state plays (a checkpoint of the prefix's entries, a rollback that drops drafted
/// entries). A `store:` recipe stores both caches (`k_cache`, `v_cache`).
enum KVRuns {
    static func isSoftmax(_ v: StudyConfig.VariantSpec) -> Bool { VariantRegistry.definition(v.name)?.capabilities.contains(.kvCache) ?? false }

    /// A softmax decode run that evaluates only when asked.
    final class Run {
        let step: () -> Void
        let evaluate: (Int) -> Void
        let read: (UnsafeMutableBufferPointer<Double>) -> Void
        let restore: (Int, (Role, Int, UnsafeMutableBufferPointer<Double>, Int) -> Void) -> Void
        let rollback: (Int) -> Void
        let cacheError: () -> Double
        let cacheBytes: () -> Int
        let canRollback: Bool
        let outputCount: Int
        let kvHeads: Int

        init<B: Backend>(_ d: SoftmaxDecode<B>) {
            step = { d.step() }
            evaluate = { d.evaluate($0) }
            read = { d.readOutput(into: $0) }
            restore = { d.restorePrefix(count: $0, store: $1) }
            rollback = { d.rollback(to: $0) }
            cacheError = { d.cacheRelativeError }
            cacheBytes = { d.cacheBytes }
            canRollback = d.canRollback
            outputCount = d.outputCount
            kvHeads = d.config.kvHeads
        }
    }

    /// The variant's kernel recipe: every role of `recipe` but the scenario's own
    /// (`checkpoint`, `snapshot`).
    static func kernelRecipe(_ r: Recipe) -> Recipe {
        var k = Recipe()
        for role in r.roles where role != .checkpoint && role != .snapshot { k[role] = r[role] }
        return k
    }

    /// A scenario's softmax variant: resolved, with the study's evaluation schedule off (the
    /// scenario evaluates the positions it needs) and checked; `names` are the accepted ones.
    static func softmaxConfig(
        _ v: StudyConfig.VariantSpec, seed: UInt64, names: [String] = SoftmaxCatalog.names
    ) throws -> SoftmaxAttentionConfig {
        guard let s = try VariantFactory.instance(v, seed: seed) as? SoftmaxInstance else {
            throw StudyInputError("variant '\(v.name)': expected a softmax variant (\(names.joined(separator: ", ")))")
        }
        var c = s.config
        c.evaluation = EvaluationSchedule(dense: 0, perOctave: 0, stride: 0, last: nil)
        try s.definition.check(c)
        return c
    }

    static func make(_ v: StudyConfig.VariantSpec, seed: UInt64, tier: BackendTier, recipe: Recipe) throws -> Run {
        let c = try softmaxConfig(v, seed: seed)
        do {
            switch tier {
            case .float64: return Run(try SoftmaxDecode(config: c, backend: Float64Backend(), recipe: recipe))
            case .float32: return Run(try SoftmaxDecode(config: c, backend: Float32Backend(), recipe: recipe))
            default: throw StudyInputError("scenario: tier \(tier) is not used")
            }
        } catch let e as VariantError { throw StudyInputError("variant '\(v.name)': \(e)") }
    }

    /// Outputs of positions `from`..<`tokens` of an uninterrupted run, row-major.
    static func outputs(_ run: Run, from lo: Int, tokens T: Int) -> [Double] {
        let n = run.outputCount
        var out = [Double](repeating: 0, count: (T - lo) * n)
        out.withUnsafeMutableBufferPointer { b in
            for t in 0..<T {
                run.step()
                if t >= lo {
                    run.evaluate(t)
                    run.read(UnsafeMutableBufferPointer(rebasing: b[(t - lo) * n..<(t - lo + 1) * n]))
                }
            }
        }
        return out
    }
}

extension PrefixCache {
    /// One (softmax variant, recipe, interval, mode, seed) record, with the same series and
    /// summary as `run`: what is checkpointed is the KV cache of the prefix. A continuation
    /// branching at p resumes from the checkpoint at c ≤ p — the cache entries 0..<c as the live
    /// cache held them, stored in the `checkpoint` format (one count × width block per KV head
    /// and stream, so per-token scales are per entry and per-head scales span the block) — then
    /// appends the entries c…p and its own in the live cache format (`k_cache`, `v_cache`).
    static func runKV(
        variant v: StudyConfig.VariantSpec, recipeName: String, recipe: Recipe, tier: BackendTier,
        interval I: Int, mode: Mode, seed: UInt64, config c: ScenarioConfig, memo: Delethink.Memo
    ) throws -> ScenarioRecord {
        let P = c.tokens[0], L = c.continuation
        let T = P + L, lo = (P + 1) / 2
        var record = ScenarioRecord(
            scenario: "prefix_cache", memory: instanceLabel(v), recipeName: recipeName, recipe: RecipeResolver.canonical(recipe),
            parameters: ["prefix": P, "continuation": L, "interval": I, "requests": c.requests], labels: ["mode": mode.rawValue],
            seed: seed, tokens: T)
        let kernel = KVRuns.kernelRecipe(recipe)
        let key = "\(instanceLabel(v))|\(seed)"
        let exact = try memo.get("exact|\(key)") { KVRuns.outputs(try KVRuns.make(v, seed: seed, tier: .float64, recipe: .exact), from: lo, tokens: T) }
        let low = try memo.get("low|\(key)|\(recipeName)") { KVRuns.outputs(try KVRuns.make(v, seed: seed, tier: tier, recipe: kernel), from: lo, tokens: T) }
        let branches = branches(requests: c.requests, prefix: P, seed: seed)
        var tally = BranchTally()
        var firstQuarter = 0.0, lastQuarter = 0.0
        let n0 = exact.count / (T - lo)
        for p in branches {
            let cj = checkpoint(branch: p, prefix: P, interval: I, mode: mode)
            if cj == 0 {
                // No checkpoint: the continuation recomputes the prefix and is the uncheckpointed
                // run itself (same kernel, same inputs, outputs bit for bit; evaluating a position
                // leaves no state behind).
                var ep = 0.0
                for t in p..<min(p + L, T) {
                    let r = (t - lo) * n0..<(t - lo + 1) * n0
                    low.withUnsafeBufferPointer { lb in ep += ScenarioRuns.relativeError(exact[r], UnsafeBufferPointer(rebasing: lb[r])) }
                }
                let count = Double(min(p + L, T) - p)
                tally.add(resumed: ep / count, uncheckpointed: ep / count, delta: 0, at: 0)
                continue
            }
            let run = try KVRuns.make(v, seed: seed, tier: tier, recipe: kernel)
            let n = run.outputCount
            var o = [Double](repeating: 0, count: n)
            for _ in 0..<cj { run.step() }
            do {
                tally.hits += 1
                // The pool holds one copy of the checkpoint at cj, shared by every request that
                // resumes from it (stochastic rounding draws the same bits for all of them).
                let q = recipe[.checkpoint]
                run.restore(cj) { role, g, rows, width in
                    q?.store(rows, rows: cj, cols: width, random: CounterRandom(seed: seed, role: "checkpoint.\(role.rawValue)", head: g, step: cj))
                }
            }
            for _ in cj..<p { run.step() }
            var e = 0.0, ep = 0.0, d = 0.0
            let quarter = max(1, (min(p + L, T) - p) / 4)
            for t in p..<T where t < p + L {
                run.step()
                run.evaluate(t)
                o.withUnsafeMutableBufferPointer { run.read($0) }
                let r = (t - lo) * n..<(t - lo + 1) * n
                o.withUnsafeBufferPointer { ob in
                    e += ScenarioRuns.relativeError(exact[r], ob)
                    let x = ScenarioRuns.relativeError(low[r], ob)
                    d += x
                    if t - p < quarter { firstQuarter += x / Double(quarter * branches.count) }
                    if t >= min(p + L, T) - quarter { lastQuarter += x / Double(quarter * branches.count) }
                }
                low.withUnsafeBufferPointer { lb in ep += ScenarioRuns.relativeError(exact[r], UnsafeBufferPointer(rebasing: lb[r])) }
            }
            let count = Double(min(p + L, T) - p)
            tally.add(resumed: e / count, uncheckpointed: ep / count, delta: d / count, at: cj)
        }
        tally.write(to: &record, branches: branches)
        // The checkpoint's effect early and late in the continuations: whether it grows with
        // the continuation length.
        record.summary["checkpoint_delta_first_quarter"] = firstQuarter
        record.summary["checkpoint_delta_last_quarter"] = lastQuarter
        return record
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
            scenario: "speculative", memory: PrefixCache.instanceLabel(v), recipeName: recipeName, recipe: RecipeResolver.canonical(recipe),
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
        return record
    }
}

extension Handoff {
    /// One (softmax variant, recipe, seed) record with the series and summary of `run`: the
    /// first P tokens run through the chunked form (`SoftmaxPrefill`, FlashAttention-2 blocks
    /// of 64, the chunk appended to the caches at once), then the decode form takes over the
    /// same caches — nothing is copied or re-rounded at the handoff, the kernels change. The
    /// decode and exact runs are evaluated at the recorded positions, the window around the
    /// handoff and the last 64 tokens. `handoff_state_err` is the handed-over cache's error
    /// ‖Ĉ − C‖/‖C‖.
    static func runKV(
        variant v: StudyConfig.VariantSpec, recipeName: String, recipe: Recipe, tier: BackendTier, seed: UInt64, config c: ScenarioConfig
    ) throws -> ScenarioRecord {
        let sc = try KVRuns.softmaxConfig(v, seed: seed)
        do {
            switch tier {
            case .float64: return try kvBody(v, sc, backend: { Float64Backend() }, recipeName: recipeName, recipe: recipe, seed: seed, config: c)
            case .float32: return try kvBody(v, sc, backend: { Float32Backend() }, recipeName: recipeName, recipe: recipe, seed: seed, config: c)
            default: throw StudyInputError("handoff: tier \(tier) is not used")
            }
        } catch let e as VariantError { throw StudyInputError("variant '\(v.name)': \(e)") }
    }

    static func kvBody<B: Backend>(
        _ v: StudyConfig.VariantSpec, _ sc: SoftmaxAttentionConfig, backend: () -> B, recipeName: String, recipe: Recipe, seed: UInt64,
        config c: ScenarioConfig
    ) throws -> ScenarioRecord {
        let P = c.prefill, T = c.prefill + c.continuation
        var record = ScenarioRecord(
            scenario: "handoff", memory: PrefixCache.instanceLabel(v), recipeName: recipeName, recipe: RecipeResolver.canonical(recipe),
            parameters: ["prefill": P, "decode": c.continuation, "chunk": chunkSize], seed: seed, tokens: T)
        let exact = try KVRuns.make(v, seed: seed, tier: .float64, recipe: .exact)
        let decodeOnly = try SoftmaxDecode(config: sc, backend: backend(), recipe: recipe)
        let prefill = try SoftmaxPrefill(config: sc, backend: backend(), recipe: recipe)
        let prefillOnly = try SoftmaxPrefill(config: sc, backend: backend(), recipe: recipe)
        precondition(prefill.chunk == chunkSize)
        var decoder: SoftmaxDecode<B>?
        let n = exact.outputCount
        var oe = [Double](repeating: 0, count: n), o = oe
        var tally = HandoffTally(prefill: P, tokens: T)
        func err(_ read: (UnsafeMutableBufferPointer<Double>) -> Void) -> Double {
            o.withUnsafeMutableBufferPointer { read($0) }
            return o.withUnsafeBufferPointer { ScenarioRuns.relativeError(oe[...], $0) }
        }
        for t in 0..<T {
            exact.step(); decodeOnly.step(); prefillOnly.step()
            if t < P { prefill.step() } else { decoder!.step() }
            if t == P - 1 {
                decoder = prefill.handOff()
                record.summary["handoff_state_err"] = decoder!.cacheRelativeError
            }
            let rec = recorded(t, prefill: P, tokens: T), inWindow = t >= P - window && t < P + window, inEnd = t >= T - 64
            guard rec || inWindow || inEnd else { continue }
            exact.evaluate(t)
            oe.withUnsafeMutableBufferPointer { exact.read($0) }
            let h: Double
            if t < P {
                h = err { prefill.readOutput(into: $0) }
            } else {
                decoder!.evaluate(t)
                h = err { decoder!.readOutput(into: $0) }
            }
            decodeOnly.evaluate(t)
            let d = err { decodeOnly.readOutput(into: $0) }, p = err { prefillOnly.readOutput(into: $0) }
            tally.add(t, handoff: h, decodeOnly: d, prefillOnly: p)
        }
        tally.write(to: &record)
        return record
    }
}
