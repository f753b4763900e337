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
             "tensor 'a': shape [3] of F32 needs 12 bytes but data_offsets [0, 8] hold 8"),
            (Self.safetensors(#"{"a":{"dtype":"F32","shape":[2],"data_offsets":[8,0]}}"#, data: 8), "expected 0 ≤ begin ≤ end"),
            (Self.safetensors(#"{"a":{"dtype":"F32","shape":[2],"data_offsets":[-4,4]}}"#, data: 8), "expected 0 ≤ begin ≤ end"),
            (Self.safetensors(#"{"a":{"dtype":"C64","shape":[2],"data_offsets":[0,8]}}"#, data: 8), "tensor 'a': unsupported dtype 'C64'"),
            (Self.safetensors(#"{"a":{"dtype":"F32","shape":[2]}}"#, data: 8), "tensor 'a': missing 'data_offsets'"),
            (Self.safetensors(#"{"a":{"dtype":"F32","shape":[2],"data_offsets":[0,8],"x":1}}"#, data: 8), "tensor 'a': unknown key 'x'"),
            (Self.safetensors(#"{"a":{"dtype":"F32","shape":[-2],"data_offsets":[0,8]}}"#, data: 8), "expected non-negative dimensions"),
            // A header that claims a 1 TB tensor in a 64-byte file: rejected without allocating.
            (Self.safetensors(#"{"huge":{"dtype":"F32","shape":[262144,1048576],"data_offsets":[0,1099511627776]}}"#, data: 64),
             "tensor 'huge': data_offsets [0, 1099511627776] go beyond the data region (64 bytes)"),
            (Self.safetensors(#"{"huge":{"dtype":"F32","shape":[262144,1048576],"data_offsets":[0,64]}}"#, data: 64),
             "tensor 'huge': shape [262144, 1048576] of F32 needs 1099511627776 bytes but data_offsets [0, 64] hold 64"),
            (Self.safetensors(#"{"a":{"dtype":"F32","shape":[4294967296,4294967296],"data_offsets":[0,8]}}"#, data: 8),
             "more elements than Int can count"),
            (Self.safetensors(#"{"a":{"dtype":"F32","shape":[2],"data_offsets":[0,8]"#, data: 8), "header is not a JSON object"),
            (Self.safetensors(#"[1,2]   "#, data: 0), "header does not start with '{'"),
            (Self.safetensors(#"{"__metadata__":{"a":1}}"#, data: 0), "__metadata__: expected an object of strings"),
        ]
        for (d, message) in cases {
            let f = failure(d)
            #expect(f.hasPrefix("bad.safetensors: "), "\(f)")
            #expect(f.contains(message), "expected '\(message)', got '\(f)'")
            #expect(!f.contains("\n"))
        }
    }
}
