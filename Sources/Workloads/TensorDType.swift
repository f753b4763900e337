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
