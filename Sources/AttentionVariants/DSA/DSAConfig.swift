import ExactArithmetic
import NumberFormats
import Workloads

/// DeepSeek-V3.2 sparse attention (DSA): a lightning indexer picks the top-k cached tokens for
/// each query, then MLA attends over them (DESIGN.md §4).
///
/// Indexer (per query position t, `indexHeads` heads of `indexDim` = 128 channels): q_{t,j}
/// and k_s get RoPE on their first `ropeDim` = 64 channels and a Hadamard rotation
/// (`rotate_activation`, H/√128); I_{t,s} = Σ_j w_{t,j} ReLU(q_{t,j}·k_s), top-k over s ≤ t with
/// ties toward the lower index; the selected positions are attended in ascending order.
///
/// The exact indexer is evaluated in binary64 on every tier (so MPFR and Float64 runs select
/// the same keys and certification measures the attention). With role `indexer` (V3.2:
/// `float8_e4m3fn/block:128/pow2`) the rotated k_s are cached as codes and scales when
/// appended, each q_{t,j} is quantized the same way, and I is computed from the dequantized
/// values in binary32 (fma chains, fp32 accumulation as the fp8 kernel). The selected-set
/// overlap between the exact and the quantized indexer is recorded at every evaluated position:
/// selection flips are this variant's failure mode.
public struct DSAConfig: Hashable, Sendable {
    public var mla: MLAConfig
    public var indexHeads: Int
    public var indexDim: Int
    public var indexRopeDim: Int
    public var topK: Int

    public init(mla: MLAConfig = MLAConfig(), indexHeads: Int = 4, indexDim: Int = 128, indexRopeDim: Int = 64, topK: Int = 2048) {
        self.mla = mla
        self.indexHeads = indexHeads
        self.indexDim = indexDim
        self.indexRopeDim = indexRopeDim
        self.topK = topK
    }

    public static let roles: [Role] = MLAConfig.roles + [.indexer]
    /// DeepSeek-V3.2's cache: FlashMLA fp8 latent + RoPE, and the fp8 indexer keys.
    public static let deepSeekV32FP8 = MLAConfig.flashMLAFP8 + ",indexer=float8_e4m3fn/block:128/pow2"

    public func validate() throws {
        try mla.validate()
        guard topK >= 1 else { throw VariantError("top_k: expected ≥ 1, got \(topK)") }
        guard indexHeads >= 1 else { throw VariantError("index_heads: expected ≥ 1, got \(indexHeads)") }
        guard indexDim >= 2 && indexDim & (indexDim - 1) == 0 else {
            throw VariantError("index_dim: expected a power of two (Hadamard rotation), got \(indexDim)")
        }
        guard indexRopeDim >= 0 && indexRopeDim % 2 == 0 && indexRopeDim <= indexDim else {
            throw VariantError("index_rope_dim: expected an even number ≤ index_dim, got \(indexRopeDim)")
        }
    }

    public func cacheBytesPerToken(recipe: Recipe) -> Double {
        var idx = 4 * Double(indexDim)
        if let f = recipe[.indexer] as? FormatSpec { idx = f.bitsPerElement(shape: [1, indexDim]) * Double(indexDim) / 8 }
        return mla.cacheBytesPerToken(recipe: recipe) + idx
    }
}
