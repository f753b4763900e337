/// What a softmax-side run can tell beyond its outputs (DESIGN.md §7): the error of the stored
/// cache entries, the keys it attended at the last evaluated position, and (when asked) the
/// attention logits there — for `cache_rel_err`, the KL divergence of the attention
/// distribution, and the top-k overlap of a sparse selection.
public protocol AttentionDiagnostics: StoreDiagnostics {
    /// ‖Ĉ − C‖_F / ‖C‖_F over the quantized cache entries written so far (0 when none is quantized).
    var cacheRelativeError: Double { get }
    /// The key positions read at the last evaluated position (KV head 0), in reading order.
    var lastSelection: [Int] { get }
    /// When set, `lastScores` holds the scaled logits of query head 0 at the last evaluated
    /// position, in `lastSelection` order.
    var recordScores: Bool { get set }
    var lastScores: [Double] { get }
    /// A learned sink logit that joins the softmax denominator (GPT-OSS), if any.
    var sinkLogit: Double? { get }
}

/// What a run with caches can tell of its stores (the blocked prefills too, which have no
/// per-query selection to report).
public protocol StoreDiagnostics: AnyObject {
    /// Non-finite values written into the run's caches (an indexer's too), at every position.
    var storedNonFinite: NonFiniteCount { get }
}

/// A run that can tell the largest magnitude of its q, k or v inputs over a prefix (a static
/// per-tensor scale's amax).
public protocol InputAmax: AnyObject {
    func inputAmax(_ role: Role, tokens n: Int) -> Double
}

/// A softmax run whose `p` store can be watched (`PStoreProbe`).
public protocol PStoreProbing: AnyObject {
    var pStoreProbe: PStoreProbe? { get set }
}
