import AttentionVariants
import DriftStudy
import ExactArithmetic
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

    /// A variant instance's label (name plus shape overrides).
    static func instanceLabel(_ v: StudyConfig.VariantSpec) -> String {
        v.preset == "default" ? v.name : "\(v.name) (\(v.preset))"
    }
}
