/// The block-lockstep engine: advances a reference and its approximations together over
/// positions 0..<T, a block of tokens at a time, and hands each block's output rows to a
/// measuring closure; nothing O(T·d) is kept (the buffers hold one block).
///
/// Computing block b and preparing block b + 1 (`BlockRun`) are independent tasks on the
/// `WorkQueue`; each run is advanced by one task per block, in order, so no output depends on
/// the thread count. Runs listed in one group of `groups` write their rows side by side
/// (the heads of one series); every other run has a buffer of its own.
public final class LockstepEngine {
    public let runs: [BlockRun]
    let maxBlock: Int
    let everyOutput: Bool
    let threads: Int
    /// Per group: its row width and its buffer [maxBlock, width].
    let widths: [Int]
    let buffers: [UnsafeMutableBufferPointer<Double>]
    /// Per run: where its row 0 starts and the distance between its rows.
    let slots: [(start: UnsafeMutablePointer<Double>, stride: Int)]

    /// `maxBlock` bounds a block; `everyOutput` false fills only the last row of a block;
    /// `threads` bounds the tasks run at once (1: in order on this thread).
    public init(runs: [BlockRun], groups: [[Int]]? = nil, maxBlock: Int, everyOutput: Bool = true, threads: Int = 1) {
        let groups = groups ?? runs.indices.map { [$0] }
        self.runs = runs
        self.maxBlock = maxBlock
        self.everyOutput = everyOutput
        self.threads = threads
        widths = groups.map { g in g.reduce(0) { $0 + runs[$1].base.outputCount } }
        buffers = widths.map { w in
            let b = UnsafeMutableBufferPointer<Double>.allocate(capacity: maxBlock * max(w, 1))
            b.initialize(repeating: 0)
            return b
        }
        var slots = [(start: UnsafeMutablePointer<Double>, stride: Int)?](repeating: nil, count: runs.count)
        for (g, members) in groups.enumerated() {
            var offset = 0
            for r in members {
                slots[r] = (buffers[g].baseAddress! + offset, widths[g])
                offset += runs[r].base.outputCount
            }
        }
        self.slots = slots.map { $0! }
    }

    deinit { for b in buffers { b.deallocate() } }

    /// Output row i of the current block of group g (of run g when there are no groups).
    public func row(_ g: Int, _ i: Int) -> UnsafeBufferPointer<Double> {
        UnsafeBufferPointer(rebasing: buffers[g][i * widths[g]..<(i + 1) * widths[g]])
    }

    /// Steps every run over positions 0..<tokens. A block ends after `maxBlock` tokens, at a
    /// position t with `endsAt(t)`, or at the last position. `atBlockStart(t)` runs before the
    /// block starting at t is computed (states read there are those after position t − 1);
    /// `measure(start, count)` after it, with the block's rows in the buffers.
    public func run(
        tokens T: Int, endsAt: (Int) -> Bool, atBlockStart: (Int) -> Void = { _ in },
        measure: (_ start: Int, _ count: Int) throws -> Void
    ) rethrows {
        func blockLength(from t: Int) -> Int {
            var end = t
            while end < T - 1 && end - t + 1 < maxBlock && !endsAt(end) { end += 1 }
            return end - t + 1
        }
        var t = 0
        var n = T > 0 ? blockLength(from: 0) : 0
        step(compute: 0, prepare: n)
        while t < T {
            atBlockStart(t)
            let end = t + n - 1
            let next = end + 1 < T ? blockLength(from: end + 1) : 0
            step(compute: n, prepare: next)
            try measure(t, n)
            t = end + 1
            n = next
        }
    }

    /// The distance of run b's state from run a's, as they stand.
    public func stateDistance(_ a: Int, _ b: Int, meter: ErrorMeter) -> ErrorMeter.Distance {
        let count = runs[a].base.stateCount
        var sa = [Double](repeating: 0, count: count), sb = sa
        sa.withUnsafeMutableBufferPointer { runs[a].readState(into: $0) }
        sb.withUnsafeMutableBufferPointer { runs[b].readState(into: $0) }
        return sa.withUnsafeBufferPointer { x in sb.withUnsafeBufferPointer { y in meter.distance(reference: x, y) } }
    }

    /// Computes the prepared block of n tokens and prepares the next one of `next` tokens: one
    /// task per run and kind, queued in that order.
    func step(compute n: Int, prepare next: Int) {
        var tasks: [() -> Void] = []
        for (r, run) in runs.enumerated() {
            if next > 0 { tasks.append { run.prepare(next) } }
            if n > 0 {
                let slot = slots[r], every = everyOutput
                tasks.append { run.compute(n, outputs: slot.start, stride: slot.stride, everyOutput: every) }
            }
        }
        WorkQueue.perform(tasks, jobs: threads)
    }
}
