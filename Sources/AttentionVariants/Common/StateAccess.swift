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
