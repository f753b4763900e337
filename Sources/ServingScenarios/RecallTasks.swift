import AttentionVariants
import DriftStudy
import ExactArithmetic
import Foundation
import NumberFormats
import Workloads

/// A memory a procedural task writes into: one head of a real decode kernel (DeltaNet with
/// β = 1, or undecayed linear attention), driven on task inputs instead of generated ones, its
/// state stored through the recipe at every step exactly as in the study.
public final class TaskMemory {
    public enum Kind: String, CaseIterable, Sendable { case deltanet, linear }

    public let kind: Kind
    public let run: SteppedRun
    let write: ([Double], [Double]) -> Void

    /// A K×V memory on `tier` (Float64 for the exact run, Float32 — the compute precision of
    /// real kernels — for emulated ones).
    public init(kind: Kind, keyDim: Int, valueDim: Int, tier: BackendTier, recipe: Recipe, seed: UInt64) throws {
        self.kind = kind
        func make<B: Backend>(_ b: B) throws -> (SteppedRun, ([Double], [Double]) -> Void) {
            switch kind {
            case .deltanet:
                let c = DeltaRuleConfig(kind: .deltanet, keyDim: keyDim, valueDim: valueDim, seed: seed, gates: DeltaGates.none,
                                        beta: .constant(1), scale: 1, l2NormalizeQK: false)
                let r = try DeltaRuleDecode(config: c, backend: b, recipe: recipe)
                return (r, { k, v in r.step(q: k, k: k, v: v, beta: 1) })
            case .linear:
                let c = LinearAttentionConfig(keyDim: keyDim, valueDim: valueDim, seed: seed, scale: 1)
                let r = LinearAttentionDecode(config: c, backend: b, recipe: recipe)
                return (r, { k, v in r.step(q: k, k: k, v: v) })
            }
        }
        switch tier {
        case .float64: (run, write) = try make(Float64Backend())
        case .float32: (run, write) = try make(Float32Backend())
        default: throw StudyInputError("task memories run on float64 or float32, not \(tier)")
        }
    }

    /// Writes the pair (k, v): one decode step.
    public func store(key: [Double], value: [Double]) { write(key, value) }

    /// The stored state (K×V, row-major).
    public func readState(into out: inout [Double]) {
        out.withUnsafeMutableBufferPointer { run.readState(into: $0) }
    }
}

/// Runs the procedural tasks (DESIGN.md §6): MQAR and the counter.
public enum TaskRunner {
    /// The recipe name of the exact Float64 run every task config includes.
    public static let exactName = "exact-float64"

    /// The recipes of `config`, the exact Float64 run first.
    static func recipes(_ config: ScenarioConfig) throws -> [(name: String, recipe: Recipe, tier: BackendTier)] {
        var out: [(String, Recipe, BackendTier)] = [(exactName, Recipe.exact, .float64)]
        for spec in config.recipes { out.append((spec.name, try config.recipe(spec).fast, .float32)) }
        return out
    }

    /// Positions (lengths) where a task is probed: the config's lengths plus `perOctave` per
    /// doubling from `from` to the longest.
    static func probeLengths(_ config: ScenarioConfig, from: Int) -> [Int] {
        var s = Set(config.tokens)
        let T = config.tokens.last!
        var x = Double(max(from, 1))
        while x < Double(T) {
            s.insert(Int(x.rounded()))
            x *= pow(2, 1 / Double(config.perOctave))
        }
        return s.filter { $0 >= from && $0 <= T }.sorted()
    }

    /// Row `row` of the Sylvester Hadamard matrix of order K, divided by √K (orthonormal rows;
    /// exact in binary when K is a power of four).
    public static func hadamardKey(row: Int, dimension K: Int) -> [Double] {
        let r = 1 / Double(K).squareRoot()
        return (0..<K).map { (row & $0).nonzeroBitCount % 2 == 0 ? r : -r }
    }

    /// A permutation of 0..<n from the seed (Fisher–Yates on counter-based bits).
    static func permutation(_ n: Int, seed: UInt64, stream: String) -> [Int] {
        var p = Array(0..<n)
        let rnd = CounterRandom(seed: seed, role: stream)
        for i in stride(from: n - 1, to: 0, by: -1) {
            let j = Int(rnd.bits(i) % UInt32(i + 1))
            p.swapAt(i, j)
        }
        return p
    }

    // MARK: Recall helpers

    /// M Gaussian codewords of dimension V scaled to norm √V (so argmax ⟨o, c⟩ is the nearest
    /// word), Float32-representable.
    static func codebook(seed: UInt64, dimension V: Int, words M: Int) -> [[Double]] {
        let cg = InputGenerator(seed: seed, stream: "mqar.codebook", dimension: V)
        var codebook = [[Double]](repeating: [Double](repeating: 0, count: V), count: M)
        for j in 0..<M {
            codebook[j].withUnsafeMutableBufferPointer { cg.fill($0, head: 0, position: j) }
            let norm = codebook[j].reduce(0) { $0 + $1 * $1 }.squareRoot()
            codebook[j] = codebook[j].map { Float(Double(V).squareRoot() * $0 / norm) }.map(Double.init)
        }
        return codebook
    }

    /// o = Sᵀk for a K×V row-major state.
    static func readout(_ state: [Double], key: [Double], into o: inout [Double]) {
        let V = o.count
        for b in 0..<V { o[b] = 0 }
        for a in key.indices {
            let ka = key[a]
            for b in 0..<V { o[b] += ka * state[a * V + b] }
        }
    }

    /// The recall decision argmax_j ⟨o, c_j⟩ (ties to the lower index); nil when any score is
    /// NaN (a NaN never passes as a decision).
    static func decide(_ o: [Double], _ codebook: [[Double]]) -> Int? {
        var best = -1, bestScore = -Double.infinity
        for (j, c) in codebook.enumerated() {
            var s = 0.0
            for b in o.indices { s += o[b] * c[b] }
            if s.isNaN { return nil }
            if s > bestScore { bestScore = s; best = j }
        }
        return best
    }

    // MARK: MQAR

    /// The MQAR task of one (memory, pairs, seed).
    ///
    /// Pairs i < n are written first (key: Hadamard row perm[i]; value: codeword idx_i of a
    /// Gaussian codebook whose words have norm √V); every later token is a distractor written
    /// under one of the K − n unused keys with a fresh Gaussian value, so in exact arithmetic
    /// the pairs stay stored exactly (the delta rule overwrites only the distractor slot;
    /// linear attention adds only orthogonal terms) and any recall loss is storage error.
    /// At each probe length the stored state is read and every pair queried: o = Sᵀk_i, the
    /// decision is argmax_j ⟨o, c_j⟩ over the codebook (ties to the lower index; a NaN score is
    /// a wrong decision), accuracy = correct decisions / n. The query distance of pair i at
    /// length L is L − i.
    public static func mqar(
        memory kind: TaskMemory.Kind, pairs n: Int, seed: UInt64, recipeName: String, recipe: Recipe, tier: BackendTier,
        config c: ScenarioConfig
    ) throws -> ScenarioRecord {
        let K = c.keyDim, V = c.valueDim, M = c.codebook, T = c.tokens.last!
        precondition(n < K && n <= T)
        var record = ScenarioRecord(
            scenario: "mqar", memory: kind.rawValue, recipeName: recipeName, recipe: RecipeResolver.canonical(recipe),
            parameters: ["pairs": n, "key_dim": K, "value_dim": V, "codebook": M], seed: seed, tokens: T)
        let memory = try TaskMemory(kind: kind, keyDim: K, valueDim: V, tier: tier, recipe: recipe, seed: seed)
        let perm = permutation(K, seed: seed, stream: "mqar.keys")
        let keys = (0..<K).map { hadamardKey(row: perm[$0], dimension: K) }
        let codebook = codebook(seed: seed, dimension: V, words: M)
        let pick = CounterRandom(seed: seed, role: "mqar.values")
        let index = (0..<n).map { Int(pick.bits($0) % UInt32(M)) }
        let fg = InputGenerator(seed: seed, stream: "mqar.distractors", dimension: V)
        var filler = [Double](repeating: 0, count: V)
        let probes = probeLengths(c, from: n)
        var nextProbe = 0
        var state = [Double](repeating: 0, count: K * V)
        var accuracy: [Double] = [], readoutError: [Double] = []
        var o = [Double](repeating: 0, count: V)
        for t in 0..<T {
            if t < n {
                memory.store(key: keys[t], value: codebook[index[t]])
            } else {
                filler.withUnsafeMutableBufferPointer { fg.fill($0, head: 0, position: t) }
                memory.store(key: keys[n + (t - n) % (K - n)], value: filler)
            }
            guard nextProbe < probes.count && probes[nextProbe] == t + 1 else { continue }
            nextProbe += 1
            memory.readState(into: &state)
            var correct = 0
            var errSquares = 0.0
            for i in 0..<n {
                readout(state, key: keys[i], into: &o)
                if decide(o, codebook) == index[i] { correct += 1 }
                var d = 0.0
                for b in 0..<V { let e = o[b] - codebook[index[i]][b]; d += e * e }
                errSquares += d / Double(V)  // the codewords have squared norm V
            }
            record.positions.append(t + 1)
            accuracy.append(Double(correct) / Double(n))
            readoutError.append((errSquares / Double(n)).squareRoot())
        }
        record.series = ["accuracy": accuracy, "readout_rel_err": readoutError]
        for L in c.tokens { record.summary["accuracy_at_\(L)"] = record.value("accuracy", at: L) }
        if let i = accuracy.firstIndex(where: { !($0 >= 1) }) { record.summary["first_loss_length"] = Double(record.positions[i]) }
        return record
    }

    // MARK: Needle

    /// The needle (passkey) task at one depth: for each length L and each of `trials` needles,
    /// distractors are written under K − 1 keys, the needle (its own key, a codeword) at
    /// position ⌊depth·(L − 1)/100⌋, and at L the needle's key is queried; accuracy at L = the
    /// fraction of needles recalled (argmax over the codebook). Each trial has its own key
    /// permutation, codeword and distractor stream.
    public static func needle(
        memory kind: TaskMemory.Kind, depth: Int, seed: UInt64, recipeName: String, recipe: Recipe, tier: BackendTier, config c: ScenarioConfig
    ) throws -> ScenarioRecord {
        let K = c.keyDim, V = c.valueDim, M = c.codebook
        var record = ScenarioRecord(
            scenario: "needle", memory: kind.rawValue, recipeName: recipeName, recipe: RecipeResolver.canonical(recipe),
            parameters: ["depth": depth, "trials": c.trials, "key_dim": K, "value_dim": V, "codebook": M], seed: seed, tokens: c.tokens.last!)
        let codebook = codebook(seed: seed, dimension: V, words: M)
        var state = [Double](repeating: 0, count: K * V), o = [Double](repeating: 0, count: V), filler = o
        var accuracy: [Double] = []
        for L in c.tokens {
            let at = depth * (L - 1) / 100
            var correct = 0
            for trial in 0..<c.trials {
                let trialSeed = seed &+ UInt64(trial) &* 0x9E37_79B9_7F4A_7C15
                let memory = try TaskMemory(kind: kind, keyDim: K, valueDim: V, tier: tier, recipe: recipe, seed: trialSeed)
                let perm = permutation(K, seed: trialSeed, stream: "needle.keys")
                let needleKey = hadamardKey(row: perm[0], dimension: K)
                let index = Int(CounterRandom(seed: trialSeed, role: "needle.value").bits(0) % UInt32(M))
                let fg = InputGenerator(seed: trialSeed, stream: "needle.distractors", dimension: V)
                var d = 0
                for t in 0..<L {
                    if t == at {
                        memory.store(key: needleKey, value: codebook[index])
                    } else {
                        filler.withUnsafeMutableBufferPointer { fg.fill($0, head: 0, position: t) }
                        memory.store(key: hadamardKey(row: perm[1 + d % (K - 1)], dimension: K), value: filler)
                        d += 1
                    }
                }
                memory.readState(into: &state)
                readout(state, key: needleKey, into: &o)
                if decide(o, codebook) == index { correct += 1 }
            }
            accuracy.append(Double(correct) / Double(c.trials))
            record.summary["accuracy_at_\(L)"] = accuracy.last!
        }
        record.positions = c.tokens
        record.series = ["accuracy": accuracy]
        return record
    }

    // MARK: Counter

    /// The counter task: a 1×1 linear-attention memory with k = v = q = 1 adds one per token,
    /// so the stored state after t tokens should be t. Decision at t: the stored state equals
    /// t exactly. Summary: `exact_to` (the largest t with every count 1…t exact) and accuracy
    /// (fraction of exact counts) up to each length; series: the absolute count error.
    public static func counter(seed: UInt64, recipeName: String, recipe: Recipe, tier: BackendTier, config c: ScenarioConfig) throws -> ScenarioRecord {
        let T = c.tokens.last!
        var record = ScenarioRecord(
            scenario: "counter", memory: TaskMemory.Kind.linear.rawValue, recipeName: recipeName,
            recipe: RecipeResolver.canonical(recipe), parameters: [:], seed: seed, tokens: T)
        let memory = try TaskMemory(kind: .linear, keyDim: 1, valueDim: 1, tier: tier, recipe: recipe, seed: seed)
        let probes = Set(probeLengths(c, from: 1))
        var state = [0.0]
        var exactTo: Int? = nil
        var exactCount = 0
        var errors: [Double] = []
        for t in 1...T {
            memory.store(key: [1], value: [1])
            memory.readState(into: &state)
            let ok = state[0] == Double(t)
            if ok { exactCount += 1 } else if exactTo == nil { exactTo = t - 1 }
            if c.tokens.contains(t) { record.summary["accuracy_at_\(t)"] = Double(exactCount) / Double(t) }
            if probes.contains(t) {
                record.positions.append(t)
                errors.append(state[0].isNaN ? .nan : abs(state[0] - Double(t)))
            }
        }
        record.series = ["count_abs_err": errors]
        record.summary["exact_to"] = Double(exactTo ?? T)
        record.summary["final_count"] = state[0]
        return record
    }

    /// Every record of a task config (not yet run): (key, work).
    static func plan(_ c: ScenarioConfig) throws -> [(String, @Sendable () throws -> ScenarioRecord)] {
        var out: [(String, @Sendable () throws -> ScenarioRecord)] = []
        let rs = try recipes(c)
        for seed in c.seeds {
            for (name, recipe, tier) in rs {
                switch c.kind {
                case .mqar:
                    for m in c.memories {
                        for p in c.pairs {
                            out.append(("\(m)|\(p)|\(name)|\(seed)", { try mqar(memory: m, pairs: p, seed: seed, recipeName: name, recipe: recipe, tier: tier, config: c) }))
                        }
                    }
                case .needle:
                    for m in c.memories {
                        for depth in c.depths {
                            out.append(("\(m)|\(depth)|\(name)|\(seed)", { try needle(memory: m, depth: depth, seed: seed, recipeName: name, recipe: recipe, tier: tier, config: c) }))
                        }
                    }
                case .counter:
                    out.append(("\(name)|\(seed)", { try counter(seed: seed, recipeName: name, recipe: recipe, tier: tier, config: c) }))
                case .prefixCache, .handoff, .gates, .speculative, .delethink:
                    preconditionFailure("serving scenarios are planned by their own runners")
                }
            }
        }
        return out
    }
}
