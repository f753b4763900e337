import AttentionVariants
import DriftStudy
import ExactArithmetic
import NumberFormats
import Workloads

/// The recall tasks (DESIGN.md §6): MQAR and the needle, each reading a `TaskMemory`'s state
/// back through a codebook.
extension TaskRunner {
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
}
