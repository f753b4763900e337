/// Delethink-style reasoning in chunks with a carried tail (Aghajohari et al., "The Markovian
/// Thinker", 2025): generation proceeds in chunks of `chunk` tokens; at every chunk boundary
/// the KV cache is cut to its last `tail` entries (plus the first `sinks` tokens, the role
/// Delethink's kept prompt plays), and the next chunk attends only to what was kept plus its
/// own tokens.
///
/// Position t lies in chunk c = ⌊t/L⌋. Chunk 0 attends [0, t]. Chunk c ≥ 1 attends the sinks
/// [0, s), the carried tail [cL − m, cL) and its own tokens [cL, t]. The tail is cut from the
/// cache as it stood at the boundary, so a tail longer than a chunk (m > L) carries entries
/// that were themselves carried, and m ≥ cL keeps everything: full attention.
///
/// The kept entries are carried as stored (their codes are not re-rounded). Delethink
/// re-encodes the carried tail at new positions (RoPE); the counter-based inputs here do not
/// depend on position, so re-encoding would give the same entries.
public final class ChunkTailSelector: KeySelector {
    public let chunk: Int
    public let tail: Int
    public let sinks: Int

    public init(chunk: Int, tail: Int, sinks: Int = 0) throws {
        guard chunk >= 1 else { throw VariantError("chunk: expected a chunk length ≥ 1 token, got \(chunk)") }
        guard tail >= 1 else { throw VariantError("tail: expected a carried tail ≥ 1 token, got \(tail)") }
        guard sinks >= 0 else { throw VariantError("sinks: expected ≥ 0 sink tokens, got \(sinks)") }
        self.chunk = chunk
        self.tail = tail
        self.sinks = sinks
    }

    /// The first position of the carried tail that position t sees (0 in chunk 0).
    public func tailStart(position t: Int) -> Int {
        let boundary = (t / chunk) * chunk
        return max(0, boundary - tail)
    }

    /// The number of cache entries held after position t was appended.
    public func cachedEntries(position t: Int) -> Int {
        let start = tailStart(position: t)
        return min(sinks, start) + (t - start + 1)
    }

    /// The largest number of cache entries held at any position up to t.
    public func peakEntries(through t: Int) -> Int {
        // Entries at chunk ends never decrease with the chunk index (c·L + L while the tail
        // reaches back to 0, then min(s, cL − m) + m + L), and within a chunk they grow with t:
        // the peak is at t or at the last chunk end before it.
        let lastEnd = ((t + 1) / chunk) * chunk - 1
        return max(cachedEntries(position: t), lastEnd >= 0 ? cachedEntries(position: lastEnd) : 0)
    }

    public func select(position t: Int, kvHead: Int, into keys: inout [Int]) {
        keys.removeAll(keepingCapacity: true)
        let start = tailStart(position: t)
        let s = min(sinks, start)
        if s > 0 { keys.append(contentsOf: 0..<s) }
        keys.append(contentsOf: start...t)
    }
}
