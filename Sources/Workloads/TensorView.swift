import Foundation
import NumberFormats

#if canImport(Glibc)
    import Glibc
#elseif canImport(Darwin)
    import Darwin
#endif

/// One tensor of a file, read in place: name, dtype, shape, and its elements as exact Doubles
/// in C (row-major) order whatever the file's order.
public struct TensorView: Sendable {
    public let name: String
    /// The file the tensor lives in (for error messages).
    public let file: String
    public let dtype: TensorDType
    public let shape: [Int]
    public let count: Int
    let bytes: TensorBytes
    let offset: Int
    let fortran: Bool
    let bigEndian: Bool

    init(name: String, file: String, dtype: TensorDType, shape: [Int], bytes: TensorBytes, offset: Int,
         fortran: Bool = false, bigEndian: Bool = false) {
        self.name = name
        self.file = file
        self.dtype = dtype
        self.shape = shape
        self.count = shape.reduce(1, *)
        self.bytes = bytes
        self.offset = offset
        self.fortran = fortran && shape.count > 1
        self.bigEndian = bigEndian && dtype.size > 1
    }

    /// The storage index of C-order index i.
    func storageIndex(_ i: Int) -> Int {
        guard fortran else { return i }
        // C-order digits of i, weighted by the Fortran strides.
        var rest = i, f = 0, step = count
        var k = shape.count - 1
        while k >= 0 {
            step /= max(shape[k], 1)
            f += (rest % shape[k]) * step
            rest /= shape[k]
            k -= 1
        }
        return f
    }

    /// The raw code of element i (C order), little-endian value.
    public func code(_ i: Int) -> UInt64 {
        precondition(i >= 0 && i < count)
        let s = dtype.size, j = storageIndex(i)
        let b = bytes.buffer(offset + j * s, s)
        var c: UInt64 = 0
        for k in 0..<s { c |= UInt64(b[bigEndian ? s - 1 - k : k]) << (8 * k) }
        return c
    }

    /// Element i (C order) as an exact Double.
    public func element(_ i: Int) -> Double { dtype.value(code: code(i)) }

    /// Elements [start, start + out.count) (C order) into out.
    public func fill(_ out: UnsafeMutableBufferPointer<Double>, from start: Int) {
        precondition(start >= 0 && start + out.count <= count)
        if fortran || bigEndian {
            for i in 0..<out.count { out[i] = element(start + i) }
            return
        }
        let s = dtype.size
        let b = bytes.buffer(offset + start * s, out.count * s)
        switch dtype {
        case .float64: for i in 0..<out.count { out[i] = Double(bitPattern: b.loadUnaligned(fromByteOffset: 8 * i, as: UInt64.self).littleEndian) }
        case .float32: for i in 0..<out.count { out[i] = Double(Float(bitPattern: b.loadUnaligned(fromByteOffset: 4 * i, as: UInt32.self).littleEndian)) }
        case .float16, .bfloat16:
            for i in 0..<out.count { out[i] = dtype.value(code: UInt64(b.loadUnaligned(fromByteOffset: 2 * i, as: UInt16.self).littleEndian)) }
        default: for i in 0..<out.count { out[i] = dtype.value(code: UInt64(b[i])) }
        }
    }

    /// The first non-finite element (C order), if any.
    public func firstNonFinite() -> Int? {
        guard dtype != .int8 && dtype != .uint8 else { return nil }
        var row = [Double](repeating: 0, count: 4096)
        var start = 0
        while start < count {
            let n = min(4096, count - start)
            let bad: Int? = row.withUnsafeMutableBufferPointer { r in
                fill(UnsafeMutableBufferPointer(rebasing: r[0..<n]), from: start)
                for i in 0..<n where !r[i].isFinite { return start + i }
                return nil
            }
            if let bad { return bad }
            start += n
        }
        return nil
    }

    /// All elements (C order); for small tensors and tests.
    public func values() -> [Double] {
        [Double](unsafeUninitializedCapacity: count) { b, n in
            if count > 0 { fill(b, from: 0) }
            n = count
        }
    }

    /// The shape as text, e.g. [4096, 32, 128].
    public var shapeText: String { "[" + shape.map(String.init).joined(separator: ", ") + "]" }
}
