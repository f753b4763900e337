import Foundation

/// How a dump orders its per-token tensors (`--layout`): `thd` [T, H, D] (an optional leading
/// batch of 1, flash-linear-attention's calling convention), `bthd` [B, T, H, D] with B = 1,
/// `bhtd` [B, H, T, D] (head-first: SDPA's layout, FLA's `head_first`).
public enum TensorLayout: String, CaseIterable, Sendable {
    case thd, bthd, bhtd
    var headFirst: Bool { self == .bhtd }
    func text(perChannel: Bool) -> String {
        switch self {
        case .thd: return perChannel ? "[T, H, D] (or [1, T, H, D])" : "[T, H] (or [1, T, H])"
        case .bthd: return perChannel ? "[1, T, H, D]" : "[1, T, H]"
        case .bhtd: return perChannel ? "[1, H, T, D]" : "[1, H, T]"
        }
    }
}

/// The rows of one replayed tensor, read per (head, position): a tensor [T, H, D] (or [T, H],
/// D = 1) in one of the `TensorLayout`s.
public final class TensorRows: Hashable, @unchecked Sendable, CustomStringConvertible {
    public let view: TensorView
    public let tokens: Int
    public let heads: Int
    public let width: Int
    /// Rows stored head by head ([H, T, D]) rather than position by position.
    let headFirst: Bool
    /// More heads than any attention layer has: a shape read this way is taken for a dump in
    /// the other order.
    public static let maxHeads = 256

    /// Checks the shape; `perChannel` false accepts [T, H] (width 1) only.
    public init(_ view: TensorView, perChannel: Bool, layout: TensorLayout = .thd) throws {
        var s = view.shape
        let expected = layout.text(perChannel: perChannel), rank = perChannel ? 3 : 2
        if s.count == rank + 1 {
            guard s[0] == 1 else {
                throw TensorFileError("\(view.file): tensor '\(view.name)': shape \(view.shapeText) has batch \(s[0]); replay takes one sequence (batch 1)")
            }
            s.removeFirst()
        } else if layout != .thd && s.count == rank {
            throw TensorFileError("\(view.file): tensor '\(view.name)': shape \(view.shapeText); --layout \(layout.rawValue) expects \(expected)")
        }
        guard s.count == rank else {
            throw TensorFileError("\(view.file): tensor '\(view.name)': shape \(view.shapeText); expected \(expected)")
        }
        guard s.allSatisfy({ $0 > 0 }) else {
            throw TensorFileError("\(view.file): tensor '\(view.name)': shape \(view.shapeText) has an empty dimension")
        }
        self.view = view
        headFirst = layout.headFirst
        (tokens, heads) = headFirst ? (s[1], s[0]) : (s[0], s[1])
        width = perChannel ? s[2] : 1
        if heads > Self.maxHeads && tokens <= Self.maxHeads {
            let other = headFirst ? "token-first ([T, H, D] or [1, T, H, D]): --layout thd" : "head-first ([1, H, T, D]): --layout bhtd"
            throw TensorFileError("\(view.file): tensor '\(view.name)': shape \(view.shapeText) read as --layout \(layout.rawValue) \(expected) has H = \(heads) heads over T = \(tokens) positions; if the dump is \(other)")
        }
    }

    /// A tensor shared by all heads, one row per token: [T, D], also [1, T, D] or [T, 1, D]
    /// (DeepSeek's unsqueezed k_pe); read as one head.
    public init(tokenRows view: TensorView) throws {
        var s = view.shape
        if s.count == 3 && s[0] == 1 { s.removeFirst() } else if s.count == 3 && s[1] == 1 { s.remove(at: 1) }
        guard s.count == 2 else {
            throw TensorFileError("\(view.file): tensor '\(view.name)': shape \(view.shapeText); expected [T, D] (or [1, T, D], [T, 1, D])")
        }
        guard s.allSatisfy({ $0 > 0 }) else {
            throw TensorFileError("\(view.file): tensor '\(view.name)': shape \(view.shapeText) has an empty dimension")
        }
        self.view = view
        tokens = s[0]
        heads = 1
        width = s[1]
        headFirst = false
    }

    /// Writes the row of (head, position) into out[0..<width].
    public func fill(_ out: UnsafeMutableBufferPointer<Double>, head: Int, position: Int) {
        precondition(head < heads && position < tokens && out.count >= width)
        let row = headFirst ? head * tokens + position : position * heads + head
        view.fill(UnsafeMutableBufferPointer(rebasing: out[0..<width]), from: row * width)
    }

    public var description: String { "\(view.name) \(view.shapeText)" }
    public static func == (a: TensorRows, b: TensorRows) -> Bool { a === b }
    public func hash(into h: inout Hasher) { h.combine(ObjectIdentifier(self)) }
}

/// Replayed per-token inputs of one run, by stream name (q, k, v, g, gk, beta …). Variants
/// whose configuration carries one read their inputs from it instead of generating them.
public final class ReplayInputs: Hashable, @unchecked Sendable {
    public let streams: [String: TensorRows]
    /// Per-head constants (initial state, A_log …) by name, when given.
    public let constants: [String: TensorView]

    public init(streams: [String: TensorRows], constants: [String: TensorView] = [:]) {
        self.streams = streams
        self.constants = constants
    }

    public subscript(stream: String) -> TensorRows? { streams[stream] }

    /// The K×V initial state of `head` (row-major, key channel = row) from the constant
    /// `initial_state` [H, K, V] (or [1, H, K, V]), when given.
    public func initialState(head: Int, count: Int) -> [Double]? {
        guard let s = constants["initial_state"] else { return nil }
        precondition((head + 1) * count <= s.count, "initial_state \(s.shapeText) has no head \(head) of \(count) values")
        return [Double](unsafeUninitializedCapacity: count) { b, n in
            s.fill(b, from: head * count)
            n = count
        }
    }
    public static func == (a: ReplayInputs, b: ReplayInputs) -> Bool { a === b }
    public func hash(into h: inout Hasher) { h.combine(ObjectIdentifier(self)) }
}

extension InputGenerator {
    /// This generator, reading its rows from `rows` when given (replay) instead of generating them.
    public func replaying(_ rows: TensorRows?) -> InputGenerator {
        var g = self
        g.replay = rows
        return g
    }
}
