import AttentionVariants
import DriftStudy
import ExactArithmetic
import NumberFormats

/// Chunked prefill → decode handoff (DESIGN.md §8): the first P tokens run through the chunked
/// (prefill) form — its chunk-boundary state copies in `chunk_state` format, the carried state
/// stored in `state` format at each chunk end — then the state is handed to the recurrent
/// (decode) form, stored in `state` format as a state cache would hold it, and decoding goes on
/// for D tokens with the state stored every step. Three runs are compared with the exact
/// recurrent run at every position: the handoff run, decode-only (the recurrent form from
/// token 0) and prefill-only (the chunked form throughout).
public enum Handoff {
    /// The chunk length of the chunked forms the factory builds.
    public static let chunkSize = 64
    /// Tokens on each side of the handoff that the jump is averaged over.
    public static let window = 16

    /// Positions recorded: the first 64, every 64th, the dense window around the handoff, and
    /// the last.
    static func recorded(_ t: Int, prefill P: Int, tokens T: Int) -> Bool {
        t < 64 || t % 64 == 63 || abs(t - P) <= 2 * window || t == T - 1
    }

    /// The (variant, recipe, seed) record. Series at `positions`: `handoff_err`,
    /// `decode_only_err`, `prefill_only_err` (output error against the exact run). Summary:
    /// `before`/`after` (mean handoff error over the `window` tokens before / from P), `jump`
    /// (after/before), `handoff_state_err` (state error of the handed-over state), and the mean
    /// over the last 64 tokens of each run (`end_*`).
    public static func run(
        variant v: StudyConfig.VariantSpec, recipeName: String, recipe: Recipe, tier: BackendTier, seed: UInt64, config c: ScenarioConfig
    ) throws -> ScenarioRecord {
        let P = c.prefill, T = c.prefill + c.continuation
        var record = ScenarioRecord(
            scenario: "handoff", memory: ScenarioRuns.instanceLabel(v), recipeName: recipeName, recipe: RecipeResolver.canonical(recipe),
            parameters: ["prefill": P, "decode": c.continuation, "chunk": chunkSize], seed: seed, tokens: T)
        var chunkedSpec = v
        chunkedSpec.form = "chunked"
        let recurrentRoles = Set(try VariantFactory.roles(v)), chunkedRoles = Set(try VariantFactory.roles(chunkedSpec))
        func only(_ roles: Set<Role>) -> Recipe {
            var r = Recipe()
            for role in recipe.roles where roles.contains(role) { r[role] = recipe[role] }
            return r.fast
        }
        let exact = try ScenarioRuns.make(v, seed: seed, tokens: T, tier: .float64, recipe: .exact).run
        let decodeOnly = try ScenarioRuns.make(v, seed: seed, tokens: T, tier: tier, recipe: only(recurrentRoles)).run
        let (decoder, rows, cols) = try ScenarioRuns.make(v, seed: seed, tokens: T, tier: tier, recipe: only(recurrentRoles))
        let prefill = try VariantFactory.makeRun(
            chunkedSpec, workload: StudyConfig.WorkloadSpec(name: "gaussian"), seed: seed, tokens: T,
            schedule: VariantFactory.schedule(tokens: T, perOctave: 1), tier: tier, recipe: only(chunkedRoles))
        let prefillOnly = try VariantFactory.makeRun(
            chunkedSpec, workload: StudyConfig.WorkloadSpec(name: "gaussian"), seed: seed, tokens: T,
            schedule: VariantFactory.schedule(tokens: T, perOctave: 1), tier: tier, recipe: only(chunkedRoles))
        var tally = HandoffTally(prefill: P, tokens: T)
        // The five runs in lockstep; the prefill run stops at P. Up to P − 1 the handoff run is
        // the prefill (row 4); from P on, the decoder (row 3), which ran alongside only to reach P.
        let runs: [SteppedRun] = [exact, decodeOnly, prefillOnly, decoder, prefill]
        let engine = LockstepEngine(runs: runs.indices.map { SteppedBlockRun(runs[$0], until: $0 == 4 ? P : T) }, maxBlock: BlockRuns.maxBlock)
        engine.run(tokens: T, endsAt: { $0 == P - 1 }, atBlockStart: { t in
            guard t == P else { return }
            // The handoff: the prefill's state, stored as the state cache holds it, becomes the
            // decoder's state.
            var state = [Double](repeating: 0, count: exact.stateCount), stateRef = state
            state.withUnsafeMutableBufferPointer { b in
                prefill.readState(into: b)
                recipe[.state]?.store(b, rows: rows, cols: cols, random: CounterRandom(seed: seed, role: "state", head: 0, step: P - 1))
                decoder.writeState(UnsafeBufferPointer(b))
            }
            stateRef.withUnsafeMutableBufferPointer { exact.readState(into: $0) }
            record.summary["handoff_state_err"] = state.withUnsafeBufferPointer { ScenarioRuns.relativeError(stateRef[...], $0) }
        }, measure: { start, n in
            for i in 0..<n {
                let t = start + i, oe = engine.row(0, i)
                let h = ScenarioRuns.relativeError(oe, engine.row(t < P ? 4 : 3, i))
                tally.add(t, handoff: h, decodeOnly: ScenarioRuns.relativeError(oe, engine.row(1, i)),
                          prefillOnly: ScenarioRuns.relativeError(oe, engine.row(2, i)))
            }
        })
        tally.write(to: &record)
        return record
    }

    static func plan(_ c: ScenarioConfig) throws -> [(String, @Sendable () throws -> ScenarioRecord)] {
        var out: [(String, @Sendable () throws -> ScenarioRecord)] = []
        for seed in c.seeds {
            for v in c.variants {
                var recipes: [(String, Recipe, BackendTier)] = [(TaskRunner.exactName, .exact, .float64)]
                // A recipe applies to the variants that have all its roles.
                for spec in c.recipes {
                    if let r = try? c.recipe(spec, for: v, roles: try handoffRoles(v)) { recipes.append((spec.name, r, .float32)) }
                }
                let kv = KVRuns.isSoftmax(v)
                for (name, recipe, tier) in recipes {
                    out.append(("\(v.name)|\(name)|\(seed)", {
                        kv ? try runKV(variant: v, recipeName: name, recipe: recipe, tier: tier, seed: seed, config: c)
                            : try run(variant: v, recipeName: name, recipe: recipe, tier: tier, seed: seed, config: c)
                    }))
                }
            }
        }
        return out
    }

    /// The roles a handoff recipe may name: those of either form.
    static func handoffRoles(_ v: StudyConfig.VariantSpec) throws -> [Role] {
        var chunked = v
        chunked.form = "chunked"
        return Array(Set(try VariantFactory.roles(v) + VariantFactory.roles(chunked))).sorted()
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
            scenario: "handoff", memory: ScenarioRuns.instanceLabel(v), recipeName: recipeName, recipe: RecipeResolver.canonical(recipe),
            parameters: ["prefill": P, "decode": c.continuation, "chunk": chunkSize], seed: seed, tokens: T)
        let needed = { (t: Int) in recorded(t, prefill: P, tokens: T) || (t >= P - window && t < P + window) || t >= T - 64 }
        let handoff = HandoffKVRun(prefill: try SoftmaxPrefill(config: sc, backend: backend(), recipe: recipe), at: P, evaluates: needed)
        precondition(handoff.prefill.chunk == chunkSize)
        let runs: [BlockRun] = [
            KVBlockRun(try KVRuns.make(v, seed: seed, tier: .float64, recipe: .exact), evaluates: needed),
            KVBlockRun(KVRuns.Run(try SoftmaxDecode(config: sc, backend: backend(), recipe: recipe)), evaluates: needed),
            SteppedBlockRun(try SoftmaxPrefill(config: sc, backend: backend(), recipe: recipe)),
            handoff,
        ]
        var tally = HandoffTally(prefill: P, tokens: T)
        let engine = LockstepEngine(runs: runs, maxBlock: BlockRuns.maxBlock)
        engine.run(tokens: T, endsAt: { _ in false }, measure: { start, n in
            for i in 0..<n where needed(start + i) {
                let oe = engine.row(0, i)
                tally.add(start + i, handoff: ScenarioRuns.relativeError(oe, engine.row(3, i)),
                          decodeOnly: ScenarioRuns.relativeError(oe, engine.row(1, i)), prefillOnly: ScenarioRuns.relativeError(oe, engine.row(2, i)))
            }
        })
        record.summary["handoff_state_err"] = handoff.handedOverError
        tally.write(to: &record)
        KVRuns.noteStored(runs[1], into: &record)
        return record
    }
}

/// The handoff run of a softmax variant on the lockstep engine: the chunked form up to
/// position P − 1, then the decode form over the same caches (`SoftmaxPrefill.handOff`:
/// nothing copied or re-rounded), evaluated at the positions `evaluates` names.
final class HandoffKVRun<B: Backend>: BlockRun {
    let prefill: SoftmaxPrefill<B>
    let at: Int
    let evaluates: (Int) -> Bool
    private var decoder: SoftmaxDecode<B>?
    private var stepped = 0
    /// The handed-over cache's error ‖Ĉ − C‖/‖C‖ (nil before the handoff).
    private(set) var handedOverError: Double?
    var base: SteppedRun { prefill }

    init(prefill: SoftmaxPrefill<B>, at P: Int, evaluates: @escaping (Int) -> Bool) {
        self.prefill = prefill
        at = P
        self.evaluates = evaluates
    }

    func prepare(_ n: Int) {}

    func compute(_ n: Int, outputs: UnsafeMutablePointer<Double>, stride: Int, everyOutput: Bool) {
        for i in 0..<n {
            let t = stepped
            stepped += 1
            if let decoder { decoder.step() } else { prefill.step() }
            if t == at - 1 {
                decoder = prefill.handOff()
                handedOverError = decoder!.cacheRelativeError
            }
            guard evaluates(t) else { continue }
            let row = UnsafeMutableBufferPointer(start: outputs + i * stride, count: prefill.outputCount)
            if let decoder, t >= at {
                decoder.evaluate(t)
                decoder.readOutput(into: row)
            } else {
                prefill.readOutput(into: row)
            }
        }
    }

    func readState(into out: UnsafeMutableBufferPointer<Double>) {}
}

/// A handoff record's errors, shared by the recurrent and softmax runs: the handoff,
/// decode-only and prefill-only errors at the recorded positions, the mean handoff error over
/// the `Handoff.window` tokens before / from P, and each run's mean over the last 64 tokens.
struct HandoffTally {
    /// The handoff position P and the run length T.
    let prefill: Int, tokens: Int
    var positions: [Int] = []
    var handoffErr: [Double] = [], decodeErr: [Double] = [], prefillErr: [Double] = []
    var before = 0.0, after = 0.0
    var end = (handoff: 0.0, decode: 0.0, prefill: 0.0)

    /// Adds position t's errors of the handoff (h), decode-only (d) and prefill-only (p) runs.
    mutating func add(_ t: Int, handoff h: Double, decodeOnly d: Double, prefillOnly p: Double) {
        let P = prefill, T = tokens, window = Handoff.window
        if t >= P - window && t < P { before += h / Double(window) }
        if t >= P && t < P + window { after += h / Double(window) }
        if t >= T - 64 { end.handoff += h / 64; end.decode += d / 64; end.prefill += p / 64 }
        if Handoff.recorded(t, prefill: P, tokens: T) {
            positions.append(t)
            handoffErr.append(h); decodeErr.append(d); prefillErr.append(p)
        }
    }

    /// Sets `record`'s positions and series, and the summary keys `before`, `after`, `jump`
    /// and `end_*`.
    func write(to record: inout ScenarioRecord) {
        record.positions = positions
        record.series = ["handoff_err": handoffErr, "decode_only_err": decodeErr, "prefill_only_err": prefillErr]
        record.summary["before"] = before
        record.summary["after"] = after
        record.summary["jump"] = before > 0 ? after / before : (after == 0 ? 1 : .infinity)
        record.summary["end_handoff"] = end.handoff
        record.summary["end_decode_only"] = end.decode
        record.summary["end_prefill_only"] = end.prefill
    }
}
