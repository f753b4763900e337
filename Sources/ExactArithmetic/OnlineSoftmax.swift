/// The online-softmax pieces (Milakov & Gimelshein 2018; FlashAttention's running max/sum),
/// written once against `Backend` so every tier runs the same operation order.
///
/// For scores s_1…s_n and values v_i: m ← max(m, s); c ← e^{m_old − m}; p ← e^{s − m};
/// l ← l·c + p; acc ← acc·c + p·v. `finish` gives acc / l. Scratch tensors are allocated once.
public final class OnlineSoftmax<B: Backend> {
    public let backend: B
    public let valueCount: Int
    public let runningMax: Tensor
    public let runningSum: Tensor
    public let accumulator: Tensor
    let newMax: Tensor, correction: Tensor, weight: Tensor
    var empty = true

    public init(backend: B, valueCount: Int) {
        self.backend = backend
        self.valueCount = valueCount
        runningMax = backend.allocate(1)
        runningSum = backend.allocate(1)
        accumulator = backend.allocate(valueCount)
        newMax = backend.allocate(1)
        correction = backend.allocate(1)
        weight = backend.allocate(1)
    }

    public func reset() {
        backend.fill(runningSum, 0)
        backend.fill(accumulator, 0)
        empty = true
    }

    /// Adds one key's score (1×1) and value (1×valueCount).
    public func add(score: Tensor, value: Tensor) {
        let b = backend
        if empty {
            b.copy(runningMax, score)
            b.fill(runningSum, 1)
            b.copy(accumulator, value)
            empty = false
            return
        }
        b.maximum(newMax, runningMax, score)
        b.subtract(correction, runningMax, newMax)
        b.apply(.exp, correction, correction)
        b.subtract(weight, score, newMax)
        b.apply(.exp, weight, weight)
        b.fma(runningSum, runningSum, correction, weight)  // l·c + p
        b.scale(accumulator, by: correction)
        b.axpy(accumulator, weight, value)  // acc + p·v
        b.copy(runningMax, newMax)
    }

    /// Adds a sink logit to the denominator only (GPT-OSS style).
    public func addSink(logit: Tensor) {
        let b = backend
        precondition(!empty, "a sink needs at least one key")
        b.maximum(newMax, runningMax, logit)
        b.subtract(correction, runningMax, newMax)
        b.apply(.exp, correction, correction)
        b.subtract(weight, logit, newMax)
        b.apply(.exp, weight, weight)
        b.fma(runningSum, runningSum, correction, weight)
        b.scale(accumulator, by: correction)
        b.copy(runningMax, newMax)
    }

    /// out ← acc / l.
    public func finish(into out: Tensor) {
        backend.divide(out, accumulator, runningSum)
    }
}
