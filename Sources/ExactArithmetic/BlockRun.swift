/// A run the lockstep engine advances a block of tokens at a time: the block's outputs land in
/// rows of a buffer, the state is read at the block's end. Fused kernels run whole blocks in one
/// call, on inputs prepared one block ahead (so preparing block b + 1 and computing block b can
/// run on different threads); every other run steps token by token.
public protocol BlockRun: AnyObject {
    /// The run it advances (probes, certification, shape).
    var base: SteppedRun { get }
    /// Prepares the inputs of the next `n` tokens after those prepared so far. May run
    /// concurrently with `compute` of the block prepared before it, never with another `prepare`.
    func prepare(_ n: Int)
    /// Advances the `n` tokens prepared first and not yet computed; row i of `outputs`
    /// (outputCount values at outputs + i·stride) receives token i's output, or only row n − 1
    /// when `everyOutput` is false.
    func compute(_ n: Int, outputs: UnsafeMutablePointer<Double>, stride: Int, everyOutput: Bool)
    func readState(into out: UnsafeMutableBufferPointer<Double>)
}

extension BlockRun {
    /// `compute` with the rows packed (stride = outputCount).
    public func compute(_ n: Int, outputs: UnsafeMutablePointer<Double>, everyOutput: Bool) {
        compute(n, outputs: outputs, stride: base.outputCount, everyOutput: everyOutput)
    }
}

/// Any stepped run, one token at a time (nothing to prepare). A run with `until` stops after
/// that many tokens: later blocks leave its rows as they were.
public final class SteppedBlockRun: BlockRun {
    public let base: SteppedRun
    public let until: Int
    public private(set) var stepped = 0
    public init(_ run: SteppedRun, until: Int = .max) { base = run; self.until = until }

    public func prepare(_ n: Int) {}

    public func compute(_ n: Int, outputs: UnsafeMutablePointer<Double>, stride: Int, everyOutput: Bool) {
        let oc = base.outputCount
        for i in 0..<min(n, until - stepped) {
            base.step()
            stepped += 1
            if everyOutput || i == n - 1 { base.readOutput(into: UnsafeMutableBufferPointer(start: outputs + i * stride, count: oc)) }
        }
    }

    public func readState(into out: UnsafeMutableBufferPointer<Double>) { base.readState(into: out) }
}
