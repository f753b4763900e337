import Foundation
import Testing
@testable import Workloads

@Suite struct NPYTests {
    func header(_ dict: String, version: UInt8 = 1) -> Data {
        var d = dict
        let fixed = version == 1 ? 10 : 12
        d += String(repeating: " ", count: (64 - (fixed + d.utf8.count + 1) % 64) % 64) + "\n"
        var out = Data([0x93, 0x4E, 0x55, 0x4D, 0x50, 0x59, version, 0])
        let n = d.utf8.count
        if version == 1 { out.append(contentsOf: [UInt8(n & 0xFF), UInt8(n >> 8)]) } else {
            out.append(contentsOf: [UInt8(n & 0xFF), UInt8((n >> 8) & 0xFF), 0, 0])
        }
        out.append(d.data(using: .ascii)!)
        return out
    }

    @Test func roundTripFloat32() throws {
        let values: [Float] = [1, -2.5, .infinity, Float(bitPattern: 0x0000_53A1)]  // a subnormal (≈ 3e-41)
        let data = NPY.encode(shape: [2, 2], descr: "<f4", payload: NPY.data(of: values))
        #expect(data.count % 64 == 16 || (data.count - 16) % 64 == 0)
        let a = try NPY.parse(data, path: "x.npy")
        #expect(a.shape == [2, 2])
        guard case .float32(let v) = a.data else { Issue.record("dtype"); return }
        #expect(v.map(\.bitPattern) == values.map(\.bitPattern))
    }

    @Test func version2FortranOrderAndFloat16() throws {
        // A 2×3 array [[1,2,3],[4,5,6]] stored column-major as float64, version 2.0.
        var d = header("{'descr': '<f8', 'fortran_order': True, 'shape': (2, 3), }", version: 2)
        for v in [1.0, 4, 2, 5, 3, 6] { withUnsafeBytes(of: v.bitPattern.littleEndian) { d.append(contentsOf: $0) } }
        let a = try NPY.parse(d, path: "f.npy")
        guard case .float64(let v) = a.data else { Issue.record("dtype"); return }
        #expect(v == [1, 2, 3, 4, 5, 6])
        var h = header("{'descr': '<f2', 'fortran_order': False, 'shape': (2,), }")
        h.append(contentsOf: [0x00, 0x3C, 0x00, 0xC0])  // 1.0, −2.0
        guard case .float16(let f) = try NPY.parse(h, path: "h.npy").data else { Issue.record("dtype"); return }
        #expect(f == [1, -2])
        var b = header("{'descr': '>f4', 'fortran_order': False, 'shape': (1,), }")
        b.append(contentsOf: [0x3F, 0x80, 0x00, 0x00])
        guard case .float32(let g) = try NPY.parse(b, path: "b.npy").data else { Issue.record("dtype"); return }
        #expect(g == [1])
    }

    func failure(_ data: Data) -> String {
        do { _ = try NPY.parse(data, path: "bad.npy"); return "" } catch { return "\(error)" }
    }

    @Test func badFilesGiveOneLineErrorsNamingTheFile() {
        #expect(failure(Data("hello world, not numpy".utf8)).contains("bad.npy: not a .npy file"))
        var short = header("{'descr': '<f4', 'fortran_order': False, 'shape': (4,), }")
        short.append(contentsOf: [0, 0, 0x80, 0x3F])
        #expect(failure(short).contains("data holds 4 bytes but shape [4] of <f4 needs 16"))
        var long = header("{'descr': '<f4', 'fortran_order': False, 'shape': (1,), }")
        long.append(contentsOf: [UInt8](repeating: 0, count: 8))
        #expect(failure(long).contains("needs 4"))
        var cplx = header("{'descr': '<c8', 'fortran_order': False, 'shape': (1,), }")
        cplx.append(contentsOf: [UInt8](repeating: 0, count: 8))
        #expect(failure(cplx).contains("unsupported dtype '<c8'"))
        let truncated = header("{'descr': '<f4', 'fortran_order': False, 'shape': (1,), }").prefix(30)
        #expect(failure(Data(truncated)).contains("truncated"))
        #expect(failure(header("{'descr': '<f4', 'fortran_order': False, 'shape': (-1,), }")).contains("shape"))
        #expect(failure(header("{'descr': '<f4', 'fortran_order': False, 'shape': (4294967296, 4294967296), }"))
            .contains("more elements than Int can count"))
        #expect(failure(header("{'descr': '', 'fortran_order': False, 'shape': (1,), }")).contains("unsupported dtype ''"))
        for message in [failure(short), failure(cplx)] { #expect(!message.contains("\n")) }
    }
}
