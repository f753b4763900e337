import AttentionVariants
import ExactArithmetic
import Foundation
import NumberFormats
import Workloads

/// The layers as the models build them: input projections from the normed residual, the short
/// conv where the model has one, the mixer (the variant's own kernel, every head of the layer,
/// fed through its replay plan), the output gate/norm, the output projection.
extension StackStream {
    func mix(_ kind: LayerKind, layer l: Int, _ h: Tensor, _ out: Tensor, _ w: LayerWeights) throws {
        switch kind {
        case .mlp: mlp(h, out, w)
        case .gatedDeltaNet, .kda: try deltaRule(kind, layer: l, h, out, w)
        case .mamba2: try mamba2(layer: l, h, out, w)
        case .lightning: try lightning(layer: l, h, out, w)
        case .attention, .gatedAttention: try attention(kind, layer: l, h, out, w)
        case .mla: try latentAttention(layer: l, h, out, w)
        }
    }

    /// SwiGLU: down(silu(gate·h) ⊙ up·h); squared ReLU: down(relu(up·h)²).
    func mlp(_ h: Tensor, _ out: Tensor, _ w: LayerWeights) {
        let up = project("up", h, w)
        if shape.model.mlp == .swiglu {
            let g = project("gate", h, w)
            silu(g, g)
            b.multiply(up, up, g)
        } else {
            b.maximum(up, up, b.scalar(0))
            b.multiply(up, up, up)
        }
        linear(out, up, "down", w)
    }

    /// −exp(A_log) as a 1 × n row (n heads, or `repeat` copies per head for per-channel gates).
    func negativeA(_ w: LayerWeights, repeat r: Int = 1) -> Tensor {
        let aLog = w.constants["A_log"]!.flatMap { [Double](repeating: $0, count: r) }
        let t = row("negA", aLog)
        b.apply(.exp, t, t)
        b.scale(t, by: b.scalar(-1))
        return t
    }

    /// Gated DeltaNet (Qwen3-Next) and KDA (Kimi Linear): conv + SiLU on q, k, v; β = σ(b);
    /// g = −exp(A_log)·softplus(a + dt_bias) per head (GDN) or per channel (KDA, a full-rank
    /// stand-in for its low-rank gate projection); q, k L2-normalised in the kernel; the output
    /// RMSNorm per head then ⊙ silu(z) (GDN) or ⊙ σ(gate) (KDA).
    func deltaRule(_ kind: LayerKind, layer l: Int, _ h: Tensor, _ out: Tensor, _ w: LayerWeights) throws {
        let m = shape.model, (hk, hv, K, V) = (shape.linearKeyHeads, shape.linearValueHeads, m.linearKeyDim, m.linearValueDim)
        let q = project("q", h, w), k = project("k", h, w), v = project("v", h, w)
        convSiLU(q, channels: 0..<(hk * K), kind: kind, layer: l, w)
        convSiLU(k, channels: (hk * K)..<(2 * hk * K), kind: kind, layer: l, w)
        convSiLU(v, channels: (2 * hk * K)..<(2 * hk * K + hv * V), kind: kind, layer: l, w)
        let beta = project("b", h, w)
        b.apply(.sigmoid, beta, beta)
        let perChannel = kind == .kda
        let g = project(perChannel ? "f" : "a", h, w)
        eachRow(g, row("dt_bias", w.constants["dt_bias"]!), add: true)
        b.apply(.softplus, g, g)
        eachRow(g, negativeA(w, repeat: perChannel ? K : 1), add: false)
        let o = buffer("o", hv * V)
        var options = ReplayOptions()
        options.form = form
        try runMixer(kind, layer: l, [
            ("q", q, [tokens, hk, K]), ("k", k, [tokens, hk, K]), ("v", v, [tokens, hv, V]),
            (perChannel ? "gk" : "g", g, perChannel ? [tokens, hv, K] : [tokens, hv]), ("beta", beta, [tokens, hv]),
        ], constants: [], options: options, into: o)
        rmsNorm(o, group: V)
        let z = project(perChannel ? "gate" : "z", h, w)
        if perChannel { b.apply(.sigmoid, z, z) } else { silu(z, z) }
        b.multiply(o, o, z)
        linear(out, o, "out", w)
    }

    /// Mamba2 (Nemotron-H): conv + SiLU on x, B, C; Δ = softplus(dt + dt_bias) and the decay
    /// exp(Δ·A) in the kernel, D = 1; y ⊙ silu(z) then RMSNorm per group of heads.
    func mamba2(layer l: Int, _ h: Tensor, _ out: Tensor, _ w: LayerWeights) throws {
        let m = shape.model, (H, P, G, N) = (shape.ssmHeads, m.ssmHeadDim, shape.ssmGroups, m.ssmState)
        let xs = project("x", h, w), bs = project("B", h, w), cs = project("C", h, w)
        convSiLU(xs, channels: 0..<(H * P), kind: .mamba2, layer: l, w)
        convSiLU(bs, channels: (H * P)..<(H * P + G * N), kind: .mamba2, layer: l, w)
        convSiLU(cs, channels: (H * P + G * N)..<(H * P + 2 * G * N), kind: .mamba2, layer: l, w)
        let dt = project("dt", h, w)
        let o = buffer("o", H * P)
        var options = ReplayOptions()
        options.form = form
        try runMixer(.mamba2, layer: l, [("x", xs, [tokens, H, P]), ("B", bs, [tokens, G, N]), ("C", cs, [tokens, G, N]), ("dt", dt, [tokens, H])],
                     constants: [("A_log", w.constants["A_log"]!), ("dt_bias", w.constants["dt_bias"]!), ("D", w.constants["D"]!)],
                     options: options, into: o)
        let z = project("z", h, w)
        silu(z, z)
        b.multiply(o, o, z)
        rmsNorm(o, group: H * P / G)
        linear(out, o, "out", w)
    }

    /// Lightning attention (MiniMax-01): SiLU on q, k, v; the decay λ_h from MiniMax's slope
    /// schedule for the full model's heads this width keeps (evenly spaced) at this layer's
    /// index among its 80; RMSNorm over all heads, ⊙ σ(gate).
    func lightning(layer l: Int, _ h: Tensor, _ out: Tensor, _ w: LayerWeights) throws {
        let m = shape.model, (H, K, V) = (shape.linearKeyHeads, m.linearKeyDim, m.linearValueDim)
        let q = project("q", h, w), k = project("k", h, w), v = project("v", h, w)
        for t in [q, k, v] { silu(t, t) }
        let full = m.linearKeyHeads, depth = shape.layers.filter { $0 != .mlp }.count
        let index = shape.layers[..<l].filter { $0 != .mlp }.count
        let factor = 1 - Double(index) / Double(max(depth - 1, 1)) + 1e-5
        // MiniMax's base 2^(−8/H_full) as a correctly rounded exp (the same double on every machine), its powers by products.
        let f64 = Float64Backend(), e = f64.scalar(-8 * 0.6931471805599453 / Double(full))
        f64.apply(.exp, e, e)
        let base = f64.read(e)[0]
        let slopes = (0..<H).map { j -> Double in
            var s = 1.0
            for _ in 0...(j * (full / H)) { s *= base }
            return s * factor
        }
        let o = buffer("o", H * V)
        try runMixer(.lightning, layer: l, [("q", q, [tokens, H, K]), ("k", k, [tokens, H, K]), ("v", v, [tokens, H, V])],
                     constants: [("slope_rate", slopes)], options: mixerOptions(), into: o)
        rmsNorm(o, group: H * V)
        let g = project("gate", h, w)
        b.apply(.sigmoid, g, g)
        b.multiply(o, o, g)
        linear(out, o, "out", w)
    }

    func mixerOptions() -> ReplayOptions {
        var o = ReplayOptions()
        o.form = form
        return o
    }
}
