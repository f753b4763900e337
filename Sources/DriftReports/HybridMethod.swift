import Foundation
import HybridStacks

/// The method page of a hybrid report: the stacks (checkpoints with config links, width,
/// d_model, form, pattern), their recipes, and how a stack is evaluated (the facts of
/// HybridStacks' documentation).
extension HybridPages {
    static func method(_ set: HybridSet) -> String {
        var md = "# Method: stacks, checkpoints, recipes\n\n## Stacks\n\n"
        var t = MarkdownTable(["stack", "checkpoint", "layers", "width", "d_model", "form"], align: [.left, .left, .right, .right, .right, .left])
        var notes = ""
        for s in set.stacks {
            guard let r = set.full(s).first ?? set.records.first(where: { HybridSet.key($0) == s }) else { continue }
            t.rows.append([set.label(s), "[\(r.checkpoint)](\(r.source))", "\(r.layers.count)", r.width, "\(r.dModel)", r.form])
            let counts = r.layers.reduce(into: [String]()) { if !$0.contains($1) { $0.append($1) } }.map { k in "\(r.layers.filter { $0 == k }.count) \(k)" }
            notes += "- **\(set.label(s))**: pattern `\(r.pattern)`; layers: \(counts.joined(separator: ", ")); LM head scale \(String(format: "%.4g", r.lmScale)) (reference next-token entropy \(String(format: "%.2f", r.referenceEntropy)) nats)"
            notes += ".\n"
        }
        md += t.render() + "\n" + notes + "\n## Recipes\n\nPer layer type (or the residual stream between layers), the stores the recipe rounds; a role not listed stays at compute precision (binary32).\n\n"
        var recipes = MarkdownTable(["stack", "recipe", "layer type", "stores"], align: [.left, .left, .left, .left])
        for s in set.stacks {
            for r in set.full(s) {
                for (kind, text) in r.recipe.sorted(by: { $0.key < $1.key }) { recipes.rows.append([set.label(s), r.recipeName, kind, text]) }
            }
        }
        return md + recipes.render() + "\n## How a stack is evaluated\n\n" + evaluation + "\n"
    }

    /// The facts of HybridStacks' documentation, one bullet each.
    static let evaluation = [
        "**Width.** A stack runs at a fraction w of every head count, of d_model and of the MLP's intermediate width; head sizes, state sizes and the MLA latent stay as the model has them. A head count below one at w becomes one head; a count above one must come out whole. Memory per sequence is counted at the model's full width.",
        "**Layers as the models build them.** Input projections from the RMSNorm-ed residual, the short causal conv1d where the model has one (its conv state is a store: role `conv_state`), the mixer (the variant's own kernel for every head of the layer, fed through its replay plan, as `attnprec replay` runs it), the output gate/norm, the output projection, the residual: x ← x + f(RMSNorm(x)), or MiniMax-01's post-norm x ← α·RMSNorm(x) + f(RMSNorm(x)) with DeepNorm's α = (2N)^¼.",
        "**Mixers.** Gated DeltaNet and KDA: conv + SiLU on q, k, v; β = σ(b); g = −exp(A_log)·softplus(a + dt_bias) per head (GDN) or per channel (KDA); q, k L2-normalised in the kernel; output RMSNorm per head then ⊙ silu(z) (GDN) or ⊙ σ(gate) (KDA). Mamba2: conv + SiLU on x, B, C; Δ = softplus(dt + dt_bias), decay exp(Δ·A), D = 1; y ⊙ silu(z) then RMSNorm per group. Lightning: SiLU on q, k, v, MiniMax's per-head decay slopes, RMSNorm over all heads ⊙ σ(gate). Softmax attention: query heads over KV heads, scale D^−1/2, no RoPE; the gated form (Qwen3-Next) adds q/k RMSNorm per head and ⊙ σ(gate). MLA as Kimi Linear builds it (NoPE): the normed latent and k_pe are what the cache holds; absorbed decode.",
        "**MLP blocks.** A dense stand-in of the model's kind at its active intermediate width: SwiGLU down(silu(gate·h) ⊙ up·h), or Nemotron-H's squared ReLU down(relu(up·h)²).",
        "**Weights.** Counter-based seeded values at the models' init scale 0.02 scaled with width (σ = 0.02/√w), the output projections at σ/√(2N) (Megatron-LM's scaled init over the model's N layers), stored as bfloat16 and shared by the reference and every emulation.",
        "**Reference.** The whole stack in binary64; `attnprec reference certify --variant hybrid --preset P` checks it against MPFR layer by layer (< 1e-12; every preset's first 16 layers at width 1/64 in the test suite).",
        "**Order of evaluation.** Layer by layer over the whole sequence: layer l reads the residual stream of every position from layer l − 1. Each mixer advances token by token (the recurrent form) or chunk by chunk (the chunked form: the prefill forms of the recurrent layers and FlashAttention-2's blocked prefill), so every value equals the one a token-major decode computes; the Float64 reference and the Float32 emulations step through depth together.",
        "**Residual stream.** A store point between layers (role `residual`) in the precision the model keeps it: bfloat16, or fp32 for Nemotron-H (residual_in_fp32).",
        "**Metrics.** Relative error ‖a − â‖/‖a‖ per row, averaged over the last min(64, T/16) positions up to each length (NaN when any value is not finite), for the final hidden state (after the final norm), every layer's output and the residual stream after every layer. Logits through a seeded LM head (vocabulary 4096) whose scale is calibrated by bisection so that the reference's mean next-token entropy is 2.5 nats, evaluated in binary64 with correctly rounded exp and log: KL(p‖p̂) and top-1 agreement.",
        "**Attribution.** Each source of a recipe (one layer type's stores, or the residual) is also run rounded alone, everything else at compute precision.",
    ].map { "- \($0)" }.joined(separator: "\n")
}
