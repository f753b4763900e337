import AttentionVariants
import DriftStudy
import ExactArithmetic
import Foundation
import NumberFormats

/// Gate and β precision (issue: "decays above 0.998 become 1.0 in bf16"): the same variant
/// with its decay stored as α or as log α (`decay_forms`), under recipes that round only the
/// state, only the gates (`decay`), only β, or all of them; the output error against the exact
/// run shows how much of the drift comes from each.
public enum GatePrecision {
    public enum DecayForm: String, Sendable, CaseIterable {
        /// The kernel stores α itself (rounds to exactly 1 when 1 − α < u/2).
        case alpha
        /// The kernel stores log α (what GDN/KDA/Mamba2 kernels pass).
        case log
    }

    public static var supported: [String] { VariantRegistry.names(with: .gates) }

    /// A recurrent run of `v` with its decay stored in `form`.
    static func make(_ v: StudyConfig.VariantSpec, form: DecayForm, seed: UInt64, tier: BackendTier, recipe: Recipe) throws -> SteppedRun {
        guard let d = VariantRegistry.definition(v.name), d.capabilities.contains(.gates) else {
            throw StudyInputError("variant '\(v.name)': expected one of \(supported.joined(separator: ", "))")
        }
        // The default workload with only the shapes, the seed and the decay form changed.
        let p = VariantParameters(keyDim: v.keyDim, valueDim: v.valueDim, seed: seed, decayLog: form == .log)
        return try d.instance(p).makeRun(form: "recurrent", tier: tier, recipe: recipe)
    }

    /// One (variant, recipe, decay form, seed) record: output and state error against the
    /// exact run (Float64, no rounding) at the recorded positions; summary `err_at_T` (mean
    /// output error over the last min(64, T/16) positions) and `state_err_at_T`.
    public static func run(
        variant v: StudyConfig.VariantSpec, recipeName: String, recipe: Recipe, form: DecayForm, seed: UInt64, config c: ScenarioConfig
    ) throws -> ScenarioRecord {
        let T = c.tokens.last!
        var record = ScenarioRecord(
            scenario: "gates", memory: ScenarioRuns.instanceLabel(v), recipeName: recipeName, recipe: RecipeResolver.canonical(recipe),
            parameters: [:], labels: ["decay_form": form.rawValue], seed: seed, tokens: T)
        let exact = try make(v, form: form, seed: seed, tier: .float64, recipe: .exact)
        let emulated = try make(v, form: form, seed: seed, tier: .float32, recipe: recipe.fast)
        let schedule = VariantFactory.schedule(tokens: T, perOctave: c.perOctave)
        // The log-spaced positions are kept in the record; the tail window feeds the summary.
        let tail = DriftMeter.window(T)
        let engine = LockstepEngine(runs: [SteppedBlockRun(exact), SteppedBlockRun(emulated)], maxBlock: BlockRuns.maxBlock)
        let distance = ErrorMeter()
        var meter = DriftMeter(lengths: [T])
        var nonFinite = 0
        engine.run(tokens: T, endsAt: { _ in false }, measure: { start, n in
            for i in 0..<n where schedule.contains(start + i) || start + i >= T - tail {
                let d = distance.distance(reference: engine.row(0, i), engine.row(1, i))
                nonFinite += d.nonFinite
                meter.add(start + i, d.relative, sampled: schedule.contains(start + i))
            }
            guard start + n == T, exact.stateCount > 0 else { return }
            let d = engine.stateDistance(0, 1, meter: distance)
            nonFinite += d.nonFinite
            record.summary["state_err_at_T"] = d.relative
        })
        record.positions = meter.positions
        record.series = ["output_rel_err": meter.values]
        record.summary["err_at_T"] = meter.error(at: T)
        record.summary["non_finite"] = Double(nonFinite)
        return record
    }

    static func plan(_ c: ScenarioConfig) throws -> [(String, @Sendable () throws -> ScenarioRecord)] {
        var out: [(String, @Sendable () throws -> ScenarioRecord)] = []
        for seed in c.seeds {
            for v in c.variants {
                let roles = try VariantFactory.roles(v)
                for spec in c.recipes {
                    // Recipes naming a role this variant lacks (β for GLA) do not apply to it.
                    guard let recipe = try? c.recipe(spec, roles: roles) else { continue }
                    for form in c.decayForms {
                        out.append(("\(v.name)|\(spec.name)|\(form)|\(seed)", { try run(variant: v, recipeName: spec.name, recipe: recipe, form: form, seed: seed, config: c) }))
                    }
                }
            }
        }
        return out
    }
}
