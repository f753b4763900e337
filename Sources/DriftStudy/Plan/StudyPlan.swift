import AttentionVariants
import ExactArithmetic
import Foundation
import NumberFormats

/// One record to compute.
public struct PlannedRecord: Sendable {
    public var key: String
    public var recipeName: String
    public var recipe: Recipe
}

/// Records that share one reference run: the same variant instance, workload, seed, length
/// and input rounding; each recipe is one emulated run advancing in lockstep with it.
public struct PlannedGroup: Sendable {
    public var id: String
    public var variant: StudyConfig.VariantSpec
    public var workload: StudyConfig.WorkloadSpec
    public var seed: UInt64
    public var tokens: Int
    public var inputs: Recipe
    public var records: [PlannedRecord]
    public var reference: StudyConfig.ReferenceSettings
    public var perOctave: Int
    public var configFile: String

    public var workloadInput: String { (try? VariantFactory.distribution(workload).description) ?? workload.input }
}

/// Sweep expansion: the cartesian product of each config minus its excludes.
public enum StudyPlan {
    public static func key(variant: String, preset: String, recipe: Recipe, input: String, gates: String, seed: UInt64, tokens: Int) -> String {
        "variant=\(variant);preset=\(preset);recipe=\(recipe.description);workload=input=\(input),gates=\(gates),seed=\(seed);tokens=\(tokens)"
    }

    static func excluded(_ rules: [StudyConfig.ExcludeRule], v: StudyConfig.VariantSpec, recipe: String, workload: String, tokens: Int, seed: UInt64) -> Bool {
        rules.contains { r in
            (r.variant.map { $0 == v.name } ?? true) && (r.recipe.map { $0 == recipe } ?? true)
                && (r.workload.map { $0 == workload } ?? true) && (r.tokens.map { $0 == tokens } ?? true)
                && (r.seed.map { $0 == seed } ?? true) && (r.decay.map { $0 == v.decay } ?? true) && (r.form.map { $0 == v.form } ?? true)
        }
    }

    /// Every group of every config, sorted by id; records sorted by key. Throws input errors
    /// (file:line) for recipes a variant cannot take and runs the catalog refuses.
    public static func expand(_ configs: [StudyConfig]) throws -> [PlannedGroup] {
        var groups: [String: PlannedGroup] = [:]
        var keys: [String: String] = [:]
        for c in configs {
            for v in c.variants {
                let roles = try VariantFactory.roles(v)
                let inputs: Recipe
                do { inputs = try RecipeResolver.inputRecipe(c.inputs, roles: roles) } catch { throw StudyInputError("\(c.file): inputs: \(error)") }
                var resolved: [(String, Recipe)] = []
                func everywhereExcluded(_ recipe: String) -> Bool {
                    c.workloads.allSatisfy { w in (v.tokens ?? c.tokens).allSatisfy { t in c.seeds.allSatisfy { excluded(c.exclude, v: v, recipe: recipe, workload: w.name, tokens: t, seed: $0) } } }
                }
                for r in c.recipes where !everywhereExcluded(r.name) && (r.variants?.contains(v.name) ?? true) {
                    do {
                        resolved.append((r.name, try RecipeResolver.resolve(r, inputs: c.inputs, roles: roles, variant: v.name, form: v.form)))
                    } catch {
                        throw StudyInputError("\(c.file):\(r.line): \(error)")
                    }
                }
                for w in c.workloads {
                    let input = try VariantFactory.distribution(w).description
                    for seed in c.seeds {
                        for t in v.tokens ?? c.tokens {
                            var records: [PlannedRecord] = []
                            for (name, recipe) in resolved where !excluded(c.exclude, v: v, recipe: name, workload: w.name, tokens: t, seed: seed) {
                                let k = key(variant: v.name, preset: v.preset, recipe: recipe, input: input, gates: v.gates, seed: seed, tokens: t)
                                if let other = keys[k], other != name {
                                    throw StudyInputError("\(c.file):\(v.line): recipes '\(other)' and '\(name)' are the same for variant '\(v.name)'; expected distinct recipes (exclude one)")
                                }
                                keys[k] = name
                                records.append(PlannedRecord(key: k, recipeName: name, recipe: recipe))
                            }
                            if records.isEmpty { continue }
                            let id = key(variant: v.name, preset: v.preset, recipe: inputs, input: input, gates: v.gates, seed: seed, tokens: t)
                            if var g = groups[id] {
                                for r in records where !g.records.contains(where: { $0.key == r.key }) { g.records.append(r) }
                                groups[id] = g
                            } else {
                                groups[id] = PlannedGroup(
                                    id: id, variant: v, workload: w, seed: seed, tokens: t, inputs: inputs, records: records,
                                    reference: c.reference, perOctave: c.sampling.perOctave, configFile: c.file)
                            }
                        }
                    }
                }
                // Construct each emulated run once so that the catalog's refusals are input errors now.
                for (name, recipe) in resolved {
                    do {
                        _ = try VariantFactory.makeRun(
                            v, workload: c.workloads[0], seed: c.seeds[0], tokens: 64, schedule: VariantFactory.schedule(tokens: 64, perOctave: 4),
                            tier: .float32, recipe: recipe)
                    } catch {
                        throw StudyInputError("\(c.file):\(v.line): variant '\(v.name)' with recipe '\(name)': \(error)")
                    }
                }
            }
        }
        var out = groups.values.sorted { $0.id < $1.id }
        for i in out.indices { out[i].records.sort { $0.key < $1.key } }
        return out
    }

    /// The deterministic slice `index`/`count` (1-based) of the groups.
    public static func shard(_ groups: [PlannedGroup], index: Int, count: Int) -> [PlannedGroup] {
        groups.enumerated().filter { $0.offset % count == index - 1 }.map(\.element)
    }

    /// Parses `I/N` or `slurm` (SLURM_ARRAY_TASK_ID, SLURM_ARRAY_TASK_COUNT; task ids from 0
    /// or from 1 as `--array` set them: SLURM_ARRAY_TASK_MIN is subtracted).
    public static func parseShard(_ text: String, environment: [String: String] = ProcessInfo.processInfo.environment) throws -> (Int, Int) {
        if text == "slurm" {
            guard let id = environment["SLURM_ARRAY_TASK_ID"].flatMap(Int.init),
                  let n = environment["SLURM_ARRAY_TASK_COUNT"].flatMap(Int.init), n >= 1 else {
                throw StudyInputError("--shard slurm: expected SLURM_ARRAY_TASK_ID and SLURM_ARRAY_TASK_COUNT in the environment (run inside an sbatch --array job)")
            }
            // The array must be exactly 0…N−1 (step 1): `--array=1` alone would run the whole
            // sweep as shard 1 of 1, `--array=0-4:2` would leave shards unrun.
            let min = environment["SLURM_ARRAY_TASK_MIN"].flatMap(Int.init) ?? 0
            let max = environment["SLURM_ARRAY_TASK_MAX"].flatMap(Int.init) ?? n - 1
            let step = environment["SLURM_ARRAY_TASK_STEP"].flatMap(Int.init) ?? 1
            guard min == 0, max == n - 1, step == 1, (0..<n).contains(id) else {
                throw StudyInputError("--shard slurm: the job array must be 0-\(Swift.max(n - 1, 0)) with step 1 (one task per shard, e.g. sbatch --array=0-3 for 4 shards); got tasks \(min)-\(max) step \(step) (\(n) tasks, this one \(id))")
            }
            return (id + 1, n)
        }
        let parts = text.split(separator: "/")
        guard parts.count == 2, let i = Int(parts[0]), let n = Int(parts[1]), n >= 1, (1...n).contains(i) else {
            throw StudyInputError("--shard: expected I/N with 1 ≤ I ≤ N (e.g. 1/4) or 'slurm', got '\(text)'")
        }
        return (i, n)
    }
}
