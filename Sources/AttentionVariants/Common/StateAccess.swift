import ExactArithmetic

/// A run whose recurrent state can be replaced between steps: what prefix-cache resume,
/// prefill→decode handoff and speculative-decoding rollback need. `writeState` takes the
/// state in the layout `readState` gives (K×V row-major for the matrix-state variants) and
/// converts it to the backend's numbers (exactly, for values a Float32 state can hold).
public protocol StateWritable: SteppedRun {
    func writeState(_ values: UnsafeBufferPointer<Double>)
}

extension DeltaRuleDecode: StateWritable {
    public func writeState(_ values: UnsafeBufferPointer<Double>) { backend.load(state, values) }
}

extension LinearAttentionDecode: StateWritable {
    public func writeState(_ values: UnsafeBufferPointer<Double>) { backend.load(state, values) }
}

extension GatedLinearDecode: StateWritable {
    public func writeState(_ values: UnsafeBufferPointer<Double>) { backend.load(state, values) }
}

extension RWKV7Decode: StateWritable {
    public func writeState(_ values: UnsafeBufferPointer<Double>) { backend.load(state, values) }
}

/// A run that can also be moved back to an earlier position (speculative decoding: restore
/// the snapshot, then re-decode the accepted tokens). Only for kernels whose whole carried
/// state is the matrix `writeState` replaces (no token shift, no normaliser).
public protocol Rewindable: StateWritable {
    /// The next `step()` processes position `t`.
    func rewind(to t: Int)
}

extension DeltaRuleDecode: Rewindable {
    public func rewind(to t: Int) {
        precondition(t >= 0 && t <= position + 1)
        position = t - 1
    }
}

extension LinearAttentionDecode: Rewindable {
    public func rewind(to t: Int) {
        precondition(t >= 0 && t <= position + 1 && !config.normalizer, "rewinding needs the state to be the whole carried state")
        position = t - 1
    }
}

/// A run that can start at any position from a given state: the reference is certified on a
/// window far into a long run (DESIGN.md §5) by starting MPFR there from the fast run's state,
/// instead of stepping MPFR through the whole prefix.
public protocol Seekable: StateWritable {
    /// Whether the matrix `writeState` replaces is the whole carried state (no normaliser).
    var canSeek: Bool { get }
    /// The next `step()` processes position `t` (any t ≥ 0).
    func seek(to t: Int)
}

extension DeltaRuleDecode: Seekable {
    public var canSeek: Bool { true }
    public func seek(to t: Int) { precondition(t >= 0); position = t - 1 }
}

extension LinearAttentionDecode: Seekable {
    public var canSeek: Bool { !config.normalizer }
    public func seek(to t: Int) { precondition(t >= 0 && canSeek); position = t - 1 }
}

extension GatedLinearDecode: Seekable {
    public var canSeek: Bool { z == nil }
    public func seek(to t: Int) { precondition(t >= 0 && canSeek); position = t - 1 }
}

extension RWKV7Decode: Seekable {
    public var canSeek: Bool { true }
    public func seek(to t: Int) { precondition(t >= 0); position = t - 1 }
}
