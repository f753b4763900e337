import Foundation
import NumberFormats

#if canImport(Glibc)
    import Glibc
#elseif canImport(Darwin)
    import Darwin
#endif

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
        #if _endian(little)
            if dtype == .float64 {
                self.init(name: name, dtype: dtype, shape: shape, bytes: values.withUnsafeBytes { Data($0) })
                return
            }
        #endif
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

    /// Tensors held in memory under the name `path` (a hybrid stack hands a layer's kernel inputs
    /// to the variant's replay plan this way).
    public init(memory path: String, _ payloads: [TensorPayload]) {
        var tensors: [String: TensorView] = [:]
        for p in payloads {
            tensors[p.name] = TensorView(name: p.name, file: path, dtype: p.dtype, shape: p.shape, bytes: TensorBytes(p.bytes), offset: 0)
        }
        self.init(path: path, tensors: tensors)
    }

    init(path: String, tensors: [String: TensorView]) {
        self.path = path
        self.tensors = tensors
    }

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
