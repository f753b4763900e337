import Foundation

/// The rows this thread generated most recently, so runs that step in lockstep over the same
/// inputs (a reference and each recipe's emulated run) generate every row once instead of once
/// per run. A direct-mapped table keyed by (generator, head, position); a hit returns the very
/// values `InputGenerator.fill` computed, so results do not change, only the time.
final class RowMemo {
    struct Key: Hashable {
        let generator: InputGenerator
        let head: Int
        let position: Int
    }

    static let slotCount = 256
    var keys: [Key?] = Array(repeating: nil, count: slotCount)
    var rows: [[Double]] = Array(repeating: [], count: slotCount)

    /// Copies the memoised row of `key` into `out`; false when it is not held.
    func lookup(_ key: Key, hash: Int, into out: UnsafeMutableBufferPointer<Double>) -> Bool {
        let slot = hash & (Self.slotCount - 1)
        guard let k = keys[slot], k == key else { return false }
        rows[slot].withUnsafeBufferPointer { src in
            for i in 0..<src.count { out[i] = src[i] }
        }
        return true
    }

    func store(_ key: Key, hash: Int, _ row: UnsafeBufferPointer<Double>) {
        let slot = hash & (Self.slotCount - 1)
        keys[slot] = key
        if rows[slot].count == row.count {
            rows[slot].withUnsafeMutableBufferPointer { dst in for i in 0..<row.count { dst[i] = row[i] } }
        } else {
            rows[slot] = Array(row)
        }
    }

    /// This thread's memo.
    static var current: RowMemo {
        if let p = pthread_getspecific(threadKey) { return Unmanaged<RowMemo>.fromOpaque(p).takeUnretainedValue() }
        let m = RowMemo()
        pthread_setspecific(threadKey, Unmanaged.passRetained(m).toOpaque())
        return m
    }

    nonisolated(unsafe) static let threadKey: pthread_key_t = {
        var key = pthread_key_t()
        pthread_key_create(&key) { p in
            #if os(Linux)
            if let p { Unmanaged<RowMemo>.fromOpaque(p).release() }
            #else
            Unmanaged<RowMemo>.fromOpaque(p).release()
            #endif
        }
        return key
    }()
}
