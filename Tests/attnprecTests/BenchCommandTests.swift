import CLITestSupport
import Foundation
import Testing

@Suite struct BenchCommandTests {
    @Test func benchInputsWritesItsMeasurements() throws {
        let dir = try CLI.tempDir()
        let r = try CLI.run(["bench", "inputs", "--seconds", "0.05", "--json", "\(dir)/b.json"])
        #expect(r.code == 0, "\(r.err)")
        #expect(r.out.contains("box_muller_simd_rows_of_128") && r.out.contains("libm_box_muller_one_output"))
        let data = try #require(FileManager.default.contents(atPath: "\(dir)/b.json"))
        let records = try #require(try JSONSerialization.jsonObject(with: data) as? [[String: Any]])
        #expect(records.count == 3)
        #expect(records.allSatisfy { ($0["value"] as? Double ?? 0) > 0 && $0["unit"] as? String == "ns/normal" })
    }

    @Test(arguments: [
        (["bench", "long", "--tokens", "5"], "--tokens: expected 1024...16777216, got 5"),
        (["bench", "long", "--tokens", "2048", "--baseline-tokens", "4096"], "--baseline-tokens: expected 1024...2048, got 4096"),
        (["bench", "long", "--threads", "0"], "--threads: expected 1...64, got 0"),
        (["bench", "inputs", "--seconds", "0"], "--seconds: expected (0, 60], got 0.0"),
    ])
    func badOptionsExitTwoWithOneLine(_ args: [String], _ message: String) throws {
        let r = try CLI.run(args)
        #expect(r.code == 2)
        #expect(r.err == "attnprec: \(message)\n", "\(r.err)")
        #expect(r.out.isEmpty)
    }
}
