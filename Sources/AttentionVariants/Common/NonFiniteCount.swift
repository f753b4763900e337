/// Non-finite (NaN or infinite) values a run produced, counted at every position where they
/// appear — not only at the positions a study records (DESIGN.md §7): the number of elements
/// and the first position. A store point that writes a NaN into a cache fails every budget even
/// when no recorded position reads it.
public struct NonFiniteCount: Sendable, Equatable {
    /// Non-finite elements seen.
    public private(set) var count = 0
    /// The first (0-based) position at which one was seen.
    public private(set) var first: Int?

    public init() {}

    /// Records `n` non-finite elements at position t.
    public mutating func add(_ n: Int, at t: Int) {
        guard n > 0 else { return }
        count += n
        first = Swift.min(first ?? t, t)
    }

    /// Both counts together (the earlier first position).
    public func merged(_ other: NonFiniteCount) -> NonFiniteCount {
        var m = self
        if let f = other.first { m.add(other.count, at: f) }
        return m
    }
}
