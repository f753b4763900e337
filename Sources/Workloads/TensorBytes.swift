import Foundation
import NumberFormats

#if canImport(Glibc)
    import Glibc
#elseif canImport(Darwin)
    import Darwin
#endif

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
        guard (st.st_mode & S_IFMT) != S_IFDIR else { throw TensorFileError("\(path): is a directory, expected a file") }
        guard (st.st_mode & S_IFMT) == S_IFREG else { throw TensorFileError("\(path): not a regular file, expected a file") }
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
