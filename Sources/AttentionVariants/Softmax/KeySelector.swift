import ExactArithmetic
import NumberFormats
import Workloads

/// Which cached positions one evaluated query reads (dense, windowed, or chosen by an indexer).
public protocol KeySelector: AnyObject {
    /// The positions ≤ t that KV head `kvHead` attends at position t, ascending, into `keys`.
    func select(position t: Int, kvHead: Int, into keys: inout [Int])
    /// Called once per token after the run appended position t (indexers keep their own cache).
    func didAppend(position t: Int)
    /// Non-finite values the selector's own cache stored (an indexer's), at every position.
    var storedNonFinite: NonFiniteCount { get }
}

extension KeySelector {
    public func didAppend(position t: Int) {}
    public var storedNonFinite: NonFiniteCount { NonFiniteCount() }
}

/// Dense or sliding-window selection (with sink tokens).
public final class WindowSelector: KeySelector {
    public let window: Int?
    public let sinkTokens: Int
    public init(window: Int?, sinkTokens: Int) {
        self.window = window
        self.sinkTokens = sinkTokens
    }

    public func select(position t: Int, kvHead: Int, into keys: inout [Int]) {
        keys.removeAll(keepingCapacity: true)
        guard let w = window else {
            keys.append(contentsOf: 0...t)
            return
        }
        let sinks = min(sinkTokens, t + 1)
        keys.append(contentsOf: 0..<sinks)
        let start = max(sinks, t - w + 1)
        if start <= t { keys.append(contentsOf: start...t) }
    }
}
