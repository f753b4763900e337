import Foundation
import NumberFormats
import Testing
@testable import DriftReports
@testable import DriftStudy

/// A report, its pages and its plots as one set: plots and pages first, `report.md` last, an
/// earlier report's plots and pages removed only once the new `report.md` is in place, so a
/// page on disk never links a plot or page that is missing.
@Suite struct ReportSetTests {
    static func linkedPlots(_ dir: String) throws -> [String] {
        let md = try String(contentsOfFile: "\(dir)/report.md", encoding: .utf8)
        return md.matches(of: #/plots/[A-Za-z0-9._-]+\.svg/#).map { String($0.output) }
    }

    @Test func aFailedReportKeepsTheEarlierReportsPlots() throws {
        let dir = try Fixture.dir()
        defer { try? FileManager.default.removeItem(atPath: dir) }
        let config = try StudyConfig.parse("""
            name: set
            tokens: [64]
            inputs: bfloat16
            reference: {tier: float64, certify_tokens: 16, bits: 64, double_precision_tokens: 8}
            sampling: {per_octave: 4}
            variants: [{name: linear, key_dim: 8, value_dim: 8}]
            recipes: [bfloat16]
            """, file: "set.yaml", defaultName: "set")
        let info = try Study.run(configs: [config], options: Study.Options(out: dir))
        let records = try ResultsStore.readRecords("\(dir)/results.jsonl")
        try StudyReport.write(records: records, runInfo: [info], to: dir)
        let linked = try Self.linkedPlots(dir)
        #expect(!linked.isEmpty)
        #expect(linked.allSatisfy { FileManager.default.fileExists(atPath: "\(dir)/\($0)") })

        // An earlier report's plot, and a report.md that cannot be replaced (a folder in the way).
        try Data("<svg/>".utf8).write(to: URL(fileURLWithPath: "\(dir)/plots/drift-stale.svg"))
        try Data("# stale\n".utf8).write(to: URL(fileURLWithPath: "\(dir)/family-stale.md"))
        try FileManager.default.removeItem(atPath: "\(dir)/report.md")
        try FileManager.default.createDirectory(atPath: "\(dir)/report.md/x", withIntermediateDirectories: true)
        #expect(throws: InputError.self) { try StudyReport.write(records: records, runInfo: [info], to: dir) }
        #expect(FileManager.default.fileExists(atPath: "\(dir)/plots/drift-stale.svg"))
        #expect(FileManager.default.fileExists(atPath: "\(dir)/family-stale.md"))

        try FileManager.default.removeItem(atPath: "\(dir)/report.md")
        try StudyReport.write(records: records, runInfo: [info], to: dir)
        #expect(!FileManager.default.fileExists(atPath: "\(dir)/plots/drift-stale.svg"))
        // An earlier report's page this one does not write goes too; the index links only pages that exist.
        #expect(!FileManager.default.fileExists(atPath: "\(dir)/family-stale.md"))
        let index = try String(contentsOfFile: "\(dir)/report.md", encoding: .utf8)
        let pages = index.matches(of: #/\]\(([a-z0-9-]+\.md)\)/#).map { String($0.output.1) }
        #expect(!pages.isEmpty && pages.allSatisfy { FileManager.default.fileExists(atPath: "\(dir)/\($0)") }, "\(pages)")
        #expect(try Self.linkedPlots(dir) == linked)
    }
}
