import AttentionVariants
import DriftStudy
import ExactArithmetic

/// The counter task (DESIGN.md §6): how far a low-precision state counts exactly.
extension TaskRunner {
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
}
