import NumberFormats
import Workloads

/// A hybrid model's public shapes at full width: layer pattern, d_model, the heads and head
/// sizes of each layer kind, norms, the residual's precision, the MLP stand-in. Each preset
/// cites the config it comes from.
public struct StackModel: Sendable {
    public enum Norm: Sendable, Equatable {
        /// x ← x + f(RMSNorm(x)).
        case preRMS
        /// MiniMax-01's post-norm: x ← α·RMSNorm(x) + f(RMSNorm(x)) (DeepNorm's α = (2N)^¼).
        case postNorm(alpha: Double)
    }
    public enum MLP: String, Sendable {
        /// down(silu(gate(x)) ⊙ up(x)).
        case swiglu
        /// down(relu(up(x))²) (Nemotron-H).
        case relu2
    }

    public var name: String
    /// The checkpoint the shapes come from and its public config.
    public var checkpoint: String
    public var source: String
    /// The layer pattern (`LayerPattern` grammar) and whether every listed layer is followed by
    /// an MLP block (models whose decoder layer is mixer + MLP/MoE) or the MLPs are listed.
    public var pattern: String
    public var mlpAfterEach: Bool
    public var dModel: Int
    public var norm: Norm = .preRMS
    public var mlp: MLP = .swiglu
    /// The active intermediate width of the MLP/MoE block (routed experts × their width + shared).
    public var intermediate: Int
    /// Where the model keeps the residual stream between layers (nil: fp32).
    public var residual: String? = "bfloat16"
    public var vocab: Int
    public var rmsEps = 1e-6

    // Mixer shapes (heads at full width).
    public var linearKeyHeads = 0, linearValueHeads = 0, linearKeyDim = 128, linearValueDim = 128
    public var convKernel = 4
    public var ssmHeads = 0, ssmHeadDim = 64, ssmState = 128, ssmGroups = 1
    public var attentionHeads = 0, attentionKVHeads = 0, attentionHeadDim = 128
    public var latentDim = 512, latentRope = 64, latentNope = 128, latentValue = 128
    /// Gate initialisation ranges of the linear layers (A = −exp(A_log), dt).
    public var aRange: ClosedRange<Double> = 1...16
    public var dtRange: ClosedRange<Double> = 0.001...0.1

    public init(name: String, checkpoint: String, source: String, pattern: String, mlpAfterEach: Bool, dModel: Int, intermediate: Int, vocab: Int) {
        (self.name, self.checkpoint, self.source, self.pattern, self.mlpAfterEach) = (name, checkpoint, source, pattern, mlpAfterEach)
        (self.dModel, self.intermediate, self.vocab) = (dModel, intermediate, vocab)
    }

    /// The layers in order (MLP blocks inserted after each listed layer where the model has them).
    public func layers() throws -> [LayerKind] {
        let listed = try LayerPattern.parse(pattern)
        return mlpAfterEach ? listed.flatMap { [$0, .mlp] } : listed
    }
}

extension StackModel {
    /// Qwen3-Next-80B-A3B: 48 layers, 3 Gated DeltaNet : 1 gated attention, each followed by a
    /// MoE block (10 routed experts of 512 + a shared one of 512: 5,632 active), hidden 2048;
    /// linear heads 16 QK / 32 V of 128, attention 16 Q / 2 KV of 256.
    public static let qwen3Next = qwen(name: "qwen3-next", checkpoint: "Qwen/Qwen3-Next-80B-A3B-Instruct", source: ModelFacts.qwen3Next.source,
                                       groups: 12, dModel: 2048, intermediate: 5632, vocab: 151_936, valueHeads: 32, attentionHeads: 16)

    /// Qwen3.5-397B-A17B: 60 layers, 15 × (3 Gated DeltaNet + 1 gated attention), linear heads
    /// 16 QK / 64 V of 128, attention 32 Q / 2 KV of 256, hidden 4096, 10 routed experts of
    /// 1024 + a shared one (11,264 active).
    public static let qwen35 = qwen(name: "qwen3.5-397b", checkpoint: "Qwen/Qwen3.5-397B-A17B", source: "https://huggingface.co/Qwen/Qwen3.5-397B-A17B/blob/main/config.json",
                                    groups: 15, dModel: 4096, intermediate: 11_264, vocab: 248_320, valueHeads: 64, attentionHeads: 32)

    /// The Qwen hybrids: `groups` × (3 Gated DeltaNet + gated attention), 16 linear key heads of
    /// 128, 2 KV heads of 256, Qwen3-Next's gate initialisation.
    static func qwen(name: String, checkpoint: String, source: String, groups: Int, dModel: Int, intermediate: Int, vocab: Int,
                     valueHeads: Int, attentionHeads: Int) -> StackModel {
        var m = StackModel(name: name, checkpoint: checkpoint, source: source, pattern: "(3*\(LayerKind.gatedDeltaNet.name), gated_attention)*\(groups)",
                           mlpAfterEach: true, dModel: dModel, intermediate: intermediate, vocab: vocab)
        (m.linearKeyHeads, m.linearValueHeads) = (16, valueHeads)
        (m.attentionHeads, m.attentionKVHeads, m.attentionHeadDim) = (attentionHeads, 2, 256)
        m.aRange = ModelFacts.qwen3Next.deltaRule!.aRange
        m.dtRange = ModelFacts.qwen3Next.deltaRule!.dtRange
        return m
    }

    /// Kimi Linear 48B-A3B: 27 layers, KDA (32 heads of 128, short conv 4) with MLA (32 heads,
    /// kv_lora_rank 512, NoPE) at layers 4, 8, …, 24 and 27 (full_attn_layers); MoE of 8 routed
    /// experts of 1024 + a shared one (9,216 active); hidden 2304.
    public static let kimiLinear: StackModel = {
        var m = StackModel(name: "kimi-linear", checkpoint: "moonshotai/Kimi-Linear-48B-A3B-Instruct", source: ModelFacts.kimiLinear.source,
                           pattern: "\(LayerKind.kda.name)*27; \(LayerKind.mla.name)@4,8,12,16,20,24,27", mlpAfterEach: true, dModel: 2304, intermediate: 9216, vocab: 163_840)
        (m.linearKeyHeads, m.linearValueHeads) = (32, 32)
        m.attentionHeads = 32
        m.rmsEps = 1e-5
        m.aRange = ModelFacts.kimiLinear.deltaRule!.aRange
        m.dtRange = ModelFacts.kimiLinear.deltaRule!.dtRange
        return m
    }()

    /// MiniMax-Text-01: 80 layers, 7 Lightning : 1 softmax (64 heads of 128, 8 KV heads), post-norm
    /// with α = (2·80)^¼ = 3.5566 (layernorm_*_alpha), MoE top-2 of 9216; hidden 6144.
    public static let miniMax01: StackModel = {
        var m = StackModel(name: "minimax-01", checkpoint: "MiniMaxAI/MiniMax-Text-01", source: ModelFacts.miniMax01.source,
                           pattern: "(7*\(LayerKind.lightning.name), attention)*10", mlpAfterEach: true, dModel: 6144, intermediate: 18_432, vocab: 200_064)
        (m.linearKeyHeads, m.linearValueHeads) = (64, 64)
        (m.attentionHeads, m.attentionKVHeads, m.attentionHeadDim) = (64, 8, 128)
        m.norm = .postNorm(alpha: 3.5565588200778455)
        m.rmsEps = 1e-5
        return m
    }()

    /// Nemotron-H-8B-Base-8K: 52 layers (24 Mamba2, 4 attention, 24 MLP) in
    /// hybrid_override_pattern `M-M-M-M*-M-M-M-M-M*-M-M-M-M-M*-M-M-M-M-M*-M-M-M-M-M-`; Mamba2 128 heads
    /// of 64, state 128, 8 groups; attention 32 Q / 8 KV of 128; squared-ReLU MLP of 21,504;
    /// residual in fp32 (residual_in_fp32); hidden 4096.
    public static let nemotronH: StackModel = {
        let nemotron = "M-M-M-M*-M-M-M-M-M*-M-M-M-M-M*-M-M-M-M-M*-M-M-M-M-M-"
        let names: [Character: String] = ["M": LayerKind.mamba2.name, "*": "attention", "-": "mlp"]
        var m = StackModel(name: "nemotron-h", checkpoint: "nvidia/Nemotron-H-8B-Base-8K", source: "https://huggingface.co/nvidia/Nemotron-H-8B-Base-8K/blob/main/config.json",
                           pattern: nemotron.map { names[$0]! }.joined(separator: ", "), mlpAfterEach: false, dModel: 4096, intermediate: 21_504, vocab: 131_072)
        (m.ssmHeads, m.ssmHeadDim, m.ssmState, m.ssmGroups) = (128, 64, 128, 8)
        (m.attentionHeads, m.attentionKVHeads, m.attentionHeadDim) = (32, 8, 128)
        m.mlp = .relu2
        m.residual = nil
        m.rmsEps = 1e-5
        let ssm = ModelFacts.mamba2_2_7B.ssm!
        (m.aRange, m.dtRange) = (ssm.aRange, ssm.dtRange)
        return m
    }()

    public static let presets: [StackModel] = [qwen3Next, qwen35, kimiLinear, miniMax01, nemotronH]

    public static func preset(_ name: String) throws -> StackModel {
        if let m = presets.first(where: { $0.name == name }) { return m }
        throw InputError("preset: unknown '\(name)' for variant 'hybrid'; presets: \(presets.map(\.name).joined(separator: ", "))")
    }
}
