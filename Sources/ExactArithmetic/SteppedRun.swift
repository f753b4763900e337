/// One head of a variant advancing token by token on some backend: what the lockstep
/// comparator and the certification drive. Position t is the number of `step()` calls so far
/// minus one; outputs and states are those of the last step.
public protocol SteppedRun: AnyObject {
    var tier: BackendTier { get }
    var outputCount: Int { get }
    /// Elements of the recurrent state (0 for variants without one).
    var stateCount: Int { get }
    /// Advances one token.
    func step()
    func exportOutput(into out: MPFRArray)
    func exportState(into out: MPFRArray)
    func readOutput(into out: UnsafeMutableBufferPointer<Double>)
    func readState(into out: UnsafeMutableBufferPointer<Double>)
}
