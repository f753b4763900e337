/// What a store point does to a tensor: quantize → dequantize in place.
///
/// The buffer is a rows×cols row-major tensor so that scaled quantizers (per-token, per-channel,
/// block) can find their groups; element quantizers ignore the shape. `random` keys stochastic
/// rounding: element i of the buffer draws `random.bits(i)`.
public protocol StoreQuantizer: Sendable {
    /// The canonical spec string of the storage format.
    var spec: String { get }
    func store(_ values: UnsafeMutableBufferPointer<Double>, rows: Int, cols: Int, random: CounterRandom)
    func store(_ values: UnsafeMutableBufferPointer<Float>, rows: Int, cols: Int, random: CounterRandom)
}

extension ElementRounder: StoreQuantizer {
    public var spec: String {
        var s = format.name
        if rounding != .nearestEven { s += "/\(rounding)" }
        return s
    }

    public func store(_ values: UnsafeMutableBufferPointer<Double>, rows: Int, cols: Int, random: CounterRandom) {
        storeElements(values, random: random)
    }

    public func store(_ values: UnsafeMutableBufferPointer<Float>, rows: Int, cols: Int, random: CounterRandom) {
        storeElements(values, random: random)
    }

    @inlinable
    func storeElements<F: BinaryInterchangeFloat>(_ values: UnsafeMutableBufferPointer<F>, random: CounterRandom) {
        if rounding.isStochastic {
            for i in values.indices { values[i] = round(values[i], random: random.bits(i)) }
        } else {
            for i in values.indices { values[i] = round(values[i]) }
        }
    }
}

extension FormatSpec: StoreQuantizer {
    public var spec: String { description }

    public func store(_ values: UnsafeMutableBufferPointer<Double>, rows: Int, cols: Int, random: CounterRandom) {
        _ = quantize(UnsafeBufferPointer(values), shape: [rows, cols], into: values, random: random)
    }

    public func store(_ values: UnsafeMutableBufferPointer<Float>, rows: Int, cols: Int, random: CounterRandom) {
        // The vectorised path (same results as `quantize`, tested in NumberFormats) through a
        // temporary copy, since it wants distinct input and output: ~50× the scalar path on a
        // state store.
        let done = withUnsafeTemporaryAllocation(of: Float.self, capacity: values.count) { copy in
            _ = copy.initialize(fromContentsOf: values)
            return quantizeFast(UnsafeBufferPointer(copy), shape: [rows, cols], into: values, random: random) != nil
        }
        if done { return }
        _ = quantize(UnsafeBufferPointer(values), shape: [rows, cols], into: values, random: random)
    }
}
