import AttentionVariants
import DriftStudy
import ExactArithmetic
import NumberFormats

/// Softmax (KV-cache) runs for the serving scenarios: the cache entries play the part a
/// recurrent state plays (a checkpoint of the prefix's entries, a rollback that drops drafted
/// entries). A `store:` recipe stores both caches (`k_cache`, `v_cache`).
enum KVRuns {
    static func isSoftmax(_ v: StudyConfig.VariantSpec) -> Bool { VariantRegistry.definition(v.name)?.capabilities.contains(.kvCache) ?? false }

    /// A softmax decode run that evaluates only when asked.
    final class Run {
        /// The decode run itself (its shape, for the lockstep engine).
        let base: SteppedRun
        let step: () -> Void
        let evaluate: (Int) -> Void
        let read: (UnsafeMutableBufferPointer<Double>) -> Void
        let restore: (Int, (Role, Int, UnsafeMutableBufferPointer<Double>, Int) -> Void) -> Void
        let rollback: (Int) -> Void
        let cacheError: () -> Double
        let cacheBytes: () -> Int
        /// Non-finite elements the caches stored (every append, rolled back or not).
        let storedNonFinite: () -> NonFiniteCount
        let canRollback: Bool
        let outputCount: Int
        let kvHeads: Int

        init<B: Backend>(_ d: SoftmaxDecode<B>) {
            base = d
            step = { d.step() }
            evaluate = { d.evaluate($0) }
            read = { d.readOutput(into: $0) }
            restore = { d.restorePrefix(count: $0, store: $1) }
            rollback = { d.rollback(to: $0) }
            cacheError = { d.cacheRelativeError }
            cacheBytes = { d.cacheBytes }
            storedNonFinite = { d.storedNonFinite }
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
}

extension KVRuns {
    /// Adds `non_finite_stored` and `first_non_finite` to `record` when `run`'s caches stored a
    /// non-finite value at any position — evaluated or not (nothing when none).
    static func noteStored(_ run: BlockRun, into record: inout ScenarioRecord) {
        guard let d = (run as? KVBlockRun)?.base as? AttentionDiagnostics else { return }
        noteStored(d.storedNonFinite, into: &record)
    }

    /// Adds `non_finite_stored` and `first_non_finite` to `record` when `count` saw any
    /// (nothing when none); a first position already noted and earlier is kept.
    static func noteStored(_ count: NonFiniteCount, into record: inout ScenarioRecord) {
        guard let first = count.first else { return }
        record.summary["non_finite_stored"] = Double(count.count) + (record.summary["non_finite_stored"] ?? 0)
        record.summary["first_non_finite"] = Swift.min(Double(first), record.summary["first_non_finite"] ?? .infinity)
    }
}

/// A softmax run on the lockstep engine: it appends `until` tokens at most and evaluates only
/// the positions `evaluates` names, reading their outputs into the block's rows (the other rows
/// keep what they held). Evaluating a position leaves no state behind, so the cache and the
/// evaluated outputs are those of the run stepped alone.
final class KVBlockRun: BlockRun {
    let run: KVRuns.Run
    let until: Int
    let evaluates: (Int) -> Bool
    private var stepped = 0
    var base: SteppedRun { run.base }

    init(_ run: KVRuns.Run, until: Int = .max, evaluates: @escaping (Int) -> Bool) {
        self.run = run
        self.until = until
        self.evaluates = evaluates
    }

    func prepare(_ n: Int) {}

    func compute(_ n: Int, outputs: UnsafeMutablePointer<Double>, stride: Int, everyOutput: Bool) {
        for i in 0..<min(n, until - stepped) {
            run.step()
            let t = stepped
            stepped += 1
            guard evaluates(t) else { continue }
            run.evaluate(t)
            run.read(UnsafeMutableBufferPointer(start: outputs + i * stride, count: run.outputCount))
        }
    }

    func readState(into out: UnsafeMutableBufferPointer<Double>) {}
}
