import ExactArithmetic
import NumberFormats
import Workloads

/// MLA and DSA replay in DeepSeek's absorbed form, on the tensors the kernel receives: the
/// latent and RoPE caches are shared by all heads, so the file is read here rather than as
/// per-head rows.
enum LatentReplay {
    /// The plan of `variant` (MLA when `indexed` is false, DSA when true) on `file`.
    static func plan(file: TensorFile, options o: ReplayOptions, variant v: String, specs: [ReplayTensorSpec], indexed: Bool) throws -> ReplayPlan {
        let rows = try perTokenRows(file, v, specs)
        let qNope = rows["q_nope"]!, qPe = rows["q_pe"]!, latent = rows["kv_cache"]!, pe = rows["pe_cache"]!
        let T = qNope.tokens, H = qNope.heads, N = qNope.width, L = latent.width, R = pe.width
        guard qPe.heads == H, qPe.width == R else {
            throw ReplayTensors.mismatch(qPe, "'q_nope' \(qNope.view.shapeText) and 'pe_cache' \(pe.view.shapeText): q_pe is [T, H, R]")
        }
        guard let w = file["wkv_b"] else { throw ReplayTensors.missing(file, "wkv_b", v, specs) }
        var ws = w.shape
        if ws.count == 3 && ws[0] == H { ws = [ws[0] * ws[1], ws[2]] }
        guard ws.count == 2, ws[1] == L, ws[0] % H == 0, ws[0] / H > N else {
            throw InputError("\(w.file): tensor 'wkv_b': shape \(w.shapeText); expected [H·(N+V), L] = [\(H)·(\(N)+V), \(L)] (or [H, N+V, L]) from 'q_nope' \(qNope.view.shapeText) and 'kv_cache' \(latent.view.shapeText)")
        }
        let V = ws[0] / H - N
        var c = indexed ? DSADefinition.defaultConfig : DSAConfig(mla: MLADefinition.defaultConfig)
        if let p = o.preset {
            c = try preset(p, variant: v, file: file, shapes: (H, L, R, N, V))
        }
        (c.mla.heads, c.mla.latentDim, c.mla.ropeDim, c.mla.nopeDim, c.mla.valueDim) = (H, L, R, N, V)
        c.mla.evaluation = .every
        if indexed { try indexer(rows, o, &c) }
        c.mla.replay = ReplayInputs(streams: rows, constants: ["wkv_b": w])
        do { try indexed ? c.validate() : c.mla.validate() } catch { throw InputError("\(file.path): \(error)") }
        let config = c, form = o.form
        var plan = ReplayPlan(tokens: T, inputs: rows.values.map(\.view) + [w], outputShape: [T, H, V], stateShape: nil,
                              roles: indexed ? DSAConfig.roles : MLAConfig.roles) { tier, recipe in
            [indexed ? try DSADefinition.makeRun(config, tier: tier, recipe: recipe) : try MLADefinition.makeRun(config.mla, form: form, tier: tier, recipe: recipe)]
        }
        if !indexed { plan.forms = MLADefinition().forms }
        return plan
    }

    /// The per-token tensors by name, all of one length T ([T, D] ones read as one head).
    static func perTokenRows(_ file: TensorFile, _ v: String, _ specs: [ReplayTensorSpec]) throws -> [String: TensorRows] {
        var rows: [String: TensorRows] = [:]
        for s in specs where s.shape.hasPrefix("[T") {
            guard let view = file[s.name] else { throw ReplayTensors.missing(file, s.name, v, specs) }
            do {
                rows[s.name] = s.shape.split(separator: ",").count == 2 ? try TensorRows(tokenRows: view) : try TensorRows(view, perChannel: true)
            } catch let e as TensorFileError { throw InputError(e.message) }
        }
        let T = rows["q_nope"]!.tokens
        for (name, r) in rows.sorted(by: { $0.key < $1.key }) where r.tokens != T {
            throw InputError("\(r.view.file): tensor '\(r.view.name)': shape \(r.view.shapeText) read as \(specs.first { $0.name == name }!.shape) has T = \(r.tokens), but 'q_nope' has T = \(T)")
        }
        return rows
    }

    /// The configuration of preset `p` (MLA's presets and DSA's, as DSA configurations), checked
    /// against the tensors' shapes.
    static func preset(_ p: String, variant v: String, file: TensorFile, shapes: (H: Int, L: Int, R: Int, N: Int, V: Int)) throws -> DSAConfig {
        let latent = MLADefinition.modelPresets.map { (name: $0.preset.name, variant: MLADefinition().name, dsa: DSAConfig(mla: $0.config)) }
            + DSADefinition.modelPresets.map { (name: $0.preset.name, variant: DSADefinition().name, dsa: $0.config) }
        guard let pr = latent.first(where: { $0.name == p }) else {
            throw InputError("--preset: unknown '\(p)'; valid: \(latent.map(\.name).joined(separator: ", "))")
        }
        guard pr.variant == v else { throw InputError("--preset: '\(p)' is a \(pr.variant) preset, not \(v)") }
        let m = pr.dsa.mla, (H, L, R, N, V) = shapes
        guard m.latentDim == L, m.ropeDim == R, m.nopeDim == N, m.valueDim == V, H <= m.heads else {
            throw InputError("\(file.path): shapes (H=\(H), L=\(L), R=\(R), N=\(N), V=\(V)) do not match preset '\(p)' (H≤\(m.heads), L=\(m.latentDim), R=\(m.ropeDim), N=\(m.nopeDim), V=\(m.valueDim))")
        }
        return pr.dsa
    }

    /// DSA's indexer from its tensors (already rotated: no RoPE here) and `--top-k`.
    static func indexer(_ rows: [String: TensorRows], _ o: ReplayOptions, _ c: inout DSAConfig) throws {
        let iq = rows["indexer_q"]!, ik = rows["indexer_k"]!, iw = rows["indexer_weights"]!
        guard ik.width == iq.width else { throw ReplayTensors.mismatch(ik, "'indexer_q' \(iq.view.shapeText) (same D)") }
        guard iw.width == iq.heads else { throw ReplayTensors.mismatch(iw, "'indexer_q' \(iq.view.shapeText) (one weight per indexer head)") }
        (c.indexHeads, c.indexDim) = (iq.heads, iq.width)
        c.indexRopeDim = 0  // replayed q and k are already rotated
        if let k = o.topK { c.topK = k }
    }
}

extension MLADefinition {
    public func replayPlan(file: TensorFile, options: ReplayOptions) throws -> ReplayPlan {
        try LatentReplay.plan(file: file, options: options, variant: name, specs: Self.latentTensors, indexed: false)
    }
}
