import AttentionVariants
import ExactArithmetic
import Foundation
import NumberFormats
import Workloads

/// Replay's plans: the tensors checked against the variant's definition, and how to make its
/// runs on a tier.
extension Replay {
    /// The shapes read from the inputs, and how to make one run on a tier.
    struct Plan {
        var tokens: Int
        /// The tensors read, checked for NaN/Inf before anything runs.
        var inputs: [TensorView]
        var outputShape: [Int]
        var stateShape: [Int]?
        var roles: [Role]
        /// Runs of one tier: one per value head (recurrent) or one for all heads (softmax).
        var make: (BackendTier, Recipe) throws -> [SteppedRun]
    }

    static func fail(_ s: String) -> StudyInputError { StudyInputError(s) }

    static func missing(_ file: TensorFile, _ name: String, _ v: String, _ specs: [ReplayTensorSpec]) -> StudyInputError {
        let need = specs.filter(\.required).map { "\($0.name) \($0.shape)" }.joined(separator: ", ")
        return fail("\(file.path): tensor '\(name)' missing; \(v) replay needs \(need)")
    }

    /// Checks the inputs and builds the plan; every error names the file and tensor.
    static func plan(_ o: Options, file: TensorFile) throws -> Plan {
        let v = o.variant
        let d = VariantRegistry.definition(v)
        guard let d, let specs = d.replayTensors else {
            if d != nil {
                throw fail("--variant: replay not supported yet for '\(v)'; supported: \(supported.joined(separator: ", "))")
            }
            throw fail("--variant: unknown '\(v)'; replay supports \(supported.joined(separator: ", "))")
        }
        if !d.overrides.contains(.layer) && (o.layer != nil || o.layers != nil) {
            let layered = VariantRegistry.all.filter { $0.overrides.contains(.layer) }.map(\.name).joined(separator: ", ")
            throw fail("--layer/--layers: only \(layered)'s decay depends on the layer")
        }
        let blocks = d is BlockSparseDefinition
        if !blocks && o.window != nil || !(blocks || d is DSADefinition) && o.topK != nil || !blocks && o.blockSize != nil {
            throw fail("--block-size/--top-k/--window: only moba and nsa select blocks (nsa: --window), dsa --top-k tokens")
        }
        if d is MLADefinition || d is DSADefinition { return try latentPlan(o, file: file, specs: specs) }
        var rows: [String: TensorRows] = [:]
        var layouts: [String: String] = [:]
        for s in specs where s.required && s.shape.hasPrefix("[T") {
            var view = file[s.name]
            if view == nil && s.name == "gk" { view = file["g"] }
            guard let view else { throw missing(file, s.name, v, specs) }
            do {
                let r = try TensorRows(view, perChannel: s.shape.split(separator: ",").count == 3)
                rows[s.stream] = r
                layouts[s.stream] = s.shape
            } catch let e as TensorFileError { throw fail(e.message) }
        }
        let q = rows["q"]!, k = rows["k"]!, vv = rows["v"]!
        let T = q.tokens
        for (name, r) in rows.sorted(by: { $0.key < $1.key }) where r.tokens != T {
            let first = specs.first { $0.stream == "q" }!.name
            throw fail("\(r.view.file): tensor '\(r.view.name)': shape \(r.view.shapeText) read as \(layouts[name]!) has T = \(r.tokens), but '\(first)' has T = \(T)")
        }
        if k.heads != q.heads && !d.keepsCache { throw mismatch(k, "'\(q.view.name)' \(q.view.shapeText) (same H)") }
        if k.width != q.width { throw mismatch(k, "'\(q.view.name)' \(q.view.shapeText) (same K)") }
        var constants: [String: TensorView] = [:]
        for s in specs where s.shape == "[H]" {
            guard let c = file[s.name] else {
                if s.required { throw fail("\(file.path): tensor '\(s.name)' missing; \(v) replay needs it with shape [H] = [\(vv.heads)]") }
                continue
            }
            guard c.shape == [vv.heads] else {
                throw fail("\(c.file): tensor '\(s.name)': shape \(c.shapeText); expected [H] = [\(vv.heads)]")
            }
            constants[s.name] = c
        }
        if let s0 = file["initial_state"] {
            guard !d.keepsCache else { throw fail("\(s0.file): tensor 'initial_state': \(v) has no recurrent state") }
            let HV = vv.heads, K = q.width, V = vv.width
            var shape = s0.shape
            if shape.count == 4 && shape[0] == 1 { shape.removeFirst() }
            guard shape == [HV, K, V] else {
                throw fail("\(s0.file): tensor 'initial_state': shape \(s0.shapeText); expected [HV, K, V] = [\(HV), \(K), \(V)] (or with a leading batch 1)")
            }
            constants["initial_state"] = s0
        }
        let x = Checked(options: o, file: file, rows: rows, constants: constants, inputs: ReplayInputs(streams: rows, constants: constants))
        switch d {
        case let s as SoftmaxDefinition: return try softmaxPlan(x, s)
        case let b as BlockSparseDefinition: return try sparsePlan(x, b)
        case is LinearDefinition: return try linearPlan(x)
        case is RWKV7Definition: return try rwkvPlan(x)
        default: break
        }
        guard x.HV % x.H == 0 else { throw mismatch(vv, "'\(q.view.name)' \(q.view.shapeText): H = \(x.H) must divide HV = \(x.HV)") }
        if let g = d as? GatedLinearDefinition { return try gatedPlan(x, g) }
        if let delta = d as? DeltaDefinition { return try deltaPlan(x, delta) }
        throw fail("--variant: replay has no plan for '\(v)'")
    }

    /// Inputs whose names, positions and widths have been checked.
    struct Checked {
        var options: Options
        var file: TensorFile
        var rows: [String: TensorRows]
        var constants: [String: TensorView]
        var inputs: ReplayInputs
        var variant: String { options.variant }
        var q: TensorRows { rows["q"]! }
        var k: TensorRows { rows["k"]! }
        var v: TensorRows { rows["v"]! }
        var T: Int { q.tokens }
        var K: Int { q.width }
        var V: Int { v.width }
        var H: Int { q.heads }
        var HV: Int { v.heads }
        var views: [TensorView] { rows.values.map(\.view) + constants.values }
    }

    static func mismatch(_ r: TensorRows, _ what: String) -> StudyInputError {
        fail("\(r.view.file): tensor '\(r.view.name)': shape \(r.view.shapeText) does not agree with \(what)")
    }

    /// Softmax heads: HKV value heads, HQ a multiple of HKV.
    static func checkKV(_ x: Checked) throws {
        let q = x.q, k = x.k, vv = x.v
        guard vv.heads == k.heads else { throw mismatch(vv, "'k' \(k.view.shapeText) (same HKV)") }
        guard q.heads % k.heads == 0 else { throw mismatch(k, "'q' \(q.view.shapeText): HKV = \(k.heads) must divide HQ = \(q.heads)") }
    }

    static func softmaxPlan(_ x: Checked, _ d: SoftmaxDefinition) throws -> Plan {
        let v = x.variant, q = x.q, k = x.k, vv = x.v, file = x.file, T = x.T
        try checkKV(x)
        var c = d.defaultConfig
        if let p = x.options.preset {
            let pr: SoftmaxCatalog.Preset
            do { pr = try SoftmaxCatalog.preset(p) } catch { throw fail("--preset: \(error)") }
            guard pr.variant == v else { throw fail("--preset: '\(p)' is a \(pr.variant) preset, not \(v)") }
            c = pr.config
        }
        c.queryHeads = q.heads
        c.kvHeads = k.heads
        c.headDim = q.width
        c.valueDim = vv.width
        c.replay = x.inputs
        c.evaluation = .every
        do { try d.check(c) } catch { throw fail("\(file.path): \(error)") }
        let config = c
        return Plan(tokens: T, inputs: x.views, outputShape: [T, q.heads, vv.width], stateShape: nil, roles: SoftmaxAttentionConfig.roles) { tier, recipe in
            [try d.makeRun(config: config, tier: tier, recipe: recipe)]
        }
    }

    /// MoBA and NSA: softmax over the blocks the mean keys select; NSA's three branches mixed by
    /// the given gate logits.
    static func sparsePlan(_ x: Checked, _ d: BlockSparseDefinition) throws -> Plan {
        let v = x.variant, q = x.q, k = x.k, vv = x.v, file = x.file, o = x.options
        try checkKV(x)
        if let g = x.rows["gates"], g.heads != q.heads || g.width != 3 {
            throw mismatch(g, "'q' \(q.view.shapeText): gates are [T, HQ, 3]")
        }
        let windowed = d.defaultConfig.kind == .nsa
        if o.preset != nil { throw fail("--preset: \(v) has no presets; give --block-size, --top-k\(windowed ? ", --window" : "")") }
        if !windowed && o.window != nil { throw fail("--window: \(v) has no sliding window (\(BlockSparseDefinition.nsa.name) has)") }
        var c = d.defaultConfig
        c.attention.queryHeads = q.heads
        c.attention.kvHeads = k.heads
        c.attention.headDim = q.width
        c.attention.valueDim = vv.width
        c.attention.replay = x.inputs
        c.attention.evaluation = .every
        if let b = o.blockSize { c.blockSize = b }
        if let n = o.topK { c.topKBlocks = n }
        if let w = o.window { c.window = w }
        do { try c.validate() } catch { throw fail("\(file.path): \(error)") }
        let config = c
        return Plan(tokens: x.T, inputs: x.views, outputShape: [x.T, q.heads, vv.width], stateShape: nil, roles: SoftmaxAttentionConfig.roles) { tier, recipe in
            [try SparseCatalog.makeRun(config: config, tier: tier, recipe: recipe)]
        }
    }

    /// MLA and DSA in DeepSeek's absorbed form, on the tensors the kernel receives.
    static func latentPlan(_ o: Options, file: TensorFile, specs: [ReplayTensorSpec]) throws -> Plan {
        let v = o.variant
        var rows: [String: TensorRows] = [:]
        for s in specs where s.shape.hasPrefix("[T") {
            guard let view = file[s.name] else { throw missing(file, s.name, v, specs) }
            do {
                rows[s.name] = s.shape.split(separator: ",").count == 2 ? try TensorRows(tokenRows: view) : try TensorRows(view, perChannel: true)
            } catch let e as TensorFileError { throw fail(e.message) }
        }
        let qNope = rows["q_nope"]!, qPe = rows["q_pe"]!, latent = rows["kv_cache"]!, pe = rows["pe_cache"]!
        let T = qNope.tokens, H = qNope.heads, N = qNope.width, L = latent.width, R = pe.width
        for (name, r) in rows.sorted(by: { $0.key < $1.key }) where r.tokens != T {
            throw fail("\(r.view.file): tensor '\(r.view.name)': shape \(r.view.shapeText) read as \(specs.first { $0.name == name }!.shape) has T = \(r.tokens), but 'q_nope' has T = \(T)")
        }
        guard qPe.heads == H, qPe.width == R else {
            throw mismatch(qPe, "'q_nope' \(qNope.view.shapeText) and 'pe_cache' \(pe.view.shapeText): q_pe is [T, H, R]")
        }
        guard let w = file["wkv_b"] else { throw missing(file, "wkv_b", v, specs) }
        var ws = w.shape
        if ws.count == 3 && ws[0] == H { ws = [ws[0] * ws[1], ws[2]] }
        guard ws.count == 2, ws[1] == L, ws[0] % H == 0, ws[0] / H > N else {
            throw fail("\(w.file): tensor 'wkv_b': shape \(w.shapeText); expected [H·(N+V), L] = [\(H)·(\(N)+V), \(L)] (or [H, N+V, L]) from 'q_nope' \(qNope.view.shapeText) and 'kv_cache' \(latent.view.shapeText)")
        }
        let V = ws[0] / H - N
        let mla = VariantRegistry.definition(v) is MLADefinition
        var c = mla ? DSAConfig(mla: MLADefinition.defaultConfig) : DSADefinition.defaultConfig
        if let p = o.preset {
            // MLA's presets and DSA's, as DSA configurations.
            let latent = MLADefinition.modelPresets.map { (name: $0.preset.name, variant: MLADefinition().name, dsa: DSAConfig(mla: $0.config)) }
                + DSADefinition.modelPresets.map { (name: $0.preset.name, variant: DSADefinition().name, dsa: $0.config) }
            guard let pr = latent.first(where: { $0.name == p }) else {
                throw fail("--preset: unknown '\(p)'; valid: \(latent.map(\.name).joined(separator: ", "))")
            }
            guard pr.variant == v else { throw fail("--preset: '\(p)' is a \(pr.variant) preset, not \(v)") }
            let m = pr.dsa.mla
            guard m.latentDim == L, m.ropeDim == R, m.nopeDim == N, m.valueDim == V, H <= m.heads else {
                throw fail("\(file.path): shapes (H=\(H), L=\(L), R=\(R), N=\(N), V=\(V)) do not match preset '\(p)' (H≤\(m.heads), L=\(m.latentDim), R=\(m.ropeDim), N=\(m.nopeDim), V=\(m.valueDim))")
            }
            c = pr.dsa
        }
        (c.mla.heads, c.mla.latentDim, c.mla.ropeDim, c.mla.nopeDim, c.mla.valueDim) = (H, L, R, N, V)
        c.mla.evaluation = .every
        if !mla {
            let iq = rows["indexer_q"]!, ik = rows["indexer_k"]!, iw = rows["indexer_weights"]!
            guard ik.width == iq.width else { throw mismatch(ik, "'indexer_q' \(iq.view.shapeText) (same D)") }
            guard iw.width == iq.heads else { throw mismatch(iw, "'indexer_q' \(iq.view.shapeText) (one weight per indexer head)") }
            (c.indexHeads, c.indexDim) = (iq.heads, iq.width)
            c.indexRopeDim = 0  // replayed q and k are already rotated
            if let k = o.topK { c.topK = k }
        }
        c.mla.replay = ReplayInputs(streams: rows, constants: ["wkv_b": w])
        do { try mla ? c.mla.validate() : c.validate() } catch { throw fail("\(file.path): \(error)") }
        let config = c
        return Plan(tokens: T, inputs: rows.values.map(\.view) + [w], outputShape: [T, H, V], stateShape: nil,
                    roles: mla ? MLAConfig.roles : DSAConfig.roles) { tier, recipe in
            [mla ? try MLADefinition.makeRun(config.mla, tier: tier, recipe: recipe) : try DSADefinition.makeRun(config, tier: tier, recipe: recipe)]
        }
    }

    /// RWKV-7 on flash-linear-attention's kernel inputs r, w, k, v, a, b (one state per head).
    static func rwkvPlan(_ x: Checked) throws -> Plan {
        let (T, K, H) = (x.T, x.K, x.H)
        for name in ["w", "v", "a", "b"] {
            let r = x.rows[name]!
            guard r.heads == H, r.width == K else { throw mismatch(r, "'r' \(x.q.view.shapeText) (RWKV-7: every input is [T, H, K])") }
        }
        if x.options.preset != nil { throw fail("--preset: rwkv7 replay takes its shapes from the tensors; no presets") }
        if let s0 = x.constants["initial_state"] { throw fail("\(s0.file): tensor 'initial_state': rwkv7 replay starts from a zero state") }
        var c = RWKV7Config(headDim: K, decayLog: true)
        c.replay = x.inputs
        do { try c.validate() } catch { throw fail("\(x.file.path): \(error)") }
        let base = c
        return Plan(tokens: T, inputs: x.views, outputShape: [T, H, K], stateShape: [H, K, K], roles: RWKV7Config.roles.filter { $0 != .chunkState }) { tier, recipe in
            try (0..<H).map { h in
                var c = base
                c.head = h
                return try RWKV7Definition.makeRun(config: c, tier: tier, recipe: recipe)
            }
        }
    }

    static func linearPlan(_ x: Checked) throws -> Plan {
        let (T, K, V, H, HV, file) = (x.T, x.K, x.V, x.H, x.HV, x.file)
        guard HV == H else { throw mismatch(x.v, "'q' \(x.q.view.shapeText): linear attention has one value head per key head") }
        if x.options.preset != nil { throw fail("--preset: linear has no presets") }
        var c = LinearAttentionConfig(keyDim: K, valueDim: V)
        c.replay = x.inputs
        let base = c
        do { _ = try LinearDefinition.makeRun(config: base, tier: .float64) } catch { throw fail("\(file.path): \(error)") }
        return Plan(tokens: T, inputs: x.views, outputShape: [T, H, V], stateShape: [H, K, V], roles: LinearAttentionConfig.roles) { tier, recipe in
            try (0..<H).map { h in
                var c = base
                c.head = h
                return try LinearDefinition.makeDecode(config: c, tier: tier, recipe: recipe)
            }
        }
    }

    static func gatedPlan(_ x: Checked, _ d: GatedLinearDefinition) throws -> Plan {
        let (v, T, K, V, H, HV, file) = (x.variant, x.T, x.K, x.V, x.H, x.HV, x.file)
        if let g = x.rows["g"], g.heads != HV || g.width != K { throw mismatch(g, "'k' \(x.k.view.shapeText) and 'v' \(x.v.view.shapeText): gk is [T, H, K]") }
        if let dt = x.rows["dt"], dt.heads != HV { throw mismatch(dt, "'x' \(x.v.view.shapeText) (same H)") }
        // Mamba2's B and C groups are shared by several heads; the others have one value head per key head.
        let grouped = d.name == GatedLinearDefinition.mamba2.name
        if !grouped && HV != H { throw mismatch(x.v, "'q' \(x.q.view.shapeText): \(v) has one value head per key head") }
        if x.options.preset != nil { throw fail("--preset: replay of \(v) takes its shapes from the tensors; no presets") }
        var c = d.defaultConfig
        c.keyDim = K
        c.valueDim = V
        c.heads = HV
        if d.overrides.contains(.layer) {
            let o = x.options
            if x.constants["slope_rate"] != nil {
                if o.layer != nil || o.layers != nil { throw fail("--layer/--layers: \(file.path) gives slope_rate [H]; give one or the other") }
            } else {
                guard let l = o.layer else {
                    throw fail("\(file.path): lightning's decay depends on the layer: give --layer l (MiniMax-01 slope schedule; --layers, default 80) or a tensor slope_rate [H] = [\(HV)]")
                }
                c.layer = l
                c.layers = o.layers ?? GatedLinearConfig.miniMax01Layers
                guard c.layers >= 1, (0..<c.layers).contains(l) else { throw fail("--layer: expected 0..<\(c.layers) (--layers), got \(l)") }
            }
        }
        c.replay = x.inputs
        let base = c
        let skip = x.constants["D"]
        return Plan(tokens: T, inputs: x.views,
                    outputShape: [T, HV, V], stateShape: [HV, K, V],
                    roles: d.roles.filter { $0 != .chunkState }) { tier, recipe in
            try (0..<HV).map { h in
                var c = base
                c.head = h
                c.keyHead = h / (HV / H)
                if grouped { c.skip = skip?.element(h) ?? 0 }
                do { try c.validate() } catch { throw StudyInputError("\(file.path): \(error)") }
                return try GatedLinearDefinition.makeRun(config: c, form: "recurrent", tier: tier, recipe: recipe)
            }
        }
    }

    static func deltaPlan(_ x: Checked, _ d: DeltaDefinition) throws -> Plan {
        let (v, T, K, V, H, HV, file) = (x.variant, x.T, x.K, x.V, x.H, x.HV, x.file)
        for name in ["g", "beta"] {
            guard let r = x.rows[name] else { continue }
            guard r.heads == HV else { throw mismatch(r, "'v' \(x.v.view.shapeText) (same HV)") }
            if name == "g" && d.kind.perChannelGate && r.width != K { throw mismatch(r, "'k' \(x.k.view.shapeText) (KDA gates have K channels)") }
        }
        let kind = d.kind
        var c = d.defaultConfig
        if let p = x.options.preset {
            guard let pr = DeltaPreset.all.first(where: { $0.name == p }) else {
                throw fail("--preset: unknown '\(p)'; valid: \(DeltaPreset.all.map(\.name).joined(separator: ", "))")
            }
            guard pr.kind == kind else { throw fail("--preset: '\(p)' is a \(pr.kind.rawValue) preset, not \(v)") }
            guard pr.keyDim == K, pr.valueDim == V, pr.keyHeads == H, pr.valueHeads == HV else {
                throw fail("\(file.path): shapes (H=\(H), HV=\(HV), K=\(K), V=\(V)) do not match preset '\(p)' (H=\(pr.keyHeads), HV=\(pr.valueHeads), K=\(pr.keyDim), V=\(pr.valueDim))")
            }
            c = pr.config()
        }
        c.keyDim = K
        c.valueDim = V
        c.replay = x.inputs
        c.l2NormalizeQK = x.options.qkL2Norm
        if kind == .deltanet { c.gates = .none }
        do { try c.validate() } catch { throw fail("\(file.path): \(error)") }
        let base = c
        return Plan(tokens: T, inputs: x.views, outputShape: [T, HV, V], stateShape: [HV, K, V], roles: DeltaRuleConfig.recurrentRoles) { tier, recipe in
            try (0..<HV).map { h in
                var c = base
                c.head = h
                c.keyHead = h / (HV / H)
                return try DeltaDefinition.makeRun(config: c, form: "recurrent", tier: tier, recipe: recipe)
            }
        }
    }
}
