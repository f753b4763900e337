import Foundation
import Testing
import Workloads
@testable import DriftStudy

/// `--layout`: a head-first dump ([1, H, T, D]) replays to the same numbers as the token-first
/// one, and read as token-first it is refused with a line naming --layout bhtd.
@Suite(.serialized) struct ReplayLayoutTests {
    /// Writes q, k, v of linear attention (H heads, T positions, D wide) token-first into
    /// `tokenFirst` and head-first into `headFirst`.
    static func dumps(T: Int, H: Int, D: Int) throws -> (tokenFirst: String, headFirst: String) {
        let a = try StudyFixture.tempDir(), b = try StudyFixture.tempDir()
        for stream in ["q", "k", "v"] {
            let g = InputGenerator(seed: 3, stream: stream, dimension: D)
            var thd: [Float] = [], bhtd: [Float] = []
            for t in 0..<T { for h in 0..<H { thd += g.row(head: h, position: t).map { Float($0) } } }
            for h in 0..<H { for t in 0..<T { bhtd += g.row(head: h, position: t).map { Float($0) } } }
            try NPY.write(path: "\(a)/\(stream).npy", shape: [T, H, D], float32: thd)
            try NPY.write(path: "\(b)/\(stream).npy", shape: [1, H, T, D], float32: bhtd)
        }
        return (a, b)
    }

    @Test func headFirstDumpReplaysLikeTokenFirst() throws {
        let (a, b) = try Self.dumps(T: 40, H: 2, D: 8)
        var o = Replay.Options(variant: "linear", inputs: a, recipes: ["state=bfloat16"], out: try StudyFixture.tempDir() + "/a")
        o.certifyTokens = 4
        let thd = try Replay.run(o)
        o.inputs = b
        o.out = try StudyFixture.tempDir() + "/b"
        o.layout = .bhtd
        let bhtd = try Replay.run(o)
        #expect(thd.series[0].outputRelErr == bhtd.series[0].outputRelErr)
        #expect(thd.tokens == 40 && bhtd.tokens == 40)
    }

    @Test func headFirstDumpReadTokenFirstIsRefused() throws {
        let (_, b) = try Self.dumps(T: 300, H: 2, D: 4)
        let out = try StudyFixture.tempDir() + "/x"
        let o = Replay.Options(variant: "linear", inputs: b, recipes: ["state=bfloat16"], out: out)
        #expect {
            try Replay.run(o)
        } throws: { error in
            let text = "\(error)"
            return text.contains("H = 300 heads over T = 2 positions") && text.contains("--layout bhtd") && !text.contains("\n")
        }
        #expect(!FileManager.default.fileExists(atPath: out))
    }
}
