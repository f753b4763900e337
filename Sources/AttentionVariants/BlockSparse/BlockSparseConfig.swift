import ExactArithmetic
import Workloads

/// Block-sparse softmax attention: MoBA and NSA's selection (DESIGN.md §4).
///
/// Keys are grouped in blocks of `blockSize` tokens; each full block keeps a pooled key
/// (mean of its exact keys, binary64 — "KV + pooled block keys"). At query position t the
/// current (partial) block is always attended; the previous full blocks are scored by
/// Σ_{h ∈ group} q_{t,h}·k̄_b (the KV group's query heads summed, binary64), the top
/// `topKBlocks` are kept (ties toward the lower block), and one softmax runs over the union in
/// ascending position order.
///
/// - MoBA (Lu et al. 2025): exactly that.
/// - NSA (Yuan et al. 2025) as a selector: the initial block and the last `window` tokens are
///   always included beside the top blocks (one softmax over the union). The `nsa` variant runs
///   the paper's gated three-branch form (`NSADecode`), with this selection (window excluded) as
///   its selected branch.
///
/// Pooled keys are the means of the keys as stored (`keySource`, set by the run owning the
/// cache), so a quantized cache can change the selection — the top-k overlap the study records.
public struct BlockSparseConfig: Hashable, Sendable {
    public enum Kind: String, Hashable, Sendable { case moba, nsa }
    public var kind: Kind
    public var attention: SoftmaxAttentionConfig
    public var blockSize: Int
    public var topKBlocks: Int
    /// NSA's sliding window (tokens).
    public var window: Int

    public init(kind: Kind, attention: SoftmaxAttentionConfig = SoftmaxAttentionConfig(), blockSize: Int = 64, topKBlocks: Int = 4, window: Int = 64) {
        self.kind = kind
        self.attention = attention
        self.blockSize = blockSize
        self.topKBlocks = topKBlocks
        self.window = window
    }

    public func validate() throws {
        try attention.validate()
        guard blockSize >= 1 else { throw VariantError("block_size: expected ≥ 1, got \(blockSize)") }
        guard topKBlocks >= 1 else { throw VariantError("top_k: expected ≥ 1, got \(topKBlocks)") }
        guard window >= 1 else { throw VariantError("window: expected ≥ 1, got \(window)") }
        if attention.window != nil { throw VariantError("window: \(kind.rawValue) selects blocks; leave the attention window unset") }
    }
}
