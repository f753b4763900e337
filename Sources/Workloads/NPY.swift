import Foundation
import NumberFormats

/// A tensor file that cannot be read or written, in one line naming the file.
public typealias TensorFileError = InputError

/// The element data of a `.npy` array, in C (row-major) order.
public enum NPYData: Sendable {
    /// `<f2`, widened exactly to Float.
    case float16([Float])
    case float32([Float])
    case float64([Double])
    case uint8([UInt8])
    case uint16([UInt16])

    public var count: Int {
        switch self {
        case .float16(let a), .float32(let a): return a.count
        case .float64(let a): return a.count
        case .uint8(let a): return a.count
        case .uint16(let a): return a.count
        }
    }
}

public struct NPYArray: Sendable {
    public var shape: [Int]
    public var data: NPYData
    /// The dtype string as the file states it (`<f4` …).
    public var descr: String

    public init(shape: [Int], data: NPYData, descr: String) {
        self.shape = shape
        self.data = data
        self.descr = descr
    }
}

/// NumPy's `.npy` format, versions 1.0–3.0 (little- and big-endian, C and Fortran order).
public enum NPY {
    static let magic: [UInt8] = [0x93, 0x4E, 0x55, 0x4D, 0x50, 0x59]  // \x93NUMPY

    /// Reads a whole `.npy` file. Supported dtypes: f2, f4, f8, u1, u2.
    public static func read(path: String) throws -> NPYArray {
        let bytes = try TensorBytes(mapping: path)
        guard let base = bytes.base else { return try parse(Data(), path: path) }
        let data = Data(bytesNoCopy: UnsafeMutableRawPointer(mutating: base), count: bytes.count, deallocator: .none)
        return try withExtendedLifetime(bytes) { try parse(data, path: path) }
    }

    /// The parsed preamble of a `.npy` file: dtype, order, shape, element count and where the
    /// data starts. `bytes(range)` returns the file's bytes in `range` (clamped to the file).
    struct Layout {
        var descr: String
        /// The dtype string as the file wrote it, for messages.
        var written: String
        var fortran: Bool
        var shape: [Int]
        var count: Int
        var payloadStart: Int
    }

    /// The largest header this reader accepts: NumPy's loader refuses more than 10 000 characters
    /// (`max_header_size`), and so does this one (counting bytes).
    static let maxHeaderBytes = 10_000

    static func layout(count total: Int, path: String, bytes: (Range<Int>) -> [UInt8]) throws -> Layout {
        let head = bytes(0..<min(total, 12))
        guard head.count >= 10, Array(head[0..<6]) == magic else {
            throw TensorFileError("\(path): not a .npy file (missing the \\x93NUMPY magic)")
        }
        let major = head[6]
        let headerLength: Int
        let headerStart: Int
        switch major {
        case 1:
            headerLength = Int(head[8]) | Int(head[9]) << 8
            headerStart = 10
        case 2, 3:
            guard head.count >= 12 else { throw TensorFileError("\(path): truncated .npy header") }
            headerLength = Int(head[8]) | Int(head[9]) << 8 | Int(head[10]) << 16 | Int(head[11]) << 24
            headerStart = 12
        default:
            throw TensorFileError("\(path): unsupported .npy version \(major).\(head[7]); expected 1.0, 2.0 or 3.0")
        }
        guard head[7] == 0 else {
            throw TensorFileError("\(path): unsupported .npy version \(major).\(head[7]); expected 1.0, 2.0 or 3.0")
        }
        guard total >= headerStart + headerLength else {
            throw TensorFileError("\(path): truncated .npy header (\(total) bytes, header needs \(headerStart + headerLength))")
        }
        guard headerLength <= maxHeaderBytes else {
            throw TensorFileError("\(path): .npy header of \(headerLength) bytes exceeds the \(maxHeaderBytes)-byte limit")
        }
        let headerBytes = Data(bytes(headerStart..<headerStart + headerLength))
        guard let header = String(data: headerBytes, encoding: major == 3 ? .utf8 : .isoLatin1) else {
            throw TensorFileError("\(path): .npy header is not text")
        }
        let h = try NPYHeader.parse(header, major: major, path: path)
        let (descr, fortran, shape) = (h.descr, h.fortran, h.shape)
        var count = 1
        for d in shape {
            let (c, overflow) = count.multipliedReportingOverflow(by: d)
            if overflow { throw TensorFileError("\(path): shape \(shape) has more elements than Int can count") }
            count = c
        }
        return Layout(descr: descr, written: h.written, fortran: fortran, shape: shape, count: count, payloadStart: headerStart + headerLength)
    }

    /// The payload size check shared by both readers.
    static func checkPayload(_ l: Layout, itemSize: Int, total: Int, path: String) throws {
        let payload = total - l.payloadStart
        let (needed, overflow) = l.count.multipliedReportingOverflow(by: itemSize)
        guard !overflow, payload == needed else {
            throw TensorFileError(
                "\(path): data holds \(payload) bytes but shape \(l.shape) of \(l.written) needs \(overflow ? "more than Int.max" : String(needed))")
        }
    }

    public static func parse(_ data: Data, path: String) throws -> NPYArray {
        let l = try layout(count: data.count, path: path) { r in
            let hi = min(r.upperBound, data.count)
            return r.lowerBound < hi ? [UInt8](data[data.startIndex + r.lowerBound..<data.startIndex + hi]) : []
        }
        let (descr, fortran, shape, count) = (l.descr, l.fortran, l.shape, l.count)
        guard let byteOrder = descr.first, descr.count == 3 else {
            throw TensorFileError("\(path): unsupported dtype '\(l.written)'; expected <f2, <f4, <f8, |u1 or <u2")
        }
        let kind = String(descr.dropFirst())
        let itemSize: Int
        switch kind {
        case "f2", "u2": itemSize = 2
        case "f4": itemSize = 4
        case "f8": itemSize = 8
        case "u1": itemSize = 1
        default:
            throw TensorFileError("\(path): unsupported dtype '\(l.written)'; expected <f2, <f4, <f8, |u1 or <u2")
        }
        try checkPayload(l, itemSize: itemSize, total: data.count, path: path)
        let needed = count * itemSize
        let payloadStart = data.startIndex + l.payloadStart
        let bigEndian = byteOrder == ">" && itemSize > 1
        let raw = data.subdata(in: payloadStart..<payloadStart + needed)
        var out: NPYData
        switch kind {
        case "f2":
            let bits: [UInt16] = loadIntegers(raw, count: count, bigEndian: bigEndian)
            out = .float16(bits.map { halfToFloat($0) })
        case "u2":
            out = .uint16(loadIntegers(raw, count: count, bigEndian: bigEndian))
        case "f4":
            let bits: [UInt32] = loadIntegers(raw, count: count, bigEndian: bigEndian)
            out = .float32(bits.map { Float(bitPattern: $0) })
        case "f8":
            let bits: [UInt64] = loadIntegers(raw, count: count, bigEndian: bigEndian)
            out = .float64(bits.map { Double(bitPattern: $0) })
        default:
            out = .uint8([UInt8](raw))
        }
        if fortran && shape.count > 1 { out = toCOrder(out, shape: shape) }
        return NPYArray(shape: shape, data: out, descr: descr)
    }

    static func loadIntegers<T: FixedWidthInteger>(_ raw: Data, count: Int, bigEndian: Bool) -> [T] {
        var result = [T](repeating: 0, count: count)
        result.withUnsafeMutableBytes { dst in _ = raw.copyBytes(to: dst) }
        for i in 0..<count { result[i] = bigEndian ? T(bigEndian: result[i]) : T(littleEndian: result[i]) }
        return result
    }

    static func halfToFloat(_ h: UInt16) -> Float {
        #if arch(x86_64) || arch(arm64)
            return Float(Float16(bitPattern: h))
        #else
            fatalError("Float16 unavailable")
        #endif
    }

    static func toCOrder(_ d: NPYData, shape: [Int]) -> NPYData {
        func permute<T>(_ a: [T]) -> [T] {
            var out = a
            let n = shape.count
            var idx = [Int](repeating: 0, count: n)
            for c in 0..<a.count {
                // c is the C-order index of idx; its Fortran-order position:
                var f = 0
                var stride = 1
                for k in 0..<n {
                    f += idx[k] * stride
                    stride *= shape[k]
                }
                out[c] = a[f]
                var k = n - 1
                while k >= 0 {
                    idx[k] += 1
                    if idx[k] < shape[k] { break }
                    idx[k] = 0
                    k -= 1
                }
            }
            return out
        }
        switch d {
        case .float16(let a): return .float16(permute(a))
        case .float32(let a): return .float32(permute(a))
        case .float64(let a): return .float64(permute(a))
        case .uint8(let a): return .uint8(permute(a))
        case .uint16(let a): return .uint16(permute(a))
        }
    }

    // MARK: writing

    public static func encode(shape: [Int], descr: String, payload: Data) -> Data {
        let shapeText = shape.count == 1 ? "(\(shape[0]),)" : "(" + shape.map(String.init).joined(separator: ", ") + ")"
        var dict = "{'descr': '\(descr)', 'fortran_order': False, 'shape': \(shapeText), }"
        let unpadded = 10 + dict.utf8.count + 1
        dict += String(repeating: " ", count: (64 - unpadded % 64) % 64) + "\n"
        var out = Data(magic)
        out.append(contentsOf: [1, 0, UInt8(dict.utf8.count & 0xFF), UInt8(dict.utf8.count >> 8)])
        out.append(dict.data(using: .ascii)!)
        out.append(payload)
        return out
    }

    public static func data<T>(of array: [T]) -> Data {
        array.withUnsafeBytes { Data($0) }
    }

    /// Writes through `AtomicFile` (temporary file in the same folder, then rename).
    public static func write(path: String, shape: [Int], float32 values: [Float]) throws {
        try writeAtomically(encode(shape: shape, descr: "<f4", payload: data(of: values)), to: path)
    }

    public static func write(path: String, shape: [Int], float64 values: [Double]) throws {
        try writeAtomically(encode(shape: shape, descr: "<f8", payload: data(of: values)), to: path)
    }

    public static func write(path: String, shape: [Int], uint8 values: [UInt8]) throws {
        try writeAtomically(encode(shape: shape, descr: "|u1", payload: data(of: values)), to: path)
    }

    public static func write(path: String, shape: [Int], uint16 values: [UInt16]) throws {
        try writeAtomically(encode(shape: shape, descr: "<u2", payload: data(of: values)), to: path)
    }

    /// `AtomicFile.write`.
    public static func writeAtomically(_ data: Data, to path: String) throws {
        try AtomicFile.write(data, to: path)
    }
}

func describeIOError(_ error: Error) -> String {
    let ns = error as NSError
    if let underlying = ns.userInfo[NSUnderlyingErrorKey] as? NSError, underlying.domain == NSPOSIXErrorDomain {
        return String(cString: strerror(Int32(underlying.code)))
    }
    if ns.domain == NSPOSIXErrorDomain { return String(cString: strerror(Int32(ns.code))) }
    switch ns.code {
    case NSFileReadNoSuchFileError, NSFileNoSuchFileError: return "no such file"
    case NSFileReadNoPermissionError, NSFileWriteNoPermissionError: return "permission denied"
    case NSFileWriteOutOfSpaceError: return "no space left"
    default: return ns.localizedDescription
    }
}
