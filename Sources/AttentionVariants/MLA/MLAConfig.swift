import ExactArithmetic
import Foundation
import NumberFormats
import Workloads

/// Multi-head latent attention, DeepSeek-V3's absorbed decode form (DESIGN.md §4).
///
/// Per token s the cache holds c_s (kv_lora_rank = 512, after RMSNorm; role `latent`) and
/// k_pe_s (64, after RoPE; role `rope_cache`), shared by all heads. Per head h at query
/// position t: q_lat = W_UK,hᵀ q_nope (matTvec, 128 → 512), q̃ = scale·[q_lat; q_pe] (576-d,
/// scale = (128+64)^(−1/2)·mscale²), score_s = q̃·[c_s; k_pe_s] as one fma chain, an online
/// softmax over the selected s with the latent as the value (acc ∈ R^512), and
/// o_h = W_UV,h (acc / l) (matvec, 512 → 128; store point `output`).
///
/// W_UK and W_UV are random but fixed (Gaussian / √fan-in from counter streams "w_uk", "w_uv"),
/// of the published per-head shapes; fewer heads than the model are allowed (the per-head math
/// is the same). Latent, RoPE keys, q_nope and q_pe are generated inputs (RMSNorm and RoPE in
/// binary64, rounded to binary32). `rope: false` is Kimi Linear's NoPE MLA (the 64 rope
/// channels without rotation).
public struct MLAConfig: Hashable, Sendable {
    public var heads: Int
    public var latentDim: Int
    public var ropeDim: Int
    public var nopeDim: Int
    public var valueDim: Int
    public var rope: Bool
    public var ropeBase: Double
    /// YaRN attention factor: scale = (nope + rope)^(−1/2)·mscale².
    public var mscale: Double
    public var seed: UInt64
    public var distribution: InputDistribution
    public var evaluation: EvaluationSchedule
    /// Replayed inputs, as the absorbed kernel receives them: streams `kv_cache` (the latent
    /// after kv_norm), `pe_cache` (k_pe after RoPE), `q_nope`, `q_pe` (after RoPE) — read as
    /// given, no RMSNorm or RoPE applied — and the constant `wkv_b` [H·(N+V), L] (DeepSeek's
    /// `wkv_b.weight`; W_UK,h = rows h·(N+V)..<h·(N+V)+N, W_UV,h the next V rows).
    public var replay: ReplayInputs?

    public init(
        heads: Int = 1, latentDim: Int = 512, ropeDim: Int = 64, nopeDim: Int = 128, valueDim: Int = 128,
        rope: Bool = true, ropeBase: Double = 10000, mscale: Double = MLAConfig.deepSeekV3MScale, seed: UInt64 = 0,
        distribution: InputDistribution = .gaussian, evaluation: EvaluationSchedule = .certification
    ) {
        self.heads = heads
        self.latentDim = latentDim
        self.ropeDim = ropeDim
        self.nopeDim = nopeDim
        self.valueDim = valueDim
        self.rope = rope
        self.ropeBase = ropeBase
        self.mscale = mscale
        self.seed = seed
        self.distribution = distribution
        self.evaluation = evaluation
    }

    /// DeepSeek-V3: YaRN factor 40, mscale_all_dim 1 → 0.1·ln 40 + 1.
    public static let deepSeekV3MScale = ModelFacts.deepSeekV3.latent!.mscale

    /// One model's MLA layers (`ModelFacts.latent`): its heads, dimensions, RoPE and YaRN scale.
    public init(_ f: ModelFacts.LatentLayers) {
        self.init(heads: f.heads, latentDim: f.latentDim, ropeDim: f.ropeDim, nopeDim: f.nopeDim, valueDim: f.valueDim, rope: f.rope, mscale: f.mscale)
    }

    public static let roles: [Role] = [.q, .latent, .ropeCache, .output]

    /// The FlashMLA fp8 KV-cache layout: 512 e4m3 values with 4 fp32 scales (one per 128) and
    /// 64 bf16 RoPE values — 656 bytes per token.
    public static let flashMLAFP8 = "latent=float8_e4m3fn/block:128,rope_cache=bfloat16"

    public var scale: Double { mscale * mscale / Double(nopeDim + ropeDim).squareRoot() }

    public func validate() throws {
        guard heads >= 1 else { throw VariantError("heads: expected ≥ 1, got \(heads)") }
        guard (1...65536).contains(latentDim) else { throw VariantError("latent_dim: expected 1...65536, got \(latentDim)") }
        guard ropeDim >= 0 && ropeDim % 2 == 0 else { throw VariantError("rope_dim: expected an even number ≥ 0, got \(ropeDim)") }
        guard nopeDim >= 1 else { throw VariantError("nope_dim: expected ≥ 1, got \(nopeDim)") }
        guard valueDim >= 1 else { throw VariantError("value_dim: expected ≥ 1, got \(valueDim)") }
        guard mscale.isFinite && mscale > 0 else { throw VariantError("mscale: expected a positive number") }
    }

    /// Cache bytes per token under `recipe` (compute precision: 4-byte floats).
    public func cacheBytesPerToken(recipe: Recipe) -> Double {
        func bytes(_ role: Role, _ width: Int) -> Double {
            guard let f = recipe[role] as? FormatSpec else { return 4 * Double(width) }
            return f.cacheBitsPerElement(width: width) * Double(width) / 8
        }
        return bytes(.latent, latentDim) + bytes(.ropeCache, ropeDim)
    }
}
