/// A store point through a format spec that takes NumberFormats' fast binary32 path
/// (`quantizeFast`, bit-identical to `quantize`, which a NumberFormats test checks) wherever
/// it applies, and the generic path elsewhere. Binary64 buffers whose values are all
/// binary32 numbers (inputs, as generated) take the fast path too: the result is the same.
public struct FastStore: StoreQuantizer {
    public let format: FormatSpec

    public init(_ format: FormatSpec) { self.format = format }

    public var spec: String { format.description }

    public func store(_ values: UnsafeMutableBufferPointer<Float>, rows: Int, cols: Int, random: CounterRandom) {
        // The fast scaled path traps on an all-zero scale group (a zero state before its first
        // update); such tensors take the generic path.
        if format.granularity != nil && hasZeroGroup(values, rows: rows, cols: cols) {
            _ = format.quantize(UnsafeBufferPointer(values), shape: [rows, cols], into: values, random: random)
            return
        }
        if format.quantizeFast(UnsafeBufferPointer(values), shape: [rows, cols], into: values, random: random) == nil {
            _ = format.quantize(UnsafeBufferPointer(values), shape: [rows, cols], into: values, random: random)
        }
    }

    func hasZeroGroup(_ values: UnsafeMutableBufferPointer<Float>, rows: Int, cols: Int) -> Bool {
        let n = values.count
        var group = n
        switch format.granularity {
        case .perToken?: group = max(cols, 1)
        case .block(let b)?: group = max(min(b, max(cols, 1)), 1)
        case .perTensor?, .perHead?: group = n
        default: group = 1
        }
        var start = 0
        while start < n {
            let end = min(n, start + group)
            var allZero = true
            for i in start..<end where values[i] != 0 { allZero = false; break }
            if allZero { return true }
            start = end
        }
        return false
    }

    public func store(_ values: UnsafeMutableBufferPointer<Double>, rows: Int, cols: Int, random: CounterRandom) {
        let n = values.count
        var exact = true
        for i in 0..<n where Double(Float(values[i])) != values[i] && !values[i].isNaN { exact = false; break }
        if exact {
            var tmp = [Float](repeating: 0, count: n)
            for i in 0..<n { tmp[i] = Float(values[i]) }
            tmp.withUnsafeMutableBufferPointer { store($0, rows: rows, cols: cols, random: random) }
            for i in 0..<n { values[i] = Double(tmp[i]) }
        } else {
            _ = format.quantize(UnsafeBufferPointer(values), shape: [rows, cols], into: values, random: random)
        }
    }
}
