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

    /// The dtypes of the `safetensors` format (0.7.0) with their bits per element: a file may
    /// hold any of them; this toolkit reads those of `TensorDType`.
    static let formatDTypeBits: [String: Int] = [
        "BOOL": 8, "F4": 4, "F6_E2M3": 6, "F6_E3M2": 6, "U8": 8, "I8": 8, "F8_E5M2": 8, "F8_E4M3": 8, "F8_E8M0": 8,
        "I16": 16, "U16": 16, "F16": 16, "BF16": 16, "I32": 32, "U32": 32, "F32": 32, "C64": 64, "F64": 64, "I64": 64, "U64": 64,
    ]

    /// One tensor's header entry.
    struct Entry {
        var name: String
        var dtype: String
        var shape: [Int]
        var begin: Int
        var end: Int
    }

    /// Reads `bytes` under the `safetensors` library's rules (`SafeTensors::read_metadata` and
    /// `Metadata::validate`): header length within the file and at most 100 MB, the header valid
    /// UTF-8 JSON, an object of tensor entries `{dtype, shape, data_offsets}` and an optional
    /// `__metadata__` object of strings; the entries' byte ranges, sorted, tile the data region
    /// exactly (from 0, no gap, no overlap, no trailing bytes), each the size of its shape and
    /// dtype. Stricter than the library (README "Stricter than the references"): a name given
    /// twice (the library keeps the last), a header not starting with `{`, an entry with a key
    /// other than the three, and a dtype this toolkit does not read.
    public static func parse(_ bytes: TensorBytes, path: String) throws -> TensorFile {
        func fail(_ s: String) -> TensorFileError { TensorFileError("\(path): \(s)") }
        guard bytes.count >= 8 else { throw fail("truncated .safetensors file (\(bytes.count) bytes; the header length alone needs 8)") }
        let lengthBytes = bytes.buffer(0, 8)
        var n64: UInt64 = 0
        for k in 0..<8 { n64 |= UInt64(lengthBytes[k]) << (8 * k) }
        guard n64 <= UInt64(maxHeaderBytes) else { throw fail("header length \(n64) exceeds the \(maxHeaderBytes)-byte limit") }
        guard n64 <= UInt64(bytes.count - 8) else {
            throw fail("header length \(n64) goes beyond the file (\(bytes.count) bytes); truncated or not a .safetensors file")
        }
        let n = Int(n64)
        guard n >= 2 else { throw fail("header length \(n) is too short for a JSON object") }
        let raw = bytes.buffer(8, n)
        guard String(validating: raw, as: UTF8.self) != nil else { throw fail("header is not valid UTF-8") }
        guard raw[0] == UInt8(ascii: "{") else { throw fail("header does not start with '{' (not a .safetensors file)") }
        let header: SafeTensorsHeader.Value
        do { header = try SafeTensorsHeader.parse(raw) } catch let e as SafeTensorsHeader.Failure {
            throw fail("header is not valid JSON: \(e.message)")
        }
        let entries = try readEntries(header, fail: fail)
        let dataStart = 8 + n
        try checkCoverage(entries, dataSize: bytes.count - dataStart, fail: fail)
        var views: [String: TensorView] = [:]
        for e in entries {
            guard let dtype = TensorDType(rawValue: e.dtype) else {
                throw fail("tensor '\(e.name)': dtype '\(e.dtype)' is valid safetensors but not read here; expected one of \(TensorDType.allCases.map(\.rawValue).joined(separator: ", "))")
            }
            views[e.name] = TensorView(name: e.name, file: path, dtype: dtype, shape: e.shape, bytes: bytes, offset: dataStart + e.begin)
        }
        return TensorFile(path: path, tensors: views)
    }

    /// The tensor entries of the header object, names unique, `__metadata__` checked.
    static func readEntries(_ header: SafeTensorsHeader.Value, fail: (String) -> TensorFileError) throws -> [Entry] {
        guard case .object(let members) = header else { throw fail("header is \(header.kind), expected a JSON object of tensor entries") }
        var seen = Set<String>()
        var entries: [Entry] = []
        for (name, value) in members {
            guard seen.insert(name).inserted else {
                throw fail("tensor '\(name)': the name is given twice in the header (the safetensors library would keep the last; refused as ambiguous)")
            }
            if name == "__metadata__" {
                try checkMetadata(value, fail: fail)
                continue
            }
            entries.append(try entry(name, value, fail: { fail("tensor '\(name)': \($0)") }))
        }
        return entries
    }

    static func checkMetadata(_ value: SafeTensorsHeader.Value, fail: (String) -> TensorFileError) throws {
        if case .null = value { return }
        guard case .object(let members) = value else { throw fail("__metadata__ is \(value.kind); expected an object of strings") }
        var seen = Set<String>()
        for (key, v) in members {
            guard seen.insert(key).inserted else { throw fail("__metadata__: the key '\(key)' is given twice") }
            guard case .string = v else { throw fail("__metadata__: the value of '\(key)' is \(v.kind); expected a string") }
        }
    }

    static func entry(_ name: String, _ value: SafeTensorsHeader.Value, fail: (String) -> TensorFileError) throws -> Entry {
        guard case .object(let members) = value else { throw fail("the entry is \(value.kind); expected an object {dtype, shape, data_offsets}") }
        var fields: [String: SafeTensorsHeader.Value] = [:]
        for (key, v) in members {
            guard ["dtype", "shape", "data_offsets"].contains(key) else { throw fail("unknown key '\(key)'; expected dtype, shape, data_offsets") }
            guard fields.updateValue(v, forKey: key) == nil else { throw fail("the key '\(key)' is given twice") }
        }
        for key in ["dtype", "shape", "data_offsets"] where fields[key] == nil { throw fail("missing '\(key)'") }
        guard case .string(let dtype) = fields["dtype"]! else { throw fail("dtype is \(fields["dtype"]!.kind); expected a string") }
        guard formatDTypeBits[dtype] != nil else {
            throw fail("unknown dtype '\(dtype)'; expected one of \(formatDTypeBits.keys.sorted().joined(separator: ", "))")
        }
        let shape = try integers(fields["shape"]!, "shape", fail: fail)
        let off = try integers(fields["data_offsets"]!, "data_offsets", fail: fail)
        guard off.count == 2 else { throw fail("data_offsets: expected [begin, end], got \(off.count) numbers") }
        return Entry(name: name, dtype: dtype, shape: shape, begin: off[0], end: off[1])
    }

    /// An array of non-negative integers (as a Rust `usize` reads them: digits only, no sign,
    /// fraction or exponent), each at most `Int.max`.
    static func integers(_ value: SafeTensorsHeader.Value, _ field: String, fail: (String) -> TensorFileError) throws -> [Int] {
        guard case .array(let items) = value else { throw fail("\(field) is \(value.kind); expected an array of non-negative integers") }
        return try items.map { item in
            guard case .number(let t) = item, t.utf8.allSatisfy({ (UInt8(ascii: "0")...UInt8(ascii: "9")).contains($0) }) else {
                throw fail("\(field): \(item.kind) is not a non-negative integer")
            }
            guard let v = Int(t) else { throw fail("\(field): \(t) is too large") }
            return v
        }
    }

    /// The library's `Metadata::validate` and its final size check: sorted by offsets, each
    /// entry begins where the previous ended (the first at 0), holds exactly its shape × dtype
    /// size, and the last ends at the end of the file.
    static func checkCoverage(_ entries: [Entry], dataSize: Int, fail: (String) -> TensorFileError) throws {
        var start = 0
        var previous: Entry?
        for e in entries.sorted(by: { ($0.begin, $0.end, $0.name) < ($1.begin, $1.end, $1.name) }) {
            let at = "tensor '\(e.name)': data_offsets [\(e.begin), \(e.end)]"
            guard e.end >= e.begin else { throw fail("\(at): expected begin ≤ end") }
            if e.begin < start, let p = previous {
                throw fail("\(at) overlap tensor '\(p.name)' [\(p.begin), \(p.end)]")
            }
            guard e.begin == start else {
                let after = previous.map { "tensor '\($0.name)' [\($0.begin), \($0.end)]" } ?? "the start of the data"
                throw fail("\(at) leave a gap of \(e.begin - start) bytes after \(after); expected the tensors to cover the data without gaps")
            }
            var bits = formatDTypeBits[e.dtype]!
            for d in e.shape {
                let (p, o) = bits.multipliedReportingOverflow(by: d)
                guard !o else { throw fail("\(at): shape \(e.shape) has more elements than Int can count") }
                bits = p
            }
            guard bits % 8 == 0, bits / 8 == e.end - e.begin else {
                throw fail("\(at) hold \(e.end - e.begin) bytes but shape \(e.shape) of \(e.dtype) needs \(bits % 8 == 0 ? String(bits / 8) : "\(bits) bits (not whole bytes)")")
            }
            start = e.end
            previous = e
        }
        guard start <= dataSize else {
            throw fail("tensor '\(previous!.name)': data_offsets [\(previous!.begin), \(previous!.end)] go beyond the data region (\(dataSize) bytes); truncated file?")
        }
        guard start == dataSize else {
            throw fail("\(dataSize - start) bytes after the last tensor's data (the data region is \(dataSize) bytes, the tensors cover \(start)); expected no trailing bytes")
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
