import AttentionVariants
import Dispatch
import ExactArithmetic
import Foundation
import NumberFormats
import Workloads

extension StackStream {
    /// Softmax attention (HQ query heads over HKV KV heads, scale D^−1/2, no RoPE: a rotation per
    /// channel pair moves which keys a query favours, not what the cache stores): the gated
    /// form (Qwen3-Next) adds q/k RMSNorm per head and ⊙ σ(gate) on the output. The decode form
    /// evaluates each position from the cache; the chunked form is the kernel's blocked
    /// FlashAttention-2 prefill (chunks of 64 written to the cache at once).
    func attention(_ kind: LayerKind, layer l: Int, _ h: Tensor, _ out: Tensor, _ w: LayerWeights) throws {
        let (hq, hkv, D) = (shape.attentionHeads, shape.attentionKVHeads, shape.model.attentionHeadDim)
        let q = project("q", h, w), k = project("k", h, w), v = project("v", h, w)
        let gated = kind == .gatedAttention
        if gated {
            rmsNorm(q, group: D)
            rmsNorm(k, group: D)
        }
        let o = buffer("o", hq * D)
        try runMixer(kind, layer: l, [("q", q, [tokens, hq, D]), ("k", k, [tokens, hkv, D]), ("v", v, [tokens, hkv, D])],
                     constants: [], options: mixerOptions(), into: o)
        if gated {
            let g = project("gate", h, w)
            b.apply(.sigmoid, g, g)
            b.multiply(o, o, g)
        }
        linear(out, o, "out", w)
    }

    /// MLA as Kimi Linear builds it (NoPE, no q LoRA): the latent kv_a·h after its RMSNorm and
    /// k_pe (not rotated) are what the cache holds; q_nope, q_pe per head; Kimi's softmax scale
    /// (N+R)^−1/2. The decode form absorbs wkv_b (DeepSeek's absorbed decode); the chunked form
    /// decompresses the cached latent through wkv_b and runs the blocked prefill (`MLAPrefill`).
    func latentAttention(layer l: Int, _ h: Tensor, _ out: Tensor, _ w: LayerWeights) throws {
        let m = shape.model, H = shape.attentionHeads, (L, R, N, V) = (m.latentDim, m.latentRope, m.latentNope, m.latentValue)
        let latent = project("kv_a", h, w)
        rmsNorm(latent, group: L)
        let pe = project("k_pe", h, w), qn = project("q_nope", h, w), qp = project("q_pe", h, w)
        let o = buffer("o", H * V)
        var options = ReplayOptions(preset: ModelFacts.kimiLinear.name)
        options.form = form
        try runMixer(.mla, layer: l, [("kv_cache", latent, [tokens, L]), ("pe_cache", pe, [tokens, R]), ("q_nope", qn, [tokens, H, N]), ("q_pe", qp, [tokens, H, R])],
                     constants: [], matrices: [("wkv_b", w["wkv_b"])], options: options, into: o)
        linear(out, o, "out", w)
    }

    /// Runs the mixer of `kind` on the named per-token tensors through its definition's replay
    /// plan (the kernel, its forms and roles exactly as `attnprec replay` runs them), one run per
    /// value head (or one for all heads of a cache); writes the outputs [T, heads·width] into `o`.
    func runMixer(_ kind: LayerKind, layer l: Int, _ inputs: [(String, Tensor, [Int])], constants: [(String, [Double])],
                  matrices: [(String, WeightMatrix)] = [], options: ReplayOptions, into o: Tensor) throws {
        let start = DispatchTime.now().uptimeNanoseconds
        defer { mixerSeconds += Double(DispatchTime.now().uptimeNanoseconds - start) / 1e9 }
        var payloads = inputs.map { name, t, shape in TensorPayload(name: name, dtype: .float64, shape: shape, values: b.read(t)) }
        payloads += constants.map { TensorPayload(name: $0.0, dtype: .float64, shape: [$0.1.count], values: $0.1) }
        payloads += matrices.map { TensorPayload(name: $0.0, dtype: .float64, shape: [$0.1.rows, $0.1.cols], values: $0.1.values) }
        let file = TensorFile(memory: "layer \(l + 1) (\(kind.name))", payloads)
        let plan = try kind.definition!.replayPlan(file: file, options: options)
        var mixerRecipe = recipe.layers[kind] ?? Recipe()
        mixerRecipe[.convState] = nil
        let runs = try plan.make(b.tier, b.tier == .float32 ? mixerRecipe.fast : mixerRecipe).map(blockRun)
        let total = o.cols, block = 256
        var values = [Double](repeating: 0, count: tokens * total)
        var col = 0
        for run in runs {
            let oc = run.base.outputCount
            var rows = [Double](repeating: 0, count: block * oc)
            var t = 0
            while t < tokens {
                let n = min(block, tokens - t)
                run.prepare(n)
                rows.withUnsafeMutableBufferPointer { run.compute(n, outputs: $0.baseAddress!, stride: oc, everyOutput: true) }
                for i in 0..<n { for j in 0..<oc { values[(t + i) * total + col + j] = rows[i * oc + j] } }
                t += n
            }
            if let d = run.base as? StoreDiagnostics { storedNonFinite += d.storedNonFinite.count }
            col += run.base.outputCount
        }
        precondition(col == total, "\(kind.name) mixer wrote \(col) of \(total) output channels")
        b.load(o, values)
    }
}
