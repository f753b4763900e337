import ExactArithmetic
import NumberFormats
import Workloads

extension SoftmaxDefinition {
    /// Replay on HQ query heads over HKV KV heads (HQ a multiple of HKV), the shapes from the
    /// tensors, the window and sinks from `--preset` (or the default workload's).
    public func replayPlan(_ x: ReplayTensors) throws -> ReplayPlan {
        let q = x.q, k = x.k, vv = x.v, T = x.T
        try x.checkKV()
        var c = defaultConfig
        if let p = x.options.preset {
            let pr: SoftmaxCatalog.Preset
            do { pr = try SoftmaxCatalog.preset(p) } catch { throw InputError("--preset: \(error)") }
            guard pr.variant == name else { throw InputError("--preset: '\(p)' is a \(pr.variant) preset, not \(name)") }
            c = pr.config
        }
        c.queryHeads = q.heads
        c.kvHeads = k.heads
        c.headDim = q.width
        c.valueDim = vv.width
        c.replay = x.inputs
        c.evaluation = .every
        if let s = x.options.scale { c.scale = s }
        do { try check(c) } catch { throw InputError("\(x.file.path): \(error)") }
        let config = c, form = x.options.form
        var plan = ReplayPlan(tokens: T, inputs: x.views, outputShape: [T, q.heads, vv.width], stateShape: nil, roles: roles(form: form)) { tier, recipe in
            [try makeRun(config: config, form: form, tier: tier, recipe: recipe)]
        }
        plan.forms = forms
        plan.takesScale = true
        return plan
    }
}
