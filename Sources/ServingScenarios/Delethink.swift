import AttentionVariants
import DriftStudy
import ExactArithmetic
import Foundation
import NumberFormats

/// Delethink-style reasoning in chunks with a carried tail (DESIGN.md §8) for softmax
/// attention: chunks of L tokens, the KV cache cut to its last m entries (plus s sink tokens)
/// at every chunk boundary (`ChunkTailSelector`).
///
/// Per (recipe, L, m, seed) one record compares, at the same positions:
/// - **storage**: the Delethink run with the recipe's cache against the exact Delethink run;
/// - **truncation**: the Delethink run against plain full attention at the same precision
///   (and, `truncation_exact_err`, both exact: what cutting the cache costs by itself);
/// - **total**: the Delethink run against exact full attention;
/// - **equal memory**: a recurrent variant whose state, square K = V = N in the recipe's
///   storage format, takes at most the bytes of the Delethink run's peak cache (N the largest
///   such), against its own exact run.
///
/// `dropped_mass` is the attention mass (query head 0, exact full attention) on the keys the
/// Delethink run no longer holds: how much the truncation removes.
public enum Delethink {
    /// Softmax variants with full attention (the run Delethink truncates).
    public static var softmaxVariants: [String] { VariantRegistry.names(with: .fullAttention) }
    /// Recurrent variants whose square state size can be set (`key_dim` = `value_dim` = N).
    public static var recurrentVariants: [String] { VariantRegistry.names(with: .equalMemory) }

    /// Output positions: log-spaced lengths (per octave) and, before each length T of the
    /// config, its last min(64, T/16) positions — the window "error at T" averages.
    public static func positions(_ c: ScenarioConfig) -> [Int] {
        var s = Set(TaskRunner.probeLengths(c, from: 1).map { $0 - 1 })
        for T in c.tokens { for t in (T - window(T))..<T { s.insert(t) } }
        return s.sorted()
    }

    static func window(_ T: Int) -> Int { max(1, min(64, T / 16)) }

    /// The equal-memory instance of `v`: K = V = N, N the largest with state bytes ≤ `bytes`
    /// in the recipe's state format (4 bytes per element at compute precision).
    public static func equalMemory(_ v: StudyConfig.VariantSpec, stateFormat: FormatSpec?, bytes: Double) -> (StudyConfig.VariantSpec, Int, Double) {
        func stateBytes(_ n: Int) -> Double {
            guard let f = stateFormat else { return 4 * Double(n * n) }
            return f.bitsPerElement(shape: [n, n]) * Double(n * n) / 8
        }
        var n = max(1, Int((bytes / 4).squareRoot()))
        while n > 1 && stateBytes(n) > bytes { n -= 1 }
        while stateBytes(n + 1) <= bytes { n += 1 }
        var e = v
        e.keyDim = n
        e.valueDim = n
        return (e, n, stateBytes(n))
    }

    /// A softmax decode run that evaluates only when asked.
    struct Probe {
        let step: () -> Void
        let evaluate: (Int) -> Void
        let read: (UnsafeMutableBufferPointer<Double>) -> Void
        let scores: () -> [Double]
        /// Non-finite elements the cache stored so far.
        let stored: () -> NonFiniteCount
        let outputCount: Int
        let bytesPerToken: Double
    }

    static func probe(_ v: StudyConfig.VariantSpec, seed: UInt64, tier: BackendTier, recipe: Recipe, selector: KeySelector?, scores: Bool = false) throws -> Probe {
        let c = try KVRuns.softmaxConfig(v, seed: seed, names: softmaxVariants)
        let bytes = c.cacheBytesPerToken(recipe: recipe)
        func wrap<B: Backend>(_ d: SoftmaxDecode<B>) -> Probe {
            d.recordScores = scores
            return Probe(step: { d.step() }, evaluate: { d.evaluate($0) }, read: { d.readOutput(into: $0) }, scores: { d.lastScores },
                         stored: { d.storedNonFinite }, outputCount: d.outputCount, bytesPerToken: bytes)
        }
        do {
            switch tier {
            case .float64: return wrap(try SoftmaxDecode(config: c, backend: Float64Backend(), recipe: recipe, selector: selector))
            case .float32: return wrap(try SoftmaxDecode(config: c, backend: Float32Backend(), recipe: recipe, selector: selector))
            default: throw StudyInputError("delethink: tier \(tier) is not used")
            }
        } catch let e as VariantError { throw StudyInputError("variant '\(v.name)': \(e)") }
    }

    /// Outputs (rows at `positions`) of a softmax run; with `scores`, query head 0's scores at
    /// each position too (full attention: all keys 0…t).
    static func softmaxOutputs(_ p: Probe, positions: [Int], scores: Bool = false) -> (outputs: [Double], scores: [[Double]]) {
        let n = p.outputCount
        var out = [Double](repeating: 0, count: positions.count * n)
        var sc: [[Double]] = []
        var t = -1
        out.withUnsafeMutableBufferPointer { b in
            for (i, pos) in positions.enumerated() {
                while t < pos { p.step(); t += 1 }
                p.evaluate(pos)
                p.read(UnsafeMutableBufferPointer(rebasing: b[i * n..<(i + 1) * n]))
                if scores { sc.append(p.scores()) }
            }
        }
        return (out, sc)
    }

    static func recurrentOutputs(_ v: StudyConfig.VariantSpec, seed: UInt64, tier: BackendTier, recipe: Recipe, positions: [Int]) throws -> [Double] {
        let run = try ScenarioRuns.make(v, seed: seed, tokens: positions.last! + 1, tier: tier, recipe: recipe).run
        let n = run.outputCount
        var out = [Double](repeating: 0, count: positions.count * n)
        var t = -1
        out.withUnsafeMutableBufferPointer { b in
            for (i, pos) in positions.enumerated() {
                while t < pos { run.step(); t += 1 }
                run.readOutput(into: UnsafeMutableBufferPointer(rebasing: b[i * n..<(i + 1) * n]))
            }
        }
        return out
    }

    /// Row-wise ‖a_i − b_i‖/‖a_i‖ (a the reference).
    static func rowErrors(_ ref: [Double], _ x: [Double], width n: Int) -> [Double] {
        x.withUnsafeBufferPointer { xb in
            (0..<(ref.count / n)).map { i in
                ScenarioRuns.relativeError(ref[i * n..<(i + 1) * n], UnsafeBufferPointer(rebasing: xb[i * n..<(i + 1) * n]))
            }
        }
    }

    /// Attention mass of exact full attention on keys `selector` drops, per position.
    static func droppedMass(_ scores: [[Double]], positions: [Int], selector: ChunkTailSelector) -> [Double] {
        var keys: [Int] = []
        return zip(positions, scores).map { t, s in
            selector.select(position: t, kvHead: 0, into: &keys)
            let m = s.max() ?? 0
            var total = 0.0, kept = 0.0
            for x in s { total += exp(x - m) }
            for k in keys { kept += exp(s[k] - m) }
            return max(0, 1 - kept / total)
        }
    }

    /// Computes each shared run (exact references, full attention per recipe) once, whichever
    /// record asks first; the values do not depend on who computes them.
    final class Memo: @unchecked Sendable {
        final class Box { let lock = NSLock(); var value: Any? }
        let lock = NSLock()
        var boxes: [String: Box] = [:]
        func get<V>(_ key: String, _ make: () throws -> V) throws -> V {
            lock.lock()
            let box = boxes[key] ?? Box()
            boxes[key] = box
            lock.unlock()
            box.lock.lock()
            defer { box.lock.unlock() }
            if let v = box.value as? V { return v }
            let v = try make()
            box.value = v
            return v
        }
    }

    /// One (softmax variant, recipe, chunk L, tail m, seed) record.
    static func run(
        variant v: StudyConfig.VariantSpec, recipeName: String, spec: StudyConfig.RecipeSpec?, chunk L: Int, tail m: Int, seed: UInt64,
        config c: ScenarioConfig, memo: Memo
    ) throws -> ScenarioRecord {
        let positions = positions(c)
        let T = c.tokens.last!
        let s = c.sinks
        let selector = try ChunkTailSelector(chunk: L, tail: m, sinks: s)
        let exactTier = BackendTier.float64
        var recurrent = c.equalMemory.map { (v: $0, recipe: Recipe.exact) }
        var softmaxRecipe = Recipe.exact
        var tier = exactTier
        if let spec {
            tier = .float32
            softmaxRecipe = try RecipeResolver.resolve(spec, inputs: nil, roles: SoftmaxAttentionConfig.roles, variant: v.name)
            for i in recurrent.indices {
                recurrent[i].recipe = try RecipeResolver.resolve(spec, inputs: nil, roles: try VariantFactory.roles(recurrent[i].v), variant: recurrent[i].v.name)
            }
        }
        // The record's recipe: the cache roles, and the state format the equal-memory runs use.
        var canonical = RecipeResolver.canonical(softmaxRecipe)
        if let st = recurrent.first?.recipe[.state] { canonical["state"] = st.spec }
        var record = ScenarioRecord(
            scenario: "delethink", memory: ScenarioRuns.instanceLabel(v), recipeName: recipeName, recipe: canonical,
            parameters: ["chunk": L, "tail": m, "sinks": s], labels: ["equal_memory": c.equalMemory.map(ScenarioRuns.instanceLabel).joined(separator: ",")],
            seed: seed, tokens: T)
        let vk = "\(v.name)|\(v.preset)|\(seed)"
        let fullExact = try memo.get("full-exact|\(vk)") {
            softmaxOutputs(try probe(v, seed: seed, tier: exactTier, recipe: .exact, selector: nil, scores: true), positions: positions, scores: true)
        }
        let dtExact: [Double] = try memo.get("delethink-exact|\(vk)|\(L)|\(m)|\(s)") {
            softmaxOutputs(try probe(v, seed: seed, tier: exactTier, recipe: .exact, selector: selector), positions: positions).outputs
        }
        let lowProbe = try probe(v, seed: seed, tier: tier, recipe: softmaxRecipe, selector: selector)
        let n = lowProbe.outputCount
        let dtLow = spec == nil ? dtExact : softmaxOutputs(lowProbe, positions: positions).outputs
        let fullLow: (outputs: [Double], stored: NonFiniteCount) = spec == nil ? (fullExact.outputs, NonFiniteCount()) : try memo.get("full-low|\(vk)|\(recipeName)") {
            let p = try probe(v, seed: seed, tier: tier, recipe: softmaxRecipe, selector: nil)
            return (softmaxOutputs(p, positions: positions).outputs, p.stored())
        }
        var series: [String: [Double]] = [
            "storage_err": rowErrors(dtExact, dtLow, width: n),
            "truncation_err": rowErrors(fullLow.outputs, dtLow, width: n),
            "truncation_exact_err": rowErrors(fullExact.outputs, dtExact, width: n),
            "total_err": rowErrors(fullExact.outputs, dtLow, width: n),
            "full_storage_err": rowErrors(fullExact.outputs, fullLow.outputs, width: n),
            "dropped_mass": droppedMass(fullExact.scores, positions: positions, selector: selector),
            "cache_entries": positions.map { Double(selector.cachedEntries(position: $0)) },
        ]
        let bytesPerToken = lowProbe.bytesPerToken
        let peakBytes = bytesPerToken * Double(selector.peakEntries(through: T - 1))
        var summary: [String: Double] = ["bytes_per_token": bytesPerToken, "cache_bytes_peak": peakBytes]
        for (rv, rr) in recurrent {
            let (inst, N, stateBytes) = equalMemory(rv, stateFormat: try rr[.state].map { try FormatSpec.parse($0.spec) }, bytes: peakBytes)
            let label = ScenarioRuns.instanceLabel(rv)
            let ref = try memo.get("recurrent-exact|\(inst.name)|\(inst.preset)|\(N)|\(seed)") {
                try recurrentOutputs(inst, seed: seed, tier: exactTier, recipe: .exact, positions: positions)
            }
            let low = spec == nil ? ref : try recurrentOutputs(inst, seed: seed, tier: tier, recipe: rr, positions: positions)
            series["equal_\(label)_err"] = rowErrors(ref, low, width: ref.count / positions.count)
            summary["equal_\(label)_dim"] = Double(N)
            summary["equal_\(label)_bytes"] = stateBytes
        }
        for T in c.tokens {
            let idx = positions.indices.filter { positions[$0] >= T - window(T) && positions[$0] < T }
            for (name, values) in series where name != "cache_entries" {
                summary["\(name)_at_\(T)"] = idx.reduce(0.0) { $0 + values[$1] } / Double(idx.count)
            }
            summary["cache_bytes_at_\(T)"] = bytesPerToken * Double(selector.cachedEntries(position: T - 1))
            summary["cache_bytes_peak_at_\(T)"] = bytesPerToken * Double(selector.peakEntries(through: T - 1))
            summary["full_cache_bytes_at_\(T)"] = bytesPerToken * Double(T)
        }
        record.positions = positions
        record.series = series
        record.summary = summary
        // Non-finite cache stores of the Delethink run and of full attention at the same
        // precision (every position, whether the record samples it or not).
        if spec != nil { KVRuns.noteStored(lowProbe.stored().merged(fullLow.stored), into: &record) }
        return record
    }

    static func plan(_ c: ScenarioConfig) throws -> [(String, @Sendable () throws -> ScenarioRecord)] {
        let memo = Memo()
        var out: [(String, @Sendable () throws -> ScenarioRecord)] = []
        for seed in c.seeds {
            for v in c.variants {
                var recipes: [(String, StudyConfig.RecipeSpec?)] = [(TaskRunner.exactName, nil)]
                for spec in c.recipes { recipes.append((spec.name, spec)) }
                for (name, spec) in recipes {
                    for L in c.chunks {
                        for m in c.tails {
                            out.append(("\(v.name)|\(name)|\(L)|\(m)|\(seed)", {
                                try run(variant: v, recipeName: name, spec: spec, chunk: L, tail: m, seed: seed, config: c, memo: memo)
                            }))
                        }
                    }
                }
            }
        }
        return out
    }
}
