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
        if let s = x.options.scale { c.scale = s }
        let base = c, form = x.options.form
        do { _ = try Self.makeRun(config: base, tier: .float64) } catch { throw InputError("\(file.path): \(error)") }
        var plan = ReplayPlan(tokens: T, inputs: x.views, outputShape: [T, H, V], stateShape: [H, K, V], roles: roles(form: form)) { tier, recipe in
            try (0..<H).map { h in
                var c = base
                c.head = h
                if form == "chunked" {
                    return try GatedLinearDefinition.makeRun(config: GatedLinearConfig(linear: c, length: T), form: form, tier: tier, recipe: recipe)
                }
                return try Self.makeDecode(config: c, tier: tier, recipe: recipe)
            }
        }
        plan.forms = forms
        plan.takesScale = true
        return plan
    }
}
