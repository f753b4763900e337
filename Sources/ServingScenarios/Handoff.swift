import AttentionVariants
import DriftStudy
import ExactArithmetic
import Foundation
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
            scenario: "handoff", memory: PrefixCache.instanceLabel(v), recipeName: recipeName, recipe: RecipeResolver.canonical(recipe),
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
        let n = exact.outputCount
        var oe = [Double](repeating: 0, count: n), o = oe
        var state = [Double](repeating: 0, count: exact.stateCount), stateRef = state
        var tally = HandoffTally(prefill: P, tokens: T)
        func err(_ run: SteppedRun) -> Double {
            o.withUnsafeMutableBufferPointer { run.readOutput(into: $0) }
            return o.withUnsafeBufferPointer { ScenarioRuns.relativeError(oe[...], $0) }
        }
        for t in 0..<T {
            exact.step(); decodeOnly.step(); decoder.step(); prefillOnly.step()
            if t < P { prefill.step() }
            if t == P - 1 {
                // The handoff: the prefill's state, stored as the state cache holds it, becomes
                // the decoder's state (the decoder ran alongside only to reach position P).
                state.withUnsafeMutableBufferPointer { b in
                    prefill.readState(into: b)
                    recipe[.state]?.store(b, rows: rows, cols: cols, random: CounterRandom(seed: seed, role: "state", head: 0, step: t))
                    decoder.writeState(UnsafeBufferPointer(b))
                }
                stateRef.withUnsafeMutableBufferPointer { exact.readState(into: $0) }
                record.summary["handoff_state_err"] = state.withUnsafeBufferPointer { ScenarioRuns.relativeError(stateRef[...], $0) }
            }
            oe.withUnsafeMutableBufferPointer { exact.readOutput(into: $0) }
            // Up to P − 1 the handoff run is the prefill; from P on, the decoder.
            let h = err(t < P ? prefill : decoder), d = err(decodeOnly), p = err(prefillOnly)
            tally.add(t, handoff: h, decodeOnly: d, prefillOnly: p)
        }
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
