import Foundation
import NumberFormats

#if canImport(Glibc)
    import Glibc
#elseif canImport(Darwin)
    import Darwin
#endif

/// Writes one `.npy` file row by row (F64 or F32), to `AtomicFile`'s temporary file, renamed
/// into place by `finish()`; `discard()` (or an unfinished writer) leaves nothing behind.
public final class NPYStreamWriter {
    public let path: String
    public let shape: [Int]
    public let dtype: TensorDType
    let temp: String
    var file: UnsafeMutablePointer<FILE>?
    var written = 0
    let expected: Int

    public init(path: String, shape: [Int], dtype: TensorDType) throws {
        precondition(dtype == .float64 || dtype == .float32, "streamed .npy output is F64 or F32")
        self.path = path
        self.shape = shape
        self.dtype = dtype
        expected = shape.reduce(1, *)
        temp = AtomicFile.temporaryPath(for: path)
        guard let f = fopen(temp, "wb") else {
            throw TensorFileError("\(path): cannot write (\(String(cString: strerror(errno))))")
        }
        file = f
        let header = NPY.encode(shape: shape, descr: dtype.npyDescr!, payload: Data())
        try put(header)
    }

    func put(_ d: Data) throws {
        let n = d.withUnsafeBytes { fwrite($0.baseAddress, 1, d.count, file) }
        guard n == d.count else {
            discard()
            throw TensorFileError("\(path): cannot write (\(String(cString: strerror(errno))))")
        }
    }

    /// Appends values (C order).
    public func append(_ values: UnsafeBufferPointer<Double>) throws {
        precondition(written + values.count <= expected, "\(path): more values than shape \(shape) holds")
        if dtype == .float64 {
            try put(Data(buffer: values))
        } else {
            try put([Float](unsafeUninitializedCapacity: values.count) { b, n in
                for i in 0..<values.count { b[i] = Float(values[i]) }
                n = values.count
            }.withUnsafeBufferPointer { Data(buffer: $0) })
        }
        written += values.count
    }

    public func append(_ values: [Double]) throws { try values.withUnsafeBufferPointer { try append($0) } }

    /// Closes the file and renames it into place.
    public func finish() throws {
        precondition(written == expected, "\(path): \(written) values written, shape \(shape) needs \(expected)")
        guard let f = file else { return }
        file = nil
        guard fclose(f) == 0 else {
            let e = String(cString: strerror(errno))
            unlink(temp)
            throw TensorFileError("\(path): cannot write (\(e))")
        }
        try AtomicFile.commit(temp, to: path)
    }

    public func discard() {
        if let f = file { fclose(f); unlink(temp) }
        file = nil
    }

    deinit { discard() }
}
