import ExactArithmetic
import NumberFormats
import Workloads

extension LinearDefinition {
    /// Linear attention, undecayed: one state per head, the shapes from the tensors.
    public func replayPlan(_ x: ReplayTensors) throws -> ReplayPlan {
        let (T, K, V, H, HV, file) = (x.T, x.K, x.V, x.H, x.HV, x.file)
        guard HV == H else { throw ReplayTensors.mismatch(x.v, "'q' \(x.q.view.shapeText): linear attention has one value head per key head") }
        if x.options.preset != nil { throw InputError("--preset: \(name) has no presets") }
        var c = LinearAttentionConfig(keyDim: K, valueDim: V)
        c.replay = x.inputs
        let base = c
        do { _ = try Self.makeRun(config: base, tier: .float64) } catch { throw InputError("\(file.path): \(error)") }
        return ReplayPlan(tokens: T, inputs: x.views, outputShape: [T, H, V], stateShape: [H, K, V], roles: LinearAttentionConfig.roles) { tier, recipe in
            try (0..<H).map { h in
                var c = base
                c.head = h
                return try Self.makeDecode(config: c, tier: tier, recipe: recipe)
            }
        }
    }
}
