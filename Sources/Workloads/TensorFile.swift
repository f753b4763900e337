import Foundation
import NumberFormats

#if canImport(Glibc)
    import Glibc
#elseif canImport(Darwin)
    import Darwin
#endif

/// The element types a tensor file may hold (safetensors' names).
public enum TensorDType: String, CaseIterable, Hashable, Sendable, CustomStringConvertible {
    case float64 = "F64"
    case float32 = "F32"
    case float16 = "F16"
    case bfloat16 = "BF16"
    case float8E4M3 = "F8_E4M3"
    case float8E5M2 = "F8_E5M2"
    case int8 = "I8"
    case uint8 = "U8"

    public var description: String { rawValue }

    /// Bytes per element.
    public var size: Int {
        switch self {
        case .float64: return 8
        case .float32: return 4
        case .float16, .bfloat16: return 2
        case .float8E4M3, .float8E5M2, .int8, .uint8: return 1
        }
    }

    /// The `.npy` dtype this toolkit writes (bf16 as `<u2`, as ml_dtypes' `.view(np.uint16)`);
    /// nil where NumPy has no unambiguous spelling (the fp8 formats: use `.safetensors`).
    public var npyDescr: String? {
        switch self {
        case .float64: return "<f8"
        case .float32: return "<f4"
        case .float16: return "<f2"
        case .bfloat16: return "<u2"
        case .int8: return "|i1"
        case .uint8: return "|u1"
        case .float8E4M3, .float8E5M2: return nil
        }
    }

    /// The value of a raw little-endian code (exact: every dtype here is a subset of binary64).
    @inlinable public func value(code: UInt64) -> Double {
        switch self {
        case .float64: return Double(bitPattern: code)
        case .float32: return Double(Float(bitPattern: UInt32(truncatingIfNeeded: code)))
        case .float16: return ElementFormat.decode(UInt32(truncatingIfNeeded: code), format: .float16)
        case .bfloat16: return Double(Float(bitPattern: UInt32(truncatingIfNeeded: code) << 16))
        case .float8E4M3: return ElementFormat.decode(UInt32(truncatingIfNeeded: code), format: .float8_e4m3fn)
        case .float8E5M2: return ElementFormat.decode(UInt32(truncatingIfNeeded: code), format: .float8_e5m2)
        case .int8: return Double(Int8(truncatingIfNeeded: code))
        case .uint8: return Double(UInt8(truncatingIfNeeded: code))
        }
    }
}

/// Read-only bytes of a tensor file: memory-mapped (POSIX mmap, nothing copied) or, for bytes
/// already in memory, an owned copy.
public final class TensorBytes: @unchecked Sendable {
    public let base: UnsafeRawPointer?
    public let count: Int
    private let mapped: Bool

    /// Maps `path` read-only. An empty file has no mapping (count 0).
    public init(mapping path: String) throws {
        let fd = open(path, O_RDONLY)
        guard fd >= 0 else { throw TensorFileError("\(path): cannot read (\(String(cString: strerror(errno))))") }
        defer { close(fd) }
        var st = stat()
        guard fstat(fd, &st) == 0 else { throw TensorFileError("\(path): cannot read (\(String(cString: strerror(errno))))") }
        guard (st.st_mode & S_IFMT) == S_IFREG else { throw TensorFileError("\(path): not a regular file") }
        count = Int(st.st_size)
        mapped = count > 0
        if count == 0 {
            base = nil
            return
        }
        guard let p = mmap(nil, count, PROT_READ, MAP_PRIVATE, fd, 0), p != MAP_FAILED else {
            throw TensorFileError("\(path): cannot map (\(String(cString: strerror(errno))))")
        }
        base = UnsafeRawPointer(p)
    }

    /// A copy of `data` (tests, fuzzing).
    public init(_ data: Data) {
        let n = data.count
        count = n
        mapped = false
        if n == 0 {
            base = nil
            return
        }
        let p = UnsafeMutableRawPointer.allocate(byteCount: n, alignment: 16)
        data.withUnsafeBytes { p.copyMemory(from: $0.baseAddress!, byteCount: n) }
        base = UnsafeRawPointer(p)
    }

    deinit {
        guard let base else { return }
        if mapped { munmap(UnsafeMutableRawPointer(mutating: base), count) } else { base.deallocate() }
    }

    /// Bytes [start, start + n) (the caller has checked the range).
    func buffer(_ start: Int, _ n: Int) -> UnsafeRawBufferPointer {
        guard let base, n > 0 else { return UnsafeRawBufferPointer(start: nil, count: 0) }
        return UnsafeRawBufferPointer(start: base + start, count: n)
    }
}

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

/// A tensor as a writer gives it: raw little-endian element bytes.
public struct TensorPayload: Sendable {
    public var name: String
    public var dtype: TensorDType
    public var shape: [Int]
    public var bytes: Data

    public init(name: String, dtype: TensorDType, shape: [Int], bytes: Data) {
        self.name = name
        self.dtype = dtype
        self.shape = shape
        self.bytes = bytes
    }

    /// Float64 values stored as `dtype`: exact for F64, rounded to nearest-even for the float
    /// dtypes, truncated toward zero and clamped for the integers.
    public init(name: String, dtype: TensorDType, shape: [Int], values: [Double]) {
        var d = Data(capacity: values.count * dtype.size)
        for x in values {
            switch dtype {
            case .float64: withUnsafeBytes(of: x.bitPattern.littleEndian) { d.append(contentsOf: $0) }
            case .float32: withUnsafeBytes(of: Float(x).bitPattern.littleEndian) { d.append(contentsOf: $0) }
            case .float16, .bfloat16:
                let f = dtype == .float16 ? ElementFormat.float16 : ElementFormat.bfloat16
                let c = UInt16(truncatingIfNeeded: ElementRounder(format: f).encode(x))
                withUnsafeBytes(of: c.littleEndian) { d.append(contentsOf: $0) }
            case .float8E4M3: d.append(UInt8(truncatingIfNeeded: ElementRounder(format: .float8_e4m3fn).encode(x)))
            case .float8E5M2: d.append(UInt8(truncatingIfNeeded: ElementRounder(format: .float8_e5m2).encode(x)))
            case .int8: d.append(UInt8(bitPattern: Int8(max(-128, min(127, x.isNaN ? 0 : x.rounded(.towardZero))))))
            case .uint8: d.append(UInt8(max(0, min(255, x.isNaN ? 0 : x.rounded(.towardZero)))))
            }
        }
        self.init(name: name, dtype: dtype, shape: shape, bytes: d)
    }
}

/// The tensors of one `.safetensors` file or one folder of `.npy` files, by name.
public struct TensorFile: Sendable {
    /// The file or folder.
    public let path: String
    public let tensors: [String: TensorView]
    public var names: [String] { tensors.keys.sorted() }

    public subscript(name: String) -> TensorView? { tensors[name] }

    /// Opens a `.safetensors` file, a `.npy` file (one tensor named by the file's base name),
    /// or a folder of `.npy` files (one tensor per file, named by its base name).
    public static func open(_ path: String) throws -> TensorFile {
        var isDir: ObjCBool = false
        guard FileManager.default.fileExists(atPath: path, isDirectory: &isDir) else {
            throw TensorFileError("\(path): no such file or folder")
        }
        if isDir.boolValue {
            let names: [String]
            do { names = try FileManager.default.contentsOfDirectory(atPath: path) } catch {
                throw TensorFileError("\(path): cannot list (\(describeIOError(error)))")
            }
            var tensors: [String: TensorView] = [:]
            for n in names.sorted() where n.hasSuffix(".npy") {
                let p = (path as NSString).appendingPathComponent(n)
                let v = try NPY.view(path: p)
                tensors[v.name] = v
            }
            guard !tensors.isEmpty else { throw TensorFileError("\(path): folder holds no .npy files") }
            return TensorFile(path: path, tensors: tensors)
        }
        if path.hasSuffix(".npy") {
            let v = try NPY.view(path: path)
            return TensorFile(path: path, tensors: [v.name: v])
        }
        return try SafeTensors.read(path: path)
    }
}

/// The `.safetensors` format: an 8-byte little-endian header length N, N bytes of JSON
/// `{name: {"dtype", "shape", "data_offsets": [begin, end]}, "__metadata__": {str: str}}`, then
/// the data; offsets are relative to the data region.
public enum SafeTensors {
    /// The reference implementation's cap on the header (100 MB).
    public static let maxHeaderBytes = 100_000_000

    public static func read(path: String) throws -> TensorFile {
        try parse(TensorBytes(mapping: path), path: path)
    }

    struct Entry: Decodable {
        var dtype: String?
        var shape: [Int]?
        var dataOffsets: [Int]?
        var metadata: [String: String]?
        var unknownKeys: [String] = []

        struct Key: CodingKey {
            var stringValue: String
            var intValue: Int? { nil }
            init(stringValue: String) { self.stringValue = stringValue }
            init?(intValue: Int) { nil }
        }

        init(from decoder: Decoder) throws {
            if let m = try? decoder.singleValueContainer().decode([String: String].self) {
                metadata = m
                return
            }
            let c = try decoder.container(keyedBy: Key.self)
            for key in c.allKeys {
                switch key.stringValue {
                case "dtype": dtype = try c.decode(String.self, forKey: key)
                case "shape": shape = try c.decode([Int].self, forKey: key)
                case "data_offsets": dataOffsets = try c.decode([Int].self, forKey: key)
                default: unknownKeys.append(key.stringValue)
                }
            }
        }
    }

    public static func parse(_ bytes: TensorBytes, path: String) throws -> TensorFile {
        func fail(_ s: String) -> TensorFileError { TensorFileError("\(path): \(s)") }
        guard bytes.count >= 8 else { throw fail("truncated .safetensors file (\(bytes.count) bytes; the header length alone needs 8)") }
        let lengthBytes = bytes.buffer(0, 8)
        var n64: UInt64 = 0
        for k in 0..<8 { n64 |= UInt64(lengthBytes[k]) << (8 * k) }
        guard n64 <= UInt64(bytes.count - 8) else {
            throw fail("header length \(n64) goes beyond the file (\(bytes.count) bytes); truncated or not a .safetensors file")
        }
        let n = Int(n64)
        guard n <= maxHeaderBytes else { throw fail("header length \(n) exceeds the \(maxHeaderBytes)-byte limit") }
        guard n >= 2 else { throw fail("header length \(n) is too short for a JSON object") }
        let json = Data(bytes.buffer(8, n))
        guard json.first == UInt8(ascii: "{") else { throw fail("header does not start with '{' (not a .safetensors file)") }
        let entries: [String: Entry]
        do { entries = try JSONDecoder().decode([String: Entry].self, from: json) } catch {
            throw fail("header is not a JSON object of tensor entries (\(jsonProblem(error)))")
        }
        let dataStart = 8 + n, dataSize = bytes.count - dataStart
        var views: [String: TensorView] = [:]
        var ranges: [(begin: Int, end: Int, name: String)] = []
        for name in entries.keys.sorted() {
            let e = entries[name]!
            if name == "__metadata__" {
                guard e.metadata != nil else { throw fail("__metadata__: expected an object of strings") }
                continue
            }
            func bad(_ s: String) -> TensorFileError { fail("tensor '\(name)': \(s)") }
            if e.metadata != nil && e.dtype == nil { throw bad("expected {dtype, shape, data_offsets}, got an object of strings") }
            if let k = e.unknownKeys.first { throw bad("unknown key '\(k)'; expected dtype, shape, data_offsets") }
            guard let ds = e.dtype else { throw bad("missing 'dtype'") }
            guard let dtype = TensorDType(rawValue: ds) else {
                throw bad("unsupported dtype '\(ds)'; expected one of \(TensorDType.allCases.map(\.rawValue).joined(separator: ", "))")
            }
            guard let shape = e.shape else { throw bad("missing 'shape'") }
            guard let off = e.dataOffsets else { throw bad("missing 'data_offsets'") }
            guard off.count == 2 else { throw bad("data_offsets: expected [begin, end], got \(off.count) numbers") }
            let (begin, end) = (off[0], off[1])
            guard begin >= 0, end >= begin else { throw bad("data_offsets [\(begin), \(end)]: expected 0 ≤ begin ≤ end") }
            guard end <= dataSize else {
                throw bad("data_offsets [\(begin), \(end)] go beyond the data region (\(dataSize) bytes); truncated file?")
            }
            var elements = 1
            for d in shape {
                guard d >= 0 else { throw bad("shape \(shape): expected non-negative dimensions") }
                let (p, o) = elements.multipliedReportingOverflow(by: d)
                if o { throw bad("shape \(shape) has more elements than Int can count") }
                elements = p
            }
            let (needed, o) = elements.multipliedReportingOverflow(by: dtype.size)
            guard !o, needed == end - begin else {
                throw bad("shape \(shape) of \(ds) needs \(o ? "more than Int.max" : String(needed)) bytes but data_offsets [\(begin), \(end)] hold \(end - begin)")
            }
            ranges.append((begin, end, name))
            views[name] = TensorView(name: name, file: path, dtype: dtype, shape: shape, bytes: bytes, offset: dataStart + begin)
        }
        ranges.sort { ($0.begin, $0.end, $0.name) < ($1.begin, $1.end, $1.name) }
        for i in ranges.indices.dropFirst() where ranges[i].begin < ranges[i - 1].end {
            throw fail("tensor '\(ranges[i].name)': data_offsets [\(ranges[i].begin), \(ranges[i].end)] overlap tensor '\(ranges[i - 1].name)' [\(ranges[i - 1].begin), \(ranges[i - 1].end)]")
        }
        return TensorFile(path: path, tensors: views)
    }

    static func jsonProblem(_ error: Error) -> String {
        switch error {
        case DecodingError.typeMismatch(_, let c), DecodingError.valueNotFound(_, let c), DecodingError.keyNotFound(_, let c),
            DecodingError.dataCorrupted(let c):
            let at = c.codingPath.map(\.stringValue).joined(separator: ".")
            return (at.isEmpty ? "" : "at '\(at)': ") + c.debugDescription.replacingOccurrences(of: "\n", with: " ")
        default: return "\(error)".replacingOccurrences(of: "\n", with: " ")
        }
    }

    /// The bytes of a `.safetensors` file holding `tensors` in the given order (header padded
    /// with spaces to a multiple of 8, as the reference writer does).
    public static func encode(_ tensors: [TensorPayload], metadata: [String: String] = [:]) throws -> Data {
        var offset = 0
        var parts: [String] = []
        func quote(_ s: String) -> String {
            let d = try! JSONEncoder().encode(s)
            return String(decoding: d, as: UTF8.self)
        }
        if !metadata.isEmpty {
            parts.append("\"__metadata__\":{" + metadata.keys.sorted().map { "\(quote($0)):\(quote(metadata[$0]!))" }.joined(separator: ",") + "}")
        }
        var seen = Set<String>()
        for t in tensors {
            guard seen.insert(t.name).inserted, t.name != "__metadata__" else { throw TensorFileError("tensor '\(t.name)': duplicate or reserved name") }
            let n = t.shape.reduce(1, *)
            guard n * t.dtype.size == t.bytes.count else {
                throw TensorFileError("tensor '\(t.name)': shape \(t.shape) of \(t.dtype) needs \(n * t.dtype.size) bytes, got \(t.bytes.count)")
            }
            parts.append("\(quote(t.name)):{\"dtype\":\"\(t.dtype.rawValue)\",\"shape\":[\(t.shape.map(String.init).joined(separator: ","))],\"data_offsets\":[\(offset),\(offset + t.bytes.count)]}")
            offset += t.bytes.count
        }
        var header = "{" + parts.joined(separator: ",") + "}"
        header += String(repeating: " ", count: (8 - header.utf8.count % 8) % 8)
        var out = Data()
        withUnsafeBytes(of: UInt64(header.utf8.count).littleEndian) { out.append(contentsOf: $0) }
        out.append(contentsOf: Array(header.utf8))
        for t in tensors { out.append(t.bytes) }
        return out
    }

    /// Writes through `AtomicFile` (temporary file, then rename).
    public static func write(path: String, tensors: [TensorPayload], metadata: [String: String] = [:]) throws {
        let d: Data
        do { d = try encode(tensors, metadata: metadata) } catch let e as TensorFileError { throw TensorFileError("\(path): \(e.message)") }
        try AtomicFile.write(d, to: path)
    }
}

extension NPY {
    /// A `.npy` file as a memory-mapped tensor view named by the file's base name. dtypes:
    /// <f2 <f4 <f8 (either byte order), bfloat16 stored as <u2 or |V2, |i1, |u1.
    public static func view(path: String) throws -> TensorView {
        try view(TensorBytes(mapping: path), path: path)
    }

    public static func view(_ b: TensorBytes, path: String, name: String? = nil) throws -> TensorView {
        let l = try layout(count: b.count, path: path) { r in
            let hi = min(r.upperBound, b.count)
            return r.lowerBound < hi ? [UInt8](b.buffer(r.lowerBound, hi - r.lowerBound)) : []
        }
        let name = name ?? ((path as NSString).lastPathComponent as NSString).deletingPathExtension
        let d = l.descr
        let dtype: TensorDType
        switch d.dropFirst() {
        case "f8": dtype = .float64
        case "f4": dtype = .float32
        case "f2": dtype = .float16
        case "u2", "V2": dtype = .bfloat16
        case "i1": dtype = .int8
        case "u1": dtype = .uint8
        default:
            throw TensorFileError("\(path): tensor '\(name)': unsupported dtype '\(d)'; expected <f2, <f4, <f8, bfloat16 as <u2 or |V2, |i1 or |u1")
        }
        guard d.count == 3, ["<", ">", "|", "="].contains(d.first!) else {
            throw TensorFileError("\(path): tensor '\(name)': unsupported dtype '\(d)'")
        }
        try checkPayload(l, itemSize: dtype.size, total: b.count, path: path)
        return TensorView(name: name, file: path, dtype: dtype, shape: l.shape, bytes: b, offset: l.payloadStart,
                          fortran: l.fortran, bigEndian: d.first == ">")
    }
}

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
