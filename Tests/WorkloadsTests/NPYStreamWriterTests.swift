import Foundation
import NumberFormats
import Testing
@testable import Workloads

/// `NPYStreamWriter`: the streamed file equals the one-shot encoding; a discarded writer leaves nothing.
@Suite struct NPYStreamWriterTests {
    @Test func streamedWriterMatchesAndLeavesNothingWhenDiscarded() throws {
        let dir = FileManager.default.temporaryDirectory.appendingPathComponent("npystream-\(getpid())").path
        try FileManager.default.createDirectory(atPath: dir, withIntermediateDirectories: true)
        defer { try? FileManager.default.removeItem(atPath: dir) }
        let w = try NPYStreamWriter(path: dir + "/o.npy", shape: [3, 2], dtype: .float64)
        for t in 0..<3 { try w.append([Double(t), 0.1 * Double(t)]) }
        #expect(!FileManager.default.fileExists(atPath: dir + "/o.npy"))
        try w.finish()
        #expect(try NPY.view(path: dir + "/o.npy").values() == [0, 0, 1, 0.1, 2, 0.2])
        let f = try NPYStreamWriter(path: dir + "/p.npy", shape: [2], dtype: .float32)
        try f.append([1.5])
        f.discard()
        #expect(try FileManager.default.contentsOfDirectory(atPath: dir) == ["o.npy"])
    }
}
