import AttentionVariants
import ExactArithmetic
import Foundation
import NumberFormats
import Workloads

/// The tensors replay reads for a variant (flash-linear-attention's calling convention; an
/// optional leading batch of 1 on every per-token tensor).
public struct ReplayTensorSpec: Sendable {
    public var name: String
    public var shape: String
    public var meaning: String
    public var required: Bool
}

/// `attnprec replay`: one variant on tensors from a `.safetensors` file or a folder of `.npy`
/// files — the exact reference (Float64, certified against MPFR on a prefix) and every recipe's
/// emulation, position by position, with each `--compare` output (a user's own kernel) judged
/// against the same reference (DESIGN.md §9).
public enum Replay {
    public static let recurrentVariants = ["linear", "retnet", "lightning", "gla", "mamba2", "deltanet", "gated_deltanet", "kda", "rwkv7"]
    static let gatedVariants = ["retnet", "lightning", "gla", "mamba2"]
    public static let softmaxVariants = ["mha", "gqa", "mqa", "swa"]
    public static let sparseVariants = ["moba", "nsa"]
    public static let latentVariants = ["mla", "dsa"]
    public static var supported: [String] { recurrentVariants + softmaxVariants + sparseVariants + latentVariants }
    /// Variants with a KV cache instead of a recurrent state.
    static func cached(_ v: String) -> Bool { softmaxVariants.contains(v) || sparseVariants.contains(v) }

    /// What `variant` expects, for `variants show` and error messages.
    public static func tensors(_ variant: String) -> [ReplayTensorSpec]? {
        let qkv = [
            ReplayTensorSpec(name: "q", shape: "[T, H, K]", meaning: "queries as the kernel receives them", required: true),
            ReplayTensorSpec(name: "k", shape: "[T, H, K]", meaning: "keys", required: true),
        ]
        let initialState = ReplayTensorSpec(name: "initial_state", shape: "[HV, K, V]", meaning: "state before position 0 (optional; zero when absent)", required: false)
        switch variant {
        case "linear":
            return qkv + [ReplayTensorSpec(name: "v", shape: "[T, H, V]", meaning: "values; scale K^-1/2, no decay", required: true), initialState]
        case "retnet":
            return [
                ReplayTensorSpec(name: "q", shape: "[T, H, K]", meaning: "queries", required: true),
                ReplayTensorSpec(name: "k", shape: "[T, H, K]", meaning: "keys, scaled by K^-1/2 in the kernel (torchscale)", required: true),
                ReplayTensorSpec(name: "v", shape: "[T, H, V]", meaning: "values; decay γ_h = 1 − 2^(−5−h) by head index", required: true),
                initialState,
            ]
        case "lightning":
            return [
                ReplayTensorSpec(name: "q", shape: "[T, H, K]", meaning: "queries, no scale (MiniMax-01: H = 64, K = 128)", required: true),
                ReplayTensorSpec(name: "k", shape: "[T, H, K]", meaning: "keys", required: true),
                ReplayTensorSpec(name: "v", shape: "[T, H, V]", meaning: "values; λ_h = exp(−slope_rate_h)", required: true),
                ReplayTensorSpec(name: "slope_rate", shape: "[H]", meaning: "MiniMax's per-head slope_rate after the layer factor (optional; "
                    + "absent: --layer l [--layers L, default 80] gives (2^(−8/H))^(h+1)·(1 − l/(L−1) + 1e−5), H from the tensors)", required: false),
                initialState,
            ]
        case "gla":
            return qkv + [
                ReplayTensorSpec(name: "v", shape: "[T, H, V]", meaning: "values; q scaled by K^-1/2", required: true),
                ReplayTensorSpec(name: "gk", shape: "[T, H, K]", meaning: "per-channel log decay: α = exp(gk) (also read as 'g')", required: true),
                initialState,
            ]
        case "mamba2":
            return [
                ReplayTensorSpec(name: "x", shape: "[T, H, P]", meaning: "inputs (the values)", required: true),
                ReplayTensorSpec(name: "dt", shape: "[T, H]", meaning: "raw dt: Δ = softplus(dt + dt_bias)", required: true),
                ReplayTensorSpec(name: "A_log", shape: "[H]", meaning: "A = −exp(A_log); decay exp(Δ·A)", required: true),
                ReplayTensorSpec(name: "B", shape: "[T, G, N]", meaning: "input projections (the keys); G groups dividing H", required: true),
                ReplayTensorSpec(name: "C", shape: "[T, G, N]", meaning: "output projections (the queries)", required: true),
                ReplayTensorSpec(name: "D", shape: "[H]", meaning: "skip: y += D·x (optional; 0 when absent)", required: false),
                ReplayTensorSpec(name: "dt_bias", shape: "[H]", meaning: "optional; 0 when absent (dt already biased)", required: false),
                ReplayTensorSpec(name: "initial_state", shape: "[H, N, P]", meaning: "state before position 0 (optional; zero when absent)", required: false),
            ]
        case "deltanet", "gated_deltanet", "kda":
            var s = qkv
            s[0].meaning += " (L2-normalised in the kernel, eps 1e-6, unless --no-qk-l2norm; then scaled by K^-1/2)"
            s[1].meaning += " (L2-normalised in the kernel, eps 1e-6, unless --no-qk-l2norm)"
            s.append(ReplayTensorSpec(name: "v", shape: "[T, HV, V]", meaning: "values; HV a multiple of H (value head h reads key head h/(HV/H))", required: true))
            if variant == "gated_deltanet" {
                s.append(ReplayTensorSpec(name: "g", shape: "[T, HV]", meaning: "log decay: α = exp(g)", required: true))
            } else if variant == "kda" {
                s.append(ReplayTensorSpec(name: "gk", shape: "[T, HV, K]", meaning: "per-channel log decay: α = exp(gk) (also read as 'g')", required: true))
            }
            s.append(ReplayTensorSpec(name: "beta", shape: "[T, HV]", meaning: "write strength β itself (after the sigmoid)", required: true))
            s.append(initialState)
            return s
        case "mha", "gqa", "mqa", "swa":
            return [
                ReplayTensorSpec(name: "q", shape: "[T, HQ, D]", meaning: "queries; scale D^-1/2" + (variant == "swa"
                    ? "; window, sink tokens and sink logit from --preset (default: window 128, 4 sink tokens, sink logit 0.5)" : ""), required: true),
                ReplayTensorSpec(name: "k", shape: "[T, HKV, D]", meaning: "keys; HQ a multiple of HKV (mha: HKV = HQ, mqa: HKV = 1)", required: true),
                ReplayTensorSpec(name: "v", shape: "[T, HKV, Dv]", meaning: "values", required: true),
            ]
        case "moba", "nsa":
            var s = [
                ReplayTensorSpec(name: "q", shape: "[T, HQ, D]", meaning: "queries; scale D^-1/2; blocks of --block-size tokens (default 64), "
                    + "--top-k blocks (default 4)" + (variant == "nsa" ? ", window --window tokens (default 64)" : ""), required: true),
                ReplayTensorSpec(name: "k", shape: "[T, HKV, D]", meaning: "keys; HQ a multiple of HKV; block scores from the mean keys", required: true),
                ReplayTensorSpec(name: "v", shape: "[T, HKV, Dv]", meaning: "values", required: true),
            ]
            if variant == "nsa" {
                s.append(ReplayTensorSpec(name: "gates", shape: "[T, HQ, 3]", meaning: "gate logits (before the sigmoid) of the compressed, selected and window branches", required: true))
            }
            return s
        case "rwkv7":
            return [
                ReplayTensorSpec(name: "r", shape: "[T, H, K]", meaning: "receptance (the query); no scale (FLA's RWKV7 layer: scale 1.0)", required: true),
                ReplayTensorSpec(name: "w", shape: "[T, H, K]", meaning: "log decay: w_t = exp(w) (x070: −0.606531·σ(w_raw))", required: true),
                ReplayTensorSpec(name: "k", shape: "[T, H, K]", meaning: "keys after the a-mix: k ⊙ (1 + (a − 1)·k_a)", required: true),
                ReplayTensorSpec(name: "v", shape: "[T, H, K]", meaning: "values (square heads: V = K)", required: true),
                ReplayTensorSpec(name: "a", shape: "[T, H, K]", meaning: "−κ̂ (FLA's a = −kk); S ← Diag(exp w) S + b (Sᵀa)ᵀ + k vᵀ, o = Sᵀ r", required: true),
                ReplayTensorSpec(name: "b", shape: "[T, H, K]", meaning: "κ̂ ⊙ σ(a_raw) (FLA's b = kk·a); states written K×V (RWKV's code holds V×K)", required: true),
            ]
        case "mla", "dsa":
            var s = [
                ReplayTensorSpec(name: "kv_cache", shape: "[T, L]", meaning: "the latent after kv_norm, as DeepSeek's kv_cache holds it (L = kv_lora_rank, 512)", required: true),
                ReplayTensorSpec(name: "pe_cache", shape: "[T, R]", meaning: "k_pe after RoPE, as DeepSeek's pe_cache holds it (R = 64; [T, 1, R] accepted)", required: true),
                ReplayTensorSpec(name: "q_nope", shape: "[T, H, N]", meaning: "queries' no-RoPE part (N = qk_nope_head_dim, 128), before absorbing W_UK", required: true),
                ReplayTensorSpec(name: "q_pe", shape: "[T, H, R]", meaning: "queries' RoPE part, after RoPE; scale (N+R)^-1/2·mscale² (--preset kimi-linear: mscale 1)", required: true),
                ReplayTensorSpec(name: "wkv_b", shape: "[H·(N+V), L]", meaning: "DeepSeek's wkv_b.weight (or viewed [H, N+V, L]): W_UK = wkv_b[:, :N], W_UV = wkv_b[:, -V:]", required: true),
            ]
            if variant == "dsa" {
                s += [
                    ReplayTensorSpec(name: "indexer_q", shape: "[T, Hi, D]", meaning: "indexer queries after RoPE and the Hadamard rotation (V3.2: Hi = 64, D = 128)", required: true),
                    ReplayTensorSpec(name: "indexer_k", shape: "[T, D]", meaning: "indexer keys after k_norm, RoPE and the Hadamard rotation", required: true),
                    ReplayTensorSpec(name: "indexer_weights", shape: "[T, Hi]", meaning: "weights_proj output; scaled by (Hi·D)^-1/2 here; top --top-k tokens (default 256; --preset deepseek-v3.2: 2048)", required: true),
                ]
            }
            return s
        default:
            return nil
        }
    }

    public struct Options: Sendable {
        public var variant: String
        public var preset: String?
        public var inputs: String
        public var recipes: [String]
        public var compares: [String]
        public var out: String
        public var certifyTokens = 64
        public var bits = 128
        /// Delta rule: L2-normalise q and k in the kernel (FLA's use_qk_l2norm_in_kernel=True, as
        /// its layers call it); false when the dumped q and k are already normalised.
        public var qkL2Norm = true
        /// Lightning: the layer index and count of MiniMax's slope schedule (when no `slope_rate` is given).
        public var layer: Int?
        public var layers: Int?
        /// MoBA/NSA: tokens per block, blocks selected, NSA's window (nil: 64, 4, 64).
        public var blockSize: Int?
        public var topK: Int?
        public var window: Int?
        /// Threads stepping the runs (each run on one thread, in order: the same bits for any count).
        public var jobs = 1
        /// Positions per block (nil: as many as fit 8 MB per series); tests set small blocks.
        var blockPositions: Int?

        public init(variant: String, preset: String? = nil, inputs: String, recipes: [String] = [], compares: [String] = [], out: String) {
            self.variant = variant
            self.preset = preset
            self.inputs = inputs
            self.recipes = recipes
            self.compares = compares
            self.out = out
        }
    }

    /// One row of errors.json: a recipe's emulation or a compared output.
    public struct Series: Codable, Sendable {
        public var name: String
        public var kind: String
        public var recipe: [String: String]?
        public var file: String
        public var outputRelErr: [Double]
        public var maxOutputRelErr: Double
        public var meanOutputRelErr: Double
        public var finalStateRelErr: Double?

        enum CodingKeys: String, CodingKey {
            case name, kind, recipe, file
            case outputRelErr = "output_rel_err"
            case maxOutputRelErr = "max_output_rel_err"
            case meanOutputRelErr = "mean_output_rel_err"
            case finalStateRelErr = "final_state_rel_err"
        }
    }

    public struct Result: Codable, Sendable {
        public var variant: String
        public var preset: String?
        public var inputs: String
        public var tokens: Int
        public var outputShape: [Int]
        public var stateShape: [Int]?
        public var reference: StudyRecord.ReferenceInfo
        public var series: [Series]

        enum CodingKeys: String, CodingKey {
            case variant, preset, inputs, tokens, reference, series
            case outputShape = "output_shape"
            case stateShape = "state_shape"
        }
    }

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
        guard let specs = tensors(v) else {
            if (try? VariantCatalog.entry(v)) != nil {
                throw fail("--variant: replay not supported yet for '\(v)'; supported: \(supported.joined(separator: ", "))")
            }
            throw fail("--variant: unknown '\(v)'; replay supports \(supported.joined(separator: ", "))")
        }
        if v != "lightning" && (o.layer != nil || o.layers != nil) { throw fail("--layer/--layers: only lightning's decay depends on the layer") }
        if !sparseVariants.contains(v) && o.window != nil || !(sparseVariants + ["dsa"]).contains(v) && o.topK != nil
            || !sparseVariants.contains(v) && o.blockSize != nil {
            throw fail("--block-size/--top-k/--window: only moba and nsa select blocks (nsa: --window), dsa --top-k tokens")
        }
        if latentVariants.contains(v) { return try latentPlan(o, file: file, specs: specs) }
        /// The stream a file tensor feeds (Mamba2: C, B, x are the q, k, v of the recurrence).
        func stream(_ name: String) -> String {
            if v == "mamba2" { return ["x": "v", "B": "k", "C": "q"][name] ?? name }
            if v == "rwkv7" { return name == "r" ? "q" : name }
            return name == "gk" ? "g" : name
        }
        var rows: [String: TensorRows] = [:]
        var layouts: [String: String] = [:]
        for s in specs where s.required && s.shape.hasPrefix("[T") {
            var view = file[s.name]
            if view == nil && s.name == "gk" { view = file["g"] }
            guard let view else { throw missing(file, s.name, v, specs) }
            do {
                let r = try TensorRows(view, perChannel: s.shape.split(separator: ",").count == 3)
                rows[stream(s.name)] = r
                layouts[stream(s.name)] = s.shape
            } catch let e as TensorFileError { throw fail(e.message) }
        }
        let q = rows["q"]!, k = rows["k"]!, vv = rows["v"]!
        let T = q.tokens
        for (name, r) in rows.sorted(by: { $0.key < $1.key }) where r.tokens != T {
            let first = ["mamba2": "C", "rwkv7": "r"][v] ?? "q"
            throw fail("\(r.view.file): tensor '\(r.view.name)': shape \(r.view.shapeText) read as \(layouts[name]!) has T = \(r.tokens), but '\(first)' has T = \(T)")
        }
        if k.heads != q.heads && !cached(v) { throw mismatch(k, "'\(q.view.name)' \(q.view.shapeText) (same H)") }
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
            guard !cached(v) else { throw fail("\(s0.file): tensor 'initial_state': \(v) has no recurrent state") }
            let HV = vv.heads, K = q.width, V = vv.width
            var shape = s0.shape
            if shape.count == 4 && shape[0] == 1 { shape.removeFirst() }
            guard shape == [HV, K, V] else {
                throw fail("\(s0.file): tensor 'initial_state': shape \(s0.shapeText); expected [HV, K, V] = [\(HV), \(K), \(V)] (or with a leading batch 1)")
            }
            constants["initial_state"] = s0
        }
        let x = Checked(options: o, file: file, rows: rows, constants: constants, inputs: ReplayInputs(streams: rows, constants: constants))
        if softmaxVariants.contains(v) { return try softmaxPlan(x) }
        if sparseVariants.contains(v) { return try sparsePlan(x) }
        if v == "linear" { return try linearPlan(x) }
        if v == "rwkv7" { return try rwkvPlan(x) }
        guard x.HV % x.H == 0 else { throw mismatch(vv, "'\(q.view.name)' \(q.view.shapeText): H = \(x.H) must divide HV = \(x.HV)") }
        if gatedVariants.contains(v) { return try gatedPlan(x) }
        return try deltaPlan(x)
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

    static func softmaxPlan(_ x: Checked) throws -> Plan {
        let v = x.variant, q = x.q, k = x.k, vv = x.v, file = x.file, T = x.T
        try checkKV(x)
        var c = SoftmaxCatalog.defaultConfig(v)!
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
        do { try SoftmaxCatalog.check(v, c) } catch { throw fail("\(file.path): \(error)") }
        let config = c
        return Plan(tokens: T, inputs: x.views, outputShape: [T, q.heads, vv.width], stateShape: nil, roles: SoftmaxAttentionConfig.roles) { tier, recipe in
            [try SoftmaxCatalog.makeRun(variant: v, config: config, tier: tier, recipe: recipe).run]
        }
    }

    /// MoBA and NSA: softmax over the blocks the mean keys select; NSA's three branches mixed by
    /// the given gate logits.
    static func sparsePlan(_ x: Checked) throws -> Plan {
        let v = x.variant, q = x.q, k = x.k, vv = x.v, file = x.file, o = x.options
        try checkKV(x)
        if let g = x.rows["gates"], g.heads != q.heads || g.width != 3 {
            throw mismatch(g, "'q' \(q.view.shapeText): gates are [T, HQ, 3]")
        }
        if o.preset != nil { throw fail("--preset: \(v) has no presets; give --block-size, --top-k\(v == "nsa" ? ", --window" : "")") }
        if v == "moba" && o.window != nil { throw fail("--window: moba has no sliding window (nsa has)") }
        var c = SparseCatalog.defaultConfig(v)!
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
        var c = v == "mla" ? DSAConfig(mla: SoftmaxFamily.defaultMLA) : SoftmaxFamily.defaultDSA
        if let p = o.preset {
            guard let pr = SoftmaxFamily.mlaPresets.first(where: { $0.name == p }) else {
                throw fail("--preset: unknown '\(p)'; valid: \(SoftmaxFamily.mlaPresets.map(\.name).joined(separator: ", "))")
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
        if v == "dsa" {
            let iq = rows["indexer_q"]!, ik = rows["indexer_k"]!, iw = rows["indexer_weights"]!
            guard ik.width == iq.width else { throw mismatch(ik, "'indexer_q' \(iq.view.shapeText) (same D)") }
            guard iw.width == iq.heads else { throw mismatch(iw, "'indexer_q' \(iq.view.shapeText) (one weight per indexer head)") }
            (c.indexHeads, c.indexDim) = (iq.heads, iq.width)
            c.indexRopeDim = 0  // replayed q and k are already rotated
            if let k = o.topK { c.topK = k }
        }
        c.mla.replay = ReplayInputs(streams: rows, constants: ["wkv_b": w])
        do { try v == "mla" ? c.mla.validate() : c.validate() } catch { throw fail("\(file.path): \(error)") }
        let config = c
        return Plan(tokens: T, inputs: rows.values.map(\.view) + [w], outputShape: [T, H, V], stateShape: nil,
                    roles: v == "mla" ? MLAConfig.roles : DSAConfig.roles) { tier, recipe in
            [v == "mla" ? try SoftmaxFamily.makeMLA(config.mla, tier: tier, recipe: recipe) : try SoftmaxFamily.makeDSA(config, tier: tier, recipe: recipe)]
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
                return try GatedFamily.makeRWKV7(config: c, tier: tier, recipe: recipe)
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
        do { _ = try VariantCatalog.makeRun(variant: "linear", tier: .float64, linear: base) } catch { throw fail("\(file.path): \(error)") }
        return Plan(tokens: T, inputs: x.views, outputShape: [T, H, V], stateShape: [H, K, V], roles: LinearAttentionConfig.roles) { tier, recipe in
            (0..<H).map { h in
                var c = base
                c.head = h
                switch tier {
                case .mpfr(let bits): return LinearAttentionDecode(config: c, backend: MPFRBackend(precision: bits), recipe: recipe)
                case .float64: return LinearAttentionDecode(config: c, backend: Float64Backend(), recipe: recipe)
                case .doubleDouble: return LinearAttentionDecode(config: c, backend: DoubleDoubleBackend(), recipe: recipe)
                case .float32: return LinearAttentionDecode(config: c, backend: Float32Backend(), recipe: recipe)
                }
            }
        }
    }

    static func gatedPlan(_ x: Checked) throws -> Plan {
        let (v, T, K, V, H, HV, file) = (x.variant, x.T, x.K, x.V, x.H, x.HV, x.file)
        if let g = x.rows["g"], g.heads != HV || g.width != K { throw mismatch(g, "'k' \(x.k.view.shapeText) and 'v' \(x.v.view.shapeText): gk is [T, H, K]") }
        if let dt = x.rows["dt"], dt.heads != HV { throw mismatch(dt, "'x' \(x.v.view.shapeText) (same H)") }
        if v != "mamba2" && HV != H { throw mismatch(x.v, "'q' \(x.q.view.shapeText): \(v) has one value head per key head") }
        if x.options.preset != nil { throw fail("--preset: replay of \(v) takes its shapes from the tensors; no presets") }
        var c = GatedFamily.defaultConfig(v)!
        c.keyDim = K
        c.valueDim = V
        c.heads = HV
        if v == "lightning" {
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
                    roles: v == "mamba2" ? GatedLinearConfig.mamba2Roles.filter { $0 != .chunkState } : GatedLinearConfig.roles.filter { $0 != .chunkState }) { tier, recipe in
            try (0..<HV).map { h in
                var c = base
                c.head = h
                c.keyHead = h / (HV / H)
                if v == "mamba2" { c.skip = skip?.element(h) ?? 0 }
                do { try c.validate() } catch { throw StudyInputError("\(file.path): \(error)") }
                return try GatedFamily.makeRun(config: c, form: "recurrent", tier: tier, recipe: recipe)
            }
        }
    }

    static func deltaPlan(_ x: Checked) throws -> Plan {
        let (v, T, K, V, H, HV, file) = (x.variant, x.T, x.K, x.V, x.H, x.HV, x.file)
        for name in ["g", "beta"] {
            guard let r = x.rows[name] else { continue }
            guard r.heads == HV else { throw mismatch(r, "'v' \(x.v.view.shapeText) (same HV)") }
            if name == "g" && v == "kda" && r.width != K { throw mismatch(r, "'k' \(x.k.view.shapeText) (KDA gates have K channels)") }
        }
        let kind = DeltaKind(rawValue: v)!
        var c = DeltaCatalog.defaultConfig(kind)
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
                return try DeltaCatalog.makeRun(config: c, form: "recurrent", tier: tier, recipe: recipe)
            }
        }
    }

    /// A file-name-safe form of a recipe: `state=bfloat16,q=bfloat16` → `state-bfloat16_q-bfloat16`.
    public static func fileName(_ recipe: String) -> String {
        String(recipe.map { c -> Character in
            if c == "=" { return "-" }
            if c == "," { return "_" }
            return c.isLetter || c.isNumber || c == "-" || c == "_" || c == "." ? c : "~"
        })
    }

    /// Runs the replay and writes o_ref.npy, o_<recipe>.npy, state_*.npy, errors.json and
    /// report.md into `o.out` — all or nothing.
    @discardableResult
    public static func run(_ o: Options) throws -> Result {
        let file: TensorFile
        do { file = try TensorFile.open(o.inputs) } catch let e as TensorFileError { throw fail(e.message) }
        let plan = try plan(o, file: file)
        for t in plan.inputs.sorted(by: { $0.name < $1.name }) {
            if let bad = t.firstNonFinite() {
                throw fail("\(t.file): tensor '\(t.name)': element \(bad) is \(t.element(bad)); inputs must be finite")
            }
        }
        let T = plan.tokens
        // Recipes.
        var recipes: [(name: String, text: String, recipe: Recipe)] = []
        for text in o.recipes {
            let r: Recipe
            do { r = try Recipe.parse(text, allowed: plan.roles) } catch { throw fail("--recipe '\(text)': \(error)") }
            let name = fileName(text)
            guard !name.isEmpty, !recipes.contains(where: { $0.name == name }) else { throw fail("--recipe '\(text)': empty or given twice") }
            recipes.append((name, text, r.fast))
        }
        // Compared outputs.
        var compares: [(label: String, view: TensorView, rowOffset: Int)] = []
        let rowWidth = plan.outputShape.dropFirst().reduce(1, *)
        for text in o.compares {
            guard let eq = text.firstIndex(of: "="), eq != text.startIndex else {
                throw fail("--compare '\(text)': expected LABEL=FILE.npy")
            }
            let label = String(text[..<eq]), path = String(text[text.index(after: eq)...])
            guard fileName(label) == label, label != "ref", !compares.contains(where: { $0.label == label }) else {
                throw fail("--compare '\(text)': label must be letters, digits, '-', '_' or '.', not 'ref', and unique")
            }
            let view: TensorView
            do { view = try NPY.view(path: path) } catch let e as TensorFileError { throw fail(e.message) }
            var s = view.shape
            if s.count == plan.outputShape.count + 1 && s.first == 1 { s.removeFirst() }
            guard s == plan.outputShape else {
                throw fail("\(path): tensor '\(view.name)': shape \(view.shapeText); expected the output shape \(plan.outputShape)")
            }
            compares.append((label, view, 0))
        }
        // Runs.
        let reference: [SteppedRun], emulated: [[SteppedRun]]
        do {
            reference = try plan.make(.float64, Recipe())
            emulated = try recipes.map { try plan.make(.float32, $0.recipe) }
        } catch let e as VariantError { throw fail("\(o.inputs): \(e.description)") }
        // Output files go to a scratch folder beside --out, moved in at the end.
        let fm = FileManager.default
        let outURL = URL(fileURLWithPath: o.out).standardizedFileURL
        let scratch = outURL.deletingLastPathComponent().appendingPathComponent(".\(outURL.lastPathComponent).partial-\(getpid())").path
        do { try fm.createDirectory(atPath: scratch, withIntermediateDirectories: true) } catch {
            throw fail("\(o.out): cannot create (\(error.localizedDescription))")
        }
        var finished = false
        defer { if !finished { try? fm.removeItem(atPath: scratch) } }
        func wrap<R>(_ body: () throws -> R) throws -> R {
            do { return try body() } catch let e as TensorFileError { throw fail(e.message) }
        }
        let refWriter = try wrap { try NPYStreamWriter(path: scratch + "/o_ref.npy", shape: plan.outputShape, dtype: .float64) }
        let writers = try recipes.map { r in try wrap { try NPYStreamWriter(path: scratch + "/o_\(r.name).npy", shape: plan.outputShape, dtype: .float32) } }
        let meter = ErrorMeter()
        // Memory is bounded by the block, not by T.
        let block = max(1, min(T, o.blockPositions ?? (1 << 20) / max(rowWidth, 1)))
        let errors = try wrap {
            try stepAndMeasure([reference] + emulated, compares: compares.map(\.view), rowWidth: rowWidth, tokens: T, block: block,
                               jobs: o.jobs, writers: [refWriter] + writers)
        }
        try wrap {
            try refWriter.finish()
            for w in writers { try w.finish() }
        }
        // Final states.
        var stateErrors = [Double?](repeating: nil, count: recipes.count)
        if let shape = plan.stateShape {
            let per = reference[0].stateCount
            func states(_ runs: [SteppedRun]) -> [Double] {
                var s = [Double](repeating: 0, count: per * runs.count)
                s.withUnsafeMutableBufferPointer { b in
                    for (h, r) in runs.enumerated() { r.readState(into: UnsafeMutableBufferPointer(rebasing: b[h * per..<(h + 1) * per])) }
                }
                return s
            }
            let ref = states(reference)
            try wrap {
                let w = try NPYStreamWriter(path: scratch + "/state_ref.npy", shape: shape, dtype: .float64)
                try w.append(ref)
                try w.finish()
            }
            for (i, runs) in emulated.enumerated() {
                let s = states(runs)
                try wrap {
                    let w = try NPYStreamWriter(path: scratch + "/state_\(recipes[i].name).npy", shape: shape, dtype: .float32)
                    try w.append(s)
                    try w.finish()
                }
                let d = ref.withUnsafeBufferPointer { a in s.withUnsafeBufferPointer { b in meter.distance(reference: a, b) } }
                stateErrors[i] = d.nonFinite > 0 ? .nan : d.relative
            }
        }
        // The reference certified against MPFR on a prefix (head 0).
        let n = min(T, o.certifyTokens)
        var info = StudyRecord.ReferenceInfo(tier: BackendTier.float64.description, certifiedTokens: n, bits: o.bits)
        if n > 0 {
            let c = try ReferenceCertification.certify(
                variant: o.variant, form: "recurrent", tokens: n, bits: o.bits, fastTier: .float64, doublePrecisionTokens: min(n, 32)
            ) { tier in try plan.make(tier, Recipe())[0] }
            info.fastVsMPFROutput = c.fastVsMPFR.outputMaxRel
            info.fastVsMPFRState = c.fastVsMPFR.stateMaxRel
            info.mpfrPVs2POutput = c.mpfrPVs2P.outputMaxRel
            info.mpfrPVs2PState = c.mpfrPVs2P.stateMaxRel
            info.pass = c.pass
        }
        func summary(_ e: [Double]) -> (Double, Double) {
            if e.contains(where: { $0.isNaN }) { return (.nan, .nan) }
            return (e.max() ?? 0, e.isEmpty ? 0 : e.reduce(0, +) / Double(e.count))
        }
        var series: [Series] = []
        for (i, r) in recipes.enumerated() {
            let (mx, mean) = summary(errors[i])
            series.append(Series(name: r.name, kind: "recipe", recipe: RecipeResolver.canonical(r.recipe), file: "o_\(r.name).npy",
                                 outputRelErr: errors[i], maxOutputRelErr: mx, meanOutputRelErr: mean, finalStateRelErr: stateErrors[i]))
        }
        for (j, c) in compares.enumerated() {
            let e = errors[recipes.count + j]
            let (mx, mean) = summary(e)
            series.append(Series(name: c.label, kind: "compare", recipe: nil, file: c.view.file, outputRelErr: e,
                                 maxOutputRelErr: mx, meanOutputRelErr: mean, finalStateRelErr: nil))
        }
        let result = Result(variant: o.variant, preset: o.preset, inputs: o.inputs, tokens: T, outputShape: plan.outputShape,
                            stateShape: plan.stateShape, reference: info, series: series)
        try wrap {
            try NPY.writeAtomically(try StudyJSON.encoder(pretty: true).encode(result), to: scratch + "/errors.json")
            try NPY.writeAtomically(Data(report(result).utf8), to: scratch + "/report.md")
        }
        // Move into place.
        do {
            try fm.createDirectory(atPath: o.out, withIntermediateDirectories: true)
            for name in try fm.contentsOfDirectory(atPath: scratch).sorted() {
                let dst = (o.out as NSString).appendingPathComponent(name)
                if fm.fileExists(atPath: dst) { try fm.removeItem(atPath: dst) }
                try fm.moveItem(atPath: scratch + "/" + name, toPath: dst)
            }
        } catch { throw fail("\(o.out): cannot write (\(error.localizedDescription))") }
        finished = true
        try? fm.removeItem(atPath: scratch)
        return result
    }

    /// Steps the reference (series 0) and every recipe's runs in lockstep, blocks of `block`
    /// positions on `jobs` threads, each series' heads side by side; streams each series' output
    /// rows to its writer and returns each recipe's, then each compared file's, error per
    /// position (NaN where anything is not finite).
    static func stepAndMeasure(
        _ series: [[SteppedRun]], compares: [TensorView], rowWidth: Int, tokens T: Int, block: Int, jobs: Int,
        writers: [NPYStreamWriter]
    ) throws -> [[Double]] {
        let meter = ErrorMeter()
        var apxRow = [Double](repeating: 0, count: rowWidth)
        var errors = [[Double]](repeating: [], count: series.count - 1 + compares.count)
        for i in errors.indices { errors[i].reserveCapacity(T) }
        func distance(_ ref: UnsafeBufferPointer<Double>, _ apx: UnsafeBufferPointer<Double>) -> Double {
            let d = meter.distance(reference: ref, apx)
            return d.nonFinite > 0 ? .nan : d.relative
        }
        var runs: [BlockRun] = [], groups: [[Int]] = []
        for heads in series {
            groups.append(Array(runs.count..<runs.count + heads.count))
            runs += heads.map { SteppedBlockRun($0) as BlockRun }
        }
        let engine = LockstepEngine(runs: runs, groups: groups, maxBlock: block, threads: jobs)
        try engine.run(tokens: T, endsAt: { _ in false }, measure: { start, n in
            for i in 0..<n {
                let ref = engine.row(0, i)
                try writers[0].append(ref)
                for r in series.indices.dropFirst() {
                    let apx = engine.row(r, i)
                    try writers[r].append(apx)
                    errors[r - 1].append(distance(ref, apx))
                }
                for (j, c) in compares.enumerated() {
                    apxRow.withUnsafeMutableBufferPointer { c.fill($0, from: (start + i) * rowWidth) }
                    errors[series.count - 1 + j].append(apxRow.withUnsafeBufferPointer { distance(ref, $0) })
                }
            }
        })
        return errors
    }

    /// report.md: the reference's certification, a summary per series, and per-position errors
    /// side by side at a log-spaced sample of positions.
    public static func report(_ r: Result) -> String {
        func f(_ x: Double?) -> String {
            guard let x else { return "—" }
            if x.isNaN { return "NaN" }
            return x == 0 ? "0" : String(format: "%.3e", x)
        }
        var s = "# Replay: \(r.variant)\(r.preset.map { " (\($0))" } ?? "") on \(r.inputs)\n\n"
        s += "\(r.tokens) positions, output \(r.outputShape)\(r.stateShape.map { ", state \($0)" } ?? ""). "
        s += "Errors are ‖o − o_ref‖₂/‖o_ref‖₂ over all heads of a position; o_ref is the Float64 reference"
        let c = r.reference
        s += " (certified on its first \(c.certifiedTokens) positions, \(r.stateShape == nil ? "all heads" : "head 0"): Float64 vs MPFR-\(c.bits) \(f(c.fastVsMPFROutput)), "
        s += "MPFR-\(c.bits) vs MPFR-\(2 * c.bits) \(f(c.mpfrPVs2POutput)); \(c.pass == true ? "pass" : "FAIL")).\n\n"
        s += "| series | kind | max | mean | at last position | final state |\n|---|---|---|---|---|---|\n"
        for e in r.series {
            s += "| \(e.name) | \(e.kind) | \(f(e.maxOutputRelErr)) | \(f(e.meanOutputRelErr)) | \(f(e.outputRelErr.last)) | \(f(e.finalStateRelErr)) |\n"
        }
        guard !r.series.isEmpty else { return s }
        let schedule = EvaluationSchedule.sampled(tokens: r.tokens, perOctave: 2)
        s += "\n| position | " + r.series.map(\.name).joined(separator: " | ") + " |\n|---|" + String(repeating: "---|", count: r.series.count) + "\n"
        for t in 0..<r.tokens where schedule.contains(t) {
            s += "| \(t) | " + r.series.map { f($0.outputRelErr[t]) }.joined(separator: " | ") + " |\n"
        }
        return s
    }
}
