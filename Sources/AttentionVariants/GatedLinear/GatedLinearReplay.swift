import ExactArithmetic
import NumberFormats
import Workloads

extension GatedLinearDefinition {
    /// RetNet, Lightning, GLA and Mamba2: one state per value head, the shapes from the tensors;
    /// Lightning's decay from `slope_rate` or `--layer`, Mamba2's B and C shared by head groups.
    public func replayPlan(_ x: ReplayTensors) throws -> ReplayPlan {
        try x.checkValueHeads()
        let (T, K, V, H, HV, file) = (x.T, x.K, x.V, x.H, x.HV, x.file)
        if let g = x.rows["g"], g.heads != HV || g.width != K { throw ReplayTensors.mismatch(g, "'k' \(x.k.view.shapeText) and 'v' \(x.v.view.shapeText): gk is [T, H, K]") }
        if let dt = x.rows["dt"], dt.heads != HV { throw ReplayTensors.mismatch(dt, "'x' \(x.v.view.shapeText) (same H)") }
        // Mamba2's B and C groups are shared by several heads; the others have one value head per key head.
        let grouped = family == .ssm
        if !grouped && HV != H { throw ReplayTensors.mismatch(x.v, "'q' \(x.q.view.shapeText): \(name) has one value head per key head") }
        if x.options.preset != nil { throw InputError("--preset: replay of \(name) takes its shapes from the tensors; no presets") }
        var c = defaultConfig
        c.keyDim = K
        c.valueDim = V
        c.heads = HV
        if overrides.contains(.layer) { try replayLayer(x, &c) }
        c.replay = x.inputs
        if let s = x.options.scale { c.scale = s }
        let form = x.options.form
        if form == "chunked" { c.length = T }
        let base = c
        let skip = x.constants["D"]
        var plan = ReplayPlan(tokens: T, inputs: x.views, outputShape: [T, HV, V], stateShape: [HV, K, V], roles: roles(form: form)) { tier, recipe in
            try (0..<HV).map { h in
                var c = base
                c.head = h
                c.keyHead = h / (HV / H)
                if grouped { c.skip = skip?.element(h) ?? 0 }
                do { try c.validate() } catch { throw InputError("\(file.path): \(error)") }
                return try Self.makeRun(config: c, form: form, tier: tier, recipe: recipe)
            }
        }
        plan.forms = forms
        plan.takesScale = family != .ssm
        return plan
    }

    /// Lightning's layer: from a `slope_rate` tensor, or `--layer` (and `--layers`) of
    /// MiniMax-01's slope schedule.
    func replayLayer(_ x: ReplayTensors, _ c: inout GatedLinearConfig) throws {
        let o = x.options, file = x.file
        if x.constants["slope_rate"] != nil {
            if o.layer != nil || o.layers != nil { throw InputError("--layer/--layers: \(file.path) gives slope_rate [H]; give one or the other") }
            return
        }
        guard let l = o.layer else {
            throw InputError("\(file.path): \(name)'s decay depends on the layer: give --layer l (MiniMax-01 slope schedule; --layers, default 80) or a tensor slope_rate [H] = [\(x.HV)]")
        }
        c.layer = l
        c.layers = o.layers ?? GatedLinearConfig.miniMax01Layers
        guard c.layers >= 1, (0..<c.layers).contains(l) else { throw InputError("--layer: expected 0..<\(c.layers) (--layers), got \(l)") }
    }
}
