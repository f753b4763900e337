import Foundation
import NumberFormats
import Testing
@testable import Workloads

/// Tensor files: the fixtures NumPy, ml_dtypes and the safetensors package wrote
/// (scripts/make-tensor-fixtures.py), round trips of every dtype, and lying headers.
@Suite struct TensorFileTests {
    static let fixtures = URL(fileURLWithPath: #filePath).deletingLastPathComponent().appendingPathComponent("Fixtures").path

    struct Expectation: Decodable {
        var shape: [Int]
        var bits: [String]
        var values: [Double] { bits.map { Double(bitPattern: UInt64($0, radix: 16)!) } }
    }

    static func expectations() throws -> [String: Expectation] {
        let d = try Data(contentsOf: URL(fileURLWithPath: fixtures + "/expected.json"))
        return try JSONDecoder().decode([String: Expectation].self, from: d)
    }

    func same(_ a: [Double], _ b: [Double]) -> Bool {
        a.count == b.count && zip(a, b).allSatisfy { $0.bitPattern == $1.bitPattern || ($0.isNaN && $1.isNaN) }
    }

    @Test func numpyFixturesReadExactly() throws {
        let exp = try Self.expectations()
        let files: [(String, TensorDType)] = [
            ("f64", .float64), ("f32", .float32), ("f16", .float16), ("i8", .int8), ("u8", .uint8), ("bf16_u2", .bfloat16),
            ("bf16_v2", .bfloat16), ("f32_fortran", .float32), ("f32_big", .float32), ("f64_v2", .float64), ("f64_v3", .float64),
        ]
        for (name, dtype) in files {
            let v = try NPY.view(path: Self.fixtures + "/\(name).npy")
            let e = try #require(exp["npy/" + name])
            #expect(v.name == name)
            #expect(v.dtype == dtype, "\(name)")
            #expect(v.shape == e.shape, "\(name)")
            #expect(same(v.values(), e.values), "\(name)")
            // element(i) agrees with the bulk reader.
            #expect(same((0..<v.count).map { v.element($0) }, e.values), "\(name)")
        }
        // The folder of .npy files opens as one tensor set named by base names.
        let folder = try TensorFile.open(Self.fixtures)
        #expect(folder.names.contains("f32_fortran") && folder.names.count == files.count)
    }

    @Test func safetensorsFixturesReadExactly() throws {
        let exp = try Self.expectations()
        let pkg = try TensorFile.open(Self.fixtures + "/numpy_writer.safetensors")
        #expect(pkg.names == ["f16", "f32", "f64", "i8", "u8"])
        for n in pkg.names {
            let e = try #require(exp["st_package/" + n])
            #expect(pkg[n]!.shape == e.shape)
            #expect(same(pkg[n]!.values(), e.values), "\(n)")
        }
        let all = try TensorFile.open(Self.fixtures + "/all_dtypes.safetensors")
        #expect(Set(all.tensors.values.map(\.dtype)) == Set(TensorDType.allCases))
        for n in all.names {
            let e = try #require(exp["st_all/" + n])
            #expect(all[n]!.shape == e.shape)
            #expect(same(all[n]!.values(), e.values), "\(n)")
        }
    }

    /// Every code of every dtype (all 2^8 / 2^16 codes; a sample of the wide ones) written and
    /// read back bit for bit, through .safetensors and (where NumPy has the dtype) .npy.
    @Test func everyDtypeRoundTripsBitForBit() throws {
        var payloads: [TensorPayload] = []
        var codes: [TensorDType: [UInt64]] = [:]
        for dtype in TensorDType.allCases {
            let n = dtype.size <= 2 ? 1 << (8 * dtype.size) : 4096
            var c: [UInt64] = []
            for i in 0..<n {
                switch dtype.size {
                case 8: c.append(CounterRandom.splitmix(UInt64(i)))
                case 4: c.append(CounterRandom.splitmix(UInt64(i)) & 0xFFFF_FFFF)
                default: c.append(UInt64(i))
                }
            }
            codes[dtype] = c
            var d = Data()
            for x in c { withUnsafeBytes(of: x.littleEndian) { d.append(contentsOf: $0.prefix(dtype.size)) } }
            payloads.append(TensorPayload(name: dtype.rawValue, dtype: dtype, shape: [n / 16, 16], bytes: d))
        }
        let dir = FileManager.default.temporaryDirectory.appendingPathComponent("tensorfile-\(getpid())").path
        try FileManager.default.createDirectory(atPath: dir, withIntermediateDirectories: true)
        defer { try? FileManager.default.removeItem(atPath: dir) }
        try SafeTensors.write(path: dir + "/all.safetensors", tensors: payloads, metadata: ["k": "v \"quoted\""])
        let back = try TensorFile.open(dir + "/all.safetensors")
        for p in payloads {
            let v = try #require(back[p.name])
            #expect(v.dtype == p.dtype && v.shape == p.shape)
            #expect((0..<v.count).map { v.code($0) } == codes[p.dtype]!, "\(p.name)")
            for i in stride(from: 0, to: v.count, by: 7) {
                let x = v.element(i), y = p.dtype.value(code: codes[p.dtype]![i])
                #expect(x.bitPattern == y.bitPattern || (x.isNaN && y.isNaN))
            }
            if let descr = p.dtype.npyDescr {
                let path = dir + "/\(p.name).npy"
                try NPY.writeAtomically(NPY.encode(shape: p.shape, descr: descr, payload: p.bytes), to: path)
                let w = try NPY.view(path: path)
                #expect(w.dtype == p.dtype)
                #expect((0..<w.count).map { w.code($0) } == codes[p.dtype]!, "npy \(p.name)")
            }
        }
        // Values through the float encoders: exact where representable.
        let xs: [Double] = [0, -0.0, 1, -2.5, 0.375, 224, -448]
        for dtype in [TensorDType.float64, .float32, .float16, .bfloat16, .float8E4M3, .float8E5M2] {
            let p = TensorPayload(name: "x", dtype: dtype, shape: [xs.count], values: xs)
            let v = try SafeTensors.parse(TensorBytes(SafeTensors.encode([p])), path: "mem").tensors["x"]!
            #expect(v.values().map(\.bitPattern) == xs.map(\.bitPattern), "\(dtype)")
        }
    }

    /// A 3-D Fortran-order array reads back in C order (element (i, j, k) = 100i + 10j + k).
    @Test func fortranOrderIn3D() throws {
        var payload: [Double] = []
        for k in 0..<4 { for j in 0..<3 { for i in 0..<2 { payload.append(Double(100 * i + 10 * j + k)) } } }
        var d = NPY.encode(shape: [2, 3, 4], descr: "<f8", payload: NPY.data(of: payload))
        let r = d.range(of: Data("'fortran_order': False".utf8))!
        d.replaceSubrange(r, with: Data("'fortran_order': True ".utf8))
        let v = try NPY.view(TensorBytes(d), path: "f.npy")
        var expected: [Double] = []
        for i in 0..<2 { for j in 0..<3 { for k in 0..<4 { expected.append(Double(100 * i + 10 * j + k)) } } }
        #expect(v.values() == expected)
        #expect((0..<24).map { v.element($0) } == expected)
    }

    // MARK: bad input

    @Test func lyingNpyFilesGiveOneLineErrorsNamingFileAndTensor() throws {
        let good = try Data(contentsOf: URL(fileURLWithPath: Self.fixtures + "/f32.npy"))
        func npyFailure(_ d: Data) -> String {
            do { _ = try NPY.view(TensorBytes(d), path: "dir/x.npy"); return "" } catch { return "\(error)" }
        }
        #expect(npyFailure(good) == "")
        #expect(npyFailure(Data(good.prefix(good.count - 1))).contains("dir/x.npy: data holds 71 bytes but shape [3, 6] of <f4 needs 72"))
        #expect(npyFailure(Data(good.prefix(40))).contains("truncated .npy header"))
        var c8 = good
        let r = c8.range(of: Data("<f4".utf8))!
        c8.replaceSubrange(r, with: Data("<c8".utf8))
        #expect(npyFailure(c8) == "dir/x.npy: tensor 'x': unsupported dtype '<c8'; expected <f2, <f4, <f8, bfloat16 as <u2 or |V2, |i1 or |u1")
        var v3 = good
        v3[6] = 9
        #expect(npyFailure(v3).contains("unsupported .npy version 9.0"))
    }

    /// Mutated headers (deterministic seeds): the readers answer with an error or a view whose
    /// every element can be read, never a crash or a hang.
    @Test func mutatedHeadersNeverCrash() throws {
        let st = try Data(contentsOf: URL(fileURLWithPath: Self.fixtures + "/all_dtypes.safetensors"))
        let npy = try Data(contentsOf: URL(fileURLWithPath: Self.fixtures + "/f32_fortran.npy"))
        let alphabet = Array("{}[]\",:0123456789-eE.FUIBtruenl _".utf8)
        var accepted = 0, rejected = 0
        for seed in 0..<3000 {
            let s = CounterStream(seed: UInt64(seed), stream: "fuzz", head: 0, position: 0)
            let base = seed % 3 == 2 ? npy : st
            var d = [UInt8](base)
            let headerEnd = seed % 3 == 2 ? 128 : min(d.count, 8 + Int(d[0]) | Int(d[1]) << 8)
            let edits = 1 + Int(s.bits(0) % 4)
            for e in 0..<edits {
                let r = s.bits(1 + e)
                let at = Int(r % UInt64(headerEnd))
                switch (r >> 32) % 4 {
                case 0: d[at] = UInt8(truncatingIfNeeded: r >> 40)
                case 1: d[at] = alphabet[Int((r >> 40) % UInt64(alphabet.count))]
                case 2: d.remove(at: at)
                default: d.insert(alphabet[Int((r >> 40) % UInt64(alphabet.count))], at: at)
                }
            }
            if s.bits(9) % 5 == 0 { d.removeLast(Int(s.bits(10) % UInt64(min(d.count, 64)))) }
            let bytes = TensorBytes(Data(d))
            do {
                let views: [TensorView]
                if base == npy { views = [try NPY.view(bytes, path: "fuzz.npy")] } else {
                    views = Array(try SafeTensors.parse(bytes, path: "fuzz.safetensors").tensors.values)
                }
                for v in views { _ = v.values() }
                accepted += 1
            } catch let e as TensorFileError {
                #expect(!e.message.contains("\n") && e.message.hasPrefix("fuzz."))
                rejected += 1
            }
        }
        #expect(accepted + rejected == 3000 && rejected > 1000)
    }
}
