import Foundation
import NumberFormats

#if canImport(Glibc)
    import Glibc
#elseif canImport(Darwin)
    import Darwin
#endif

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
