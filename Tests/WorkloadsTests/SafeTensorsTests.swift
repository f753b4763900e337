import Foundation
import NumberFormats
import Testing
@testable import Workloads

/// `SafeTensors.parse`: headers that lie about offsets, shapes, dtypes or JSON give one-line errors.
@Suite struct SafeTensorsTests {
    static func safetensors(_ header: String, data: Int, padTo8: Bool = true) -> Data {
        var h = header
        if padTo8 { h += String(repeating: " ", count: (8 - h.utf8.count % 8) % 8) }
        var out = Data()
        withUnsafeBytes(of: UInt64(h.utf8.count).littleEndian) { out.append(contentsOf: $0) }
        out.append(contentsOf: Array(h.utf8))
        out.append(Data(count: data))
        return out
    }

    func failure(_ d: Data, _ path: String = "bad.safetensors") -> String {
        do { _ = try SafeTensors.parse(TensorBytes(d), path: path); return "" } catch { return "\(error)" }
    }

    @Test func lyingSafetensorsHeadersGiveOneLineErrors() {
        let ok = Self.safetensors(#"{"a":{"dtype":"F32","shape":[2],"data_offsets":[0,8]}}"#, data: 8)
        #expect(failure(ok) == "")
        let cases: [(Data, String)] = [
            (Data(ok.prefix(5)), "truncated .safetensors file"),
            (Data(ok.prefix(ok.count - 3)), "tensor 'a': data_offsets [0, 8] go beyond the data region (5 bytes)"),
            ({ var d = ok; d[0] = 0xFF; d[1] = 0xFF; return d }(), "header length 65535 goes beyond the file"),
            (Self.safetensors(#"{"a":{"dtype":"F32","shape":[2],"data_offsets":[0,8]},"b":{"dtype":"F32","shape":[2],"data_offsets":[4,12]}}"#, data: 12),
             "tensor 'b': data_offsets [4, 12] overlap tensor 'a' [0, 8]"),
            (Self.safetensors(#"{"a":{"dtype":"F32","shape":[3],"data_offsets":[0,8]}}"#, data: 8),
             "tensor 'a': data_offsets [0, 8] hold 8 bytes but shape [3] of F32 needs 12"),
            (Self.safetensors(#"{"a":{"dtype":"F32","shape":[2],"data_offsets":[8,0]}}"#, data: 8), "data_offsets [8, 0]: expected begin ≤ end"),
            (Self.safetensors(#"{"a":{"dtype":"F32","shape":[2],"data_offsets":[-4,4]}}"#, data: 8), "data_offsets: the number -4 is not a non-negative integer"),
            (Self.safetensors(#"{"a":{"dtype":"C64","shape":[1],"data_offsets":[0,8]}}"#, data: 8), "tensor 'a': dtype 'C64' is valid safetensors but not read here"),
            (Self.safetensors(#"{"a":{"dtype":"F32","shape":[2]}}"#, data: 8), "tensor 'a': missing 'data_offsets'"),
            (Self.safetensors(#"{"a":{"dtype":"F32","shape":[2],"data_offsets":[0,8],"x":1}}"#, data: 8), "tensor 'a': unknown key 'x'"),
            (Self.safetensors(#"{"a":{"dtype":"F32","shape":[-2],"data_offsets":[0,8]}}"#, data: 8), "shape: the number -2 is not a non-negative integer"),
            // A header that claims a 1 TB tensor in a 64-byte file: rejected without allocating.
            (Self.safetensors(#"{"huge":{"dtype":"F32","shape":[262144,1048576],"data_offsets":[0,1099511627776]}}"#, data: 64),
             "tensor 'huge': data_offsets [0, 1099511627776] go beyond the data region (64 bytes)"),
            (Self.safetensors(#"{"huge":{"dtype":"F32","shape":[262144,1048576],"data_offsets":[0,64]}}"#, data: 64),
             "tensor 'huge': data_offsets [0, 64] hold 64 bytes but shape [262144, 1048576] of F32 needs 1099511627776"),
            (Self.safetensors(#"{"a":{"dtype":"F32","shape":[4294967296,4294967296],"data_offsets":[0,8]}}"#, data: 8),
             "more elements than Int can count"),
            (Self.safetensors(#"{"a":{"dtype":"F32","shape":[2],"data_offsets":[0,8]"#, data: 8), "header is not valid JSON: the object is not closed"),
            (Self.safetensors(#"[1,2]   "#, data: 0), "header does not start with '{'"),
            (Self.safetensors(#"{"__metadata__":{"a":1}}"#, data: 0), "__metadata__: the value of 'a' is the number 1; expected a string"),
        ]
        for (d, message) in cases {
            let f = failure(d)
            #expect(f.hasPrefix("bad.safetensors: "), "\(f)")
            #expect(f.contains(message), "expected '\(message)', got '\(f)'")
            #expect(!f.contains("\n"))
        }
    }

    /// The `safetensors` library's rules (unique names, data tiled exactly, offsets sorted
    /// before checking) and the stricter ones the README lists.
    @Test func strictAsTheSafetensorsLibrary() {
        let u8 = { (name: String, b: Int, e: Int) in "\"\(name)\":{\"dtype\":\"U8\",\"shape\":[\(e - b)],\"data_offsets\":[\(b),\(e)]}" }
        // Accepted, as the library accepts them: entries in any order, zero-size tensors, no tensors, null metadata.
        for ok in ["{\(u8("b", 2, 4)),\(u8("a", 0, 2))}", "{\(u8("z", 0, 0)),\(u8("a", 0, 4))}", "{\"__metadata__\":null,\(u8("a", 0, 4))}"] {
            #expect(failure(Self.safetensors(ok, data: 4)) == "", "\(ok)")
        }
        #expect(failure(Self.safetensors("{}", data: 0)) == "")
        let cases: [(Data, String)] = [
            (Self.safetensors("{\(u8("q", 0, 2)),\(u8("v", 2, 4)),\(u8("q", 2, 4))}", data: 4), "tensor 'q': the name is given twice"),
            (Self.safetensors("{\(u8("q", 0, 4)),\"\\u0071\":{}}", data: 4), "tensor 'q': the name is given twice"),
            (Self.safetensors("{\(u8("a", 0, 2)),\(u8("b", 3, 5))}", data: 5), "tensor 'b': data_offsets [3, 5] leave a gap of 1 bytes after tensor 'a' [0, 2]"),
            (Self.safetensors("{\(u8("a", 1, 3))}", data: 3), "leave a gap of 1 bytes after the start of the data"),
            (Self.safetensors("{\(u8("a", 0, 2))}", data: 4), "2 bytes after the last tensor's data"),
            (Self.safetensors("{\(u8("a", 0, 4)),\(u8("b", 2, 4))}", data: 4), "overlap tensor 'a' [0, 4]"),
            (Self.safetensors(" {\(u8("a", 0, 4))}", data: 4), "header does not start with '{'"),
            (Self.safetensors("{\"a\":[\"U8\",[4],[0,4]]}", data: 4), "tensor 'a': the entry is an array; expected an object {dtype"),
            (Self.safetensors("{\"a\":{\"dtype\":\"X9\",\"shape\":[1],\"data_offsets\":[0,1]}}", data: 1), "unknown dtype 'X9'"),
            (Self.safetensors("{\"a\":{\"dtype\":\"U8\",\"shape\":[1.0],\"data_offsets\":[0,1]}}", data: 1), "shape: the number 1.0 is not a non-negative integer"),
            (Self.safetensors("{\"a\":{\"dtype\":\"U8\",\"shape\":[01],\"data_offsets\":[0,1]}}", data: 1), "leading zero"),
            (Self.safetensors("{\"a\\ud800\":{}}", data: 0), "lone leading surrogate"),
            (Self.safetensors("{\(u8("a", 0, 4)),}", data: 4), "expected a quoted key, found '}'"),
            (Self.safetensors("{\(u8("a", 0, 4))}x", data: 4), "unexpected 'x'"),
            (Self.safetensors("{\"a\":\"\u{1}\"}", data: 0), "control character"),
            (Self.safetensors("{\"F4\":{\"dtype\":\"F4\",\"shape\":[3],\"data_offsets\":[0,1]}}", data: 1), "needs 12 bits (not whole bytes)"),
            (Self.safetensors("{\"a\":" + String(repeating: "[", count: 100) + "}", data: 0), "nested deeper than 64 levels"),
            ({ var d = Self.safetensors("{\"\u{e9}\":{}}", data: 0); d[10] = 0xFF; return d }(), "header is not valid UTF-8"),
            ({ var d = Data(count: 16); d[5] = 1; return d }(), "exceeds the 100000000-byte limit"),
        ]
        for (d, message) in cases {
            let f = failure(d)
            #expect(f.contains(message), "expected '\(message)', got '\(f)'")
            #expect(!f.contains("\n"))
        }
    }
}
