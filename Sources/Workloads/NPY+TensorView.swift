import Foundation
import NumberFormats

#if canImport(Glibc)
    import Glibc
#elseif canImport(Darwin)
    import Darwin
#endif

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
            throw TensorFileError("\(path): tensor '\(name)': unsupported dtype '\(l.written)'; expected <f2, <f4, <f8, bfloat16 as <u2 or |V2, |i1 or |u1")
        }
        guard d.count == 3, ["<", ">", "|", "="].contains(d.first!) else {
            throw TensorFileError("\(path): tensor '\(name)': unsupported dtype '\(l.written)'")
        }
        try checkPayload(l, itemSize: dtype.size, total: b.count, path: path)
        return TensorView(name: name, file: path, dtype: dtype, shape: l.shape, bytes: b, offset: l.payloadStart,
                          fortran: l.fortran, bigEndian: d.first == ">")
    }
}
