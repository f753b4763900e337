import ExactArithmetic
import NumberFormats
import Workloads

extension DeltaDefinition {
    /// DeltaNet, Gated DeltaNet and KDA on FLA's kernel inputs: one state per value head (value
    /// head h reads key head h/(HV/H)); `--preset` checks the shapes and gives the gates' form.
    public func replayPlan(_ x: ReplayTensors) throws -> ReplayPlan {
        try x.checkValueHeads()
        let (T, K, V, H, HV, file) = (x.T, x.K, x.V, x.H, x.HV, x.file)
        for stream in ["g", "beta"] {
            guard let r = x.rows[stream] else { continue }
            guard r.heads == HV else { throw ReplayTensors.mismatch(r, "'v' \(x.v.view.shapeText) (same HV)") }
            if stream == "g" && kind.perChannelGate && r.width != K { throw ReplayTensors.mismatch(r, "'k' \(x.k.view.shapeText) (KDA gates have K channels)") }
        }
        var c = defaultConfig
        if let p = x.options.preset {
            guard let pr = DeltaPreset.all.first(where: { $0.name == p }) else {
                throw InputError("--preset: unknown '\(p)'; valid: \(DeltaPreset.all.map(\.name).joined(separator: ", "))")
            }
            guard pr.kind == kind else { throw InputError("--preset: '\(p)' is a \(pr.kind.rawValue) preset, not \(name)") }
            guard pr.keyDim == K, pr.valueDim == V, pr.keyHeads == H, pr.valueHeads == HV else {
                throw InputError("\(file.path): shapes (H=\(H), HV=\(HV), K=\(K), V=\(V)) do not match preset '\(p)' (H=\(pr.keyHeads), HV=\(pr.valueHeads), K=\(pr.keyDim), V=\(pr.valueDim))")
            }
            c = pr.config()
        }
        c.keyDim = K
        c.valueDim = V
        c.replay = x.inputs
        c.l2NormalizeQK = x.options.qkL2Norm
        if let s = x.options.scale { c.scale = s }
        if x.options.form == "chunked" { c.tokens = T }
        if kind == .deltanet { c.gates = .none }
        do { try c.validate() } catch { throw InputError("\(file.path): \(error)") }
        let base = c, form = x.options.form
        var plan = ReplayPlan(tokens: T, inputs: x.views, outputShape: [T, HV, V], stateShape: [HV, K, V], roles: roles(form: form)) { tier, recipe in
            try (0..<HV).map { h in
                var c = base
                c.head = h
                c.keyHead = h / (HV / H)
                return try Self.makeRun(config: c, form: form, tier: tier, recipe: recipe)
            }
        }
        plan.forms = forms
        plan.takesScale = true
        return plan
    }
}
