import Foundation

/// The rows of one replayed tensor, read per (head, position): a tensor [T, H, D] (or [T, H],
/// D = 1), with an optional leading batch of 1 — flash-linear-attention's calling convention.
public final class TensorRows: Hashable, @unchecked Sendable, CustomStringConvertible {
    public let view: TensorView
    public let tokens: Int
    public let heads: Int
    public let width: Int

    /// Checks the shape; `width` nil accepts [T, H] (width 1) only.
    public init(_ view: TensorView, perChannel: Bool) throws {
        var s = view.shape
        let expected = perChannel ? "[T, H, D] (or [1, T, H, D])" : "[T, H] (or [1, T, H])"
        if s.count == (perChannel ? 4 : 3) {
            guard s[0] == 1 else {
                throw TensorFileError("\(view.file): tensor '\(view.name)': shape \(view.shapeText) has batch \(s[0]); replay takes one sequence (batch 1)")
            }
            s.removeFirst()
        }
        guard s.count == (perChannel ? 3 : 2) else {
            throw TensorFileError("\(view.file): tensor '\(view.name)': shape \(view.shapeText); expected \(expected)")
        }
        guard s.allSatisfy({ $0 > 0 }) else {
            throw TensorFileError("\(view.file): tensor '\(view.name)': shape \(view.shapeText) has an empty dimension")
        }
        self.view = view
        tokens = s[0]
        heads = s[1]
        width = perChannel ? s[2] : 1
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
    }

    /// Writes the row of (head, position) into out[0..<width].
    public func fill(_ out: UnsafeMutableBufferPointer<Double>, head: Int, position: Int) {
        precondition(head < heads && position < tokens && out.count >= width)
        view.fill(UnsafeMutableBufferPointer(rebasing: out[0..<width]), from: (position * heads + head) * width)
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
