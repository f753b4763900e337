import Foundation

/// Public facts about the models whose layers the presets reproduce — shapes, gate
/// initialisations, layer counts — one entry per model, keyed by the preset name and citing the
/// public config it comes from (DESIGN.md §2). Only the facts live here; each variant's
/// definition (AttentionVariants) maps them onto its kernel's configuration. Weights are never
/// needed: inputs are synthetic.
public struct ModelFacts: Sendable {
    /// The preset name (`preset:` in studies and budgets, `--preset` in replay).
    public let name: String
    /// Where the facts come from: a Hugging Face `config.json`, or the paper and code.
    public let source: String
    public var softmax: SoftmaxLayers?
    public var latent: LatentLayers?
    public var indexer: Indexer?
    public var deltaRule: DeltaRuleLayers?
    public var lightning: LightningLayers?
    public var ssm: SSMLayers?

    /// Softmax attention layers with a KV cache.
    public struct SoftmaxLayers: Sendable {
        public let queryHeads: Int
        public let kvHeads: Int
        public let headDim: Int
        /// Sliding window (nil: full attention).
        public var window: Int?
        /// A learned sink logit joins the softmax denominator (GPT-OSS).
        public var sinkLogit = false
        /// One line for `variants show`.
        public let summary: String
    }

    /// Multi-head latent attention layers (DeepSeek's absorbed form).
    public struct LatentLayers: Sendable {
        public let heads: Int
        /// kv_lora_rank.
        public let latentDim: Int
        /// qk_rope_head_dim.
        public let ropeDim: Int
        /// qk_nope_head_dim.
        public let nopeDim: Int
        /// v_head_dim.
        public let valueDim: Int
        /// False: NoPE (the rope channels are not rotated).
        public let rope: Bool
        /// YaRN's rope_scaling factor (nil: no YaRN).
        public let yarnFactor: Double?
        public let summary: String

        /// YaRN's attention scale mscale = 0.1·ln(factor) + 1 (mscale_all_dim 1), applied
        /// squared to the softmax scale; 1 without YaRN.
        public var mscale: Double { yarnFactor.map { 0.1 * Foundation.log($0) + 1 } ?? 1 }
    }

    /// DeepSeek-V3.2's lightning indexer.
    public struct Indexer: Sendable {
        public let heads: Int
        public let headDim: Int
        public let ropeDim: Int
        public let topK: Int
        public let summary: String
    }

    /// Delta-rule (linear-attention) layers: shapes and the gates' initialisation ranges
    /// (A ~ U(aRange), dt log-uniform in dtRange, Mamba's initialisation).
    public struct DeltaRuleLayers: Sendable {
        public let keyHeads: Int
        public let valueHeads: Int
        public let keyDim: Int
        public let valueDim: Int
        public let aRange: ClosedRange<Double>
        public let dtRange: ClosedRange<Double>
    }

    /// MiniMax-01's Lightning Attention layers (the slope schedule depends on heads and layers).
    public struct LightningLayers: Sendable {
        public let heads: Int
        public let headDim: Int
        public let layers: Int
        public let summary: String
    }

    /// Mamba2 (SSD) layers.
    public struct SSMLayers: Sendable {
        public let heads: Int
        /// P.
        public let headDim: Int
        /// N (d_state).
        public let stateDim: Int
        public let layers: Int
        public let aRange: ClosedRange<Double>
        public let dtRange: ClosedRange<Double>
        public let summary: String
    }
}

extension ModelFacts {
    /// Qwen3-Next-80B-A3B's Gated DeltaNet layers: linear_num_key_heads 16,
    /// linear_num_value_heads 32, linear_key/value_head_dim 128; A_log = log U(0, 16), dt_bias
    /// from dt ∈ [0.001, 0.1] (its modelling code's initialisation).
    public static let qwen3Next = ModelFacts(
        name: "qwen3-next", source: "https://huggingface.co/Qwen/Qwen3-Next-80B-A3B-Instruct/blob/main/config.json",
        deltaRule: DeltaRuleLayers(keyHeads: 16, valueHeads: 32, keyDim: 128, valueDim: 128, aRange: 1e-4...16, dtRange: 0.001...0.1))

    /// Kimi Linear 48B-A3B: KDA layers (32 heads, head_dim 128, per-channel gates) and MLA
    /// layers (32 heads, kv_lora_rank 512, NoPE, no YaRN).
    public static let kimiLinear = ModelFacts(
        name: "kimi-linear", source: "https://huggingface.co/moonshotai/Kimi-Linear-48B-A3B-Instruct/blob/main/config.json",
        latent: LatentLayers(heads: 32, latentDim: 512, ropeDim: 64, nopeDim: 128, valueDim: 128, rope: false, yarnFactor: nil,
                             summary: "Kimi Linear MLA layers: 32 heads, latent 512, NoPE"),
        deltaRule: DeltaRuleLayers(keyHeads: 32, valueHeads: 32, keyDim: 128, valueDim: 128, aRange: 1...16, dtRange: 0.001...0.1))

    /// DeepSeek-V3: 128 heads, kv_lora_rank 512, qk_rope_head_dim 64, qk_nope_head_dim 128,
    /// v_head_dim 128, YaRN factor 40.
    public static let deepSeekV3 = ModelFacts(
        name: "deepseek-v3", source: "https://huggingface.co/deepseek-ai/DeepSeek-V3/blob/main/config.json",
        latent: deepSeekV3Latent)

    /// DeepSeek-V3.2: V3's MLA plus the indexer (index_n_heads 64, index_head_dim 128, RoPE on
    /// 64 channels, index_topk 2048).
    public static let deepSeekV32 = ModelFacts(
        name: "deepseek-v3.2", source: "https://huggingface.co/deepseek-ai/DeepSeek-V3.2-Exp/blob/main/config.json",
        latent: deepSeekV3Latent,
        indexer: Indexer(heads: 64, headDim: 128, ropeDim: 64, topK: 2048,
                         summary: "DeepSeek-V3.2 DSA: V3 MLA + indexer 64 heads × 128, top-k 2048"))

    static let deepSeekV3Latent = LatentLayers(
        heads: 128, latentDim: 512, ropeDim: 64, nopeDim: 128, valueDim: 128, rope: true, yarnFactor: 40,
        summary: "DeepSeek-V3 MLA: 128 heads, latent 512 + RoPE 64, nope 128, v 128, mscale² YaRN")

    /// MiniMax-M2: 48 query / 8 KV heads, head_dim 128, full attention.
    public static let miniMaxM2 = ModelFacts(
        name: "minimax-m2", source: "https://huggingface.co/MiniMaxAI/MiniMax-M2/blob/main/config.json",
        softmax: SoftmaxLayers(queryHeads: 48, kvHeads: 8, headDim: 128,
                               summary: "MiniMax-M2: 48 query / 8 KV heads, head_dim 128, full attention"))

    /// Llama-3-8B: 32 query / 8 KV heads, head_dim 128 (hidden 4096).
    public static let llama3_8B = ModelFacts(
        name: "llama3-8b", source: "https://huggingface.co/meta-llama/Meta-Llama-3-8B/blob/main/config.json",
        softmax: SoftmaxLayers(queryHeads: 32, kvHeads: 8, headDim: 128, summary: "Llama-3-style GQA: 32 query / 8 KV heads, head_dim 128"))

    /// GPT-OSS's sliding layers: 64 query / 8 KV heads, head_dim 64, sliding_window 128, a
    /// learned sink logit per head.
    public static let gptOSS = ModelFacts(
        name: "gpt-oss", source: "https://huggingface.co/openai/gpt-oss-120b/blob/main/config.json",
        softmax: SoftmaxLayers(queryHeads: 64, kvHeads: 8, headDim: 64, window: 128, sinkLogit: true,
                               summary: "GPT-OSS sliding layers: 64 query / 8 KV heads, head_dim 64, window 128, sink logit"))

    /// MiniMax-01 (MiniMax-Text-01): Lightning Attention with 64 heads of dimension 128 over 80
    /// layers.
    public static let miniMax01 = ModelFacts(
        name: "minimax-01", source: "https://huggingface.co/MiniMaxAI/MiniMax-Text-01/blob/main/config.json",
        lightning: LightningLayers(heads: 64, headDim: 128, layers: 80,
                                   summary: "MiniMax-01 Lightning: 64 heads × 80 layers slope schedule, d = 128 (head: and layer: pick one)"))

    /// Mamba2-2.7B: d_model 2560, expand 2, headdim 64 → 80 heads, d_state 128, one B/C group,
    /// 64 layers; A_init_range (1, 16), dt in [0.001, 0.1] (mamba_ssm's Mamba2 defaults).
    public static let mamba2_2_7B = ModelFacts(
        name: "mamba2-2.7b", source: "https://huggingface.co/state-spaces/mamba2-2.7b/blob/main/config.json",
        ssm: SSMLayers(heads: 80, headDim: 64, stateDim: 128, layers: 64, aRange: 1...16, dtRange: 0.001...0.1,
                       summary: "Mamba2-2.7B: 80 heads, head dim 64, d_state 128, A_init (1, 16), dt [0.001, 0.1] (head: picks one)"))

    /// Every model, keyed by name.
    public static let all: [String: ModelFacts] = Dictionary(
        uniqueKeysWithValues: [qwen3Next, kimiLinear, deepSeekV3, deepSeekV32, miniMaxM2, llama3_8B, gptOSS, miniMax01, mamba2_2_7B]
            .map { ($0.name, $0) })
}
