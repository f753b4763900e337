import CLITestSupport
import Foundation
#if canImport(FoundationXML)
import FoundationXML
#endif
import Testing
@testable import DriftReports
@testable import DriftStudy

enum Fixture {
    static let config = """
    name: fixture
    tokens: [512]
    inputs: bfloat16
    reference: {tier: float64, certify_tokens: 16, bits: 64, double_precision_tokens: 8}
    sampling: {per_octave: 8}
    variants:
      - {name: linear, key_dim: 16, value_dim: 16}
      - {name: mha, head_dim: 16}
    recipes:
      - float32
      - bfloat16
      - {name: e4m3-token, store: float8_e4m3fn/per-token}
    workloads: [gaussian]
    """

    static func dir() throws -> String {
        let d = FileManager.default.temporaryDirectory.appendingPathComponent("attnprec-report-\(UUID().uuidString)").path
        try FileManager.default.createDirectory(atPath: d, withIntermediateDirectories: true)
        return d
    }

    /// A small study through the CLI: folder with results, run.json and the report.
    static func run() throws -> String {
        let d = try dir()
        try Data(config.utf8).write(to: URL(fileURLWithPath: "\(d)/fixture.yaml"))
        let r = try CLI.run(["run", "\(d)/fixture.yaml", "--out", "\(d)/out", "--jobs", "2"])
        #expect(r.code == 0, "\(r.err)")
        #expect(r.out.contains("report: \(d)/out/report.md"))
        #expect(r.err.isEmpty, "progress goes to stderr only on a terminal: \(r.err)")
        return "\(d)/out"
    }
}

@Suite struct StudyReportTests {
    @Test func smokeStudyEndToEnd() throws {
        let out = try Fixture.run()
        for f in ["results.jsonl", "results.csv", "run.json", "report.md"] {
            #expect(FileManager.default.fileExists(atPath: "\(out)/\(f)"), "\(f)")
        }
        let md = try String(contentsOfFile: "\(out)/report.md", encoding: .utf8)
        // The index links its pages; every page and every SVG a page references exists, and the SVGs parse.
        let pages = md.matches(of: #/\]\(([a-z0-9-]+\.md)\)/#).map { String($0.output.1) }
        #expect(Set(pages).isSuperset(of: ["family-linear.md", "family-softmax.md", "kv-cache-diagnostics.md", "drift-plots.md", "memory-error.md", "certification.md", "reproduction.md"]), "\(pages)")
        var text: [String: String] = [:]
        for p in Set(pages) { text[p] = try String(contentsOfFile: "\(out)/\(p)", encoding: .utf8) }
        let refs = text.values.flatMap { $0.components(separatedBy: "](plots/").dropFirst().map { String($0.prefix { $0 != ")" }) } }
        #expect(refs.count >= 3)
        for r in Set(refs) {
            let data = try #require(FileManager.default.contents(atPath: "\(out)/plots/\(r)"), "\(r)")
            let parser = XMLParser(data: data)
            #expect(parser.parse(), "\(r): \(String(describing: parser.parserError))")
        }
        // Every number in the family tables is traceable to a record: variant, recipe, T, @T, slope, theory, verdict.
        let records = try ResultsStore.readRecords("\(out)/results.jsonl")
        let rows = (text["family-linear.md"]! + text["family-softmax.md"]!).split(separator: "\n").filter { $0.hasPrefix("| linear") || $0.hasPrefix("| mha") }
        #expect(rows.count == 6)
        for row in rows {
            let cells = MarkdownTable.cells(row).map { $0.trimmingCharacters(in: .whitespaces) }
            #expect(cells.count == 7, "\(row)")
            let variant = cells[0].prefix { $0.isLetter || $0 == "_" }
            let r = try #require(records.first { $0.variant == variant && $0.recipeName == cells[1] }, "\(row)")
            #expect(cells[2] == "512")
            #expect(cells[3] == Compact.sci(r.summary.errorAt.last?.outputRelErr))
            #expect(cells[6] == r.summary.verdict)
            if let s = r.summary.slope { #expect(cells[4] == Compact.slope(s)) }
        }
        // The index: the verdict matrix first, computed findings, the method naming the record count.
        #expect(md.contains("### KV caches") && md.contains("### Recurrent states") && md.contains("## Findings"))
        #expect(md.contains("Each of \(records.count) runs"))
        let findings = md.components(separatedBy: "## Findings\n\n")[1].components(separatedBy: "\n\n")[0].split(separator: "\n")
        #expect((1...5).contains(findings.count) && findings.allSatisfy { $0.contains("](") }, "\(findings)")
        // The KV cache diagnostics page shows each cache record's own numbers.
        let e4 = try #require(records.first { $0.variant == "mha" && $0.recipeName == "e4m3-token" })
        let diag = try #require(text["kv-cache-diagnostics.md"]!.split(separator: "\n").first { $0.hasPrefix("| mha") && $0.contains("e4m3-token") })
        let dc = MarkdownTable.cells(diag).map { $0.trimmingCharacters(in: .whitespaces) }
        #expect(dc[3] == Compact.sci(e4.summary.cacheRelErr))
        #expect(dc[4] == Compact.sci(e4.summary.attentionKL))
        #expect(!pages.contains("seed-spread.md"))
        #expect(!text.values.contains { $0.contains("@1M") })
        // A record that reaches 1M tokens adds the 1M column, filled from its error at 1M.
        var long = e4
        long.tokens = 1 << 20
        long.key += "-1m"
        long.summary.errorAt.append(StudyRecord.ErrorAt(tokens: 1 << 20, outputRelErr: 0.5, stateRelErr: nil))
        let legend1m = ParameterLegend([long])
        let md1m = StudyPages.familyMarkdown([long], heading: "x", legend: legend1m, order: [:], report: "r")
        #expect(md1m.contains("| @1M |"))
        #expect(md1m.contains("| 1M |") && md1m.contains("| 5.00e-1 |"))
        // Records reaching 32k: the frontier table at 32k (bytes there, ★ on the Pareto frontier,
        // NaN never on it) and the combinations that stop short, by name.
        #expect(!text["memory-error.md"]!.contains("| bytes @32k |"))
        var cache32 = e4
        cache32.tokens = 32768
        cache32.key += "-32k"
        cache32.summary.errorAt.append(StudyRecord.ErrorAt(tokens: 32768, outputRelErr: 0.03, stateRelErr: nil))
        cache32.summary.memoryBytes = try #require(e4.summary.bytesPerToken) * 32768
        let lin = try #require(records.first { $0.variant == "linear" && $0.recipeName == "bfloat16" })
        var state64 = lin
        state64.tokens = 65536
        state64.key += "-64k"
        state64.summary.errorAt += [StudyRecord.ErrorAt(tokens: 32768, outputRelErr: 0.2, stateRelErr: nil), StudyRecord.ErrorAt(tokens: 65536, outputRelErr: 0.3, stateRelErr: nil)]
        var nan32 = try #require(records.first { $0.variant == "linear" && $0.recipeName == "float32" })
        nan32.tokens = 32768
        nan32.key += "-32k"
        nan32.summary.errorAt.append(StudyRecord.ErrorAt(tokens: 32768, outputRelErr: .nan, stateRelErr: nil))
        let shortMHA = try #require(records.first { $0.variant == "mha" && $0.recipeName == "float32" })
        let four = [cache32, state64, nan32, shortMHA]
        let legend = ParameterLegend(four)
        let section = StudyPlots.memoryPage(four, plots: [], legend: legend)
        let bpt = try #require(e4.summary.bytesPerToken), sb = try #require(lin.summary.stateBytes)
        #expect(section.contains("| \(legend.label(e4)) | e4m3-token | \(Int((bpt * 32768).rounded())) | 3.00e-02 | ★ |"), "\(section)")
        #expect(section.contains("| \(legend.label(lin)) | bfloat16 | \(Int(sb.rounded())) | 2.00e-01 | ★ |"), "\(section)")
        #expect(section.contains("| \(legend.label(lin)) | float32 | \(Int(nan32.summary.stateBytes!.rounded())) | NaN |  |"), "\(section)")
        #expect(section.contains("Not at 32768 tokens (their longest run is shorter): \(StudyReport.instance(shortMHA)) (float32; 512 tokens)."), "\(section)")
        // The memory–error plot at 32k shows the 64k run measured at 32k from its own run.
        let plot = try #require(StudyPlots.memoryError([cache32, state64]).first?.svg)
        #expect(plot.contains(">\(SVGPlot.escape(StudyReport.instance(lin)))<") && plot.contains("Pareto frontier"), "\(plot)")
        let index32 = StudyIndex.page(records: [cache32, state64], runInfo: [], title: nil, notice: nil, pages: [])
        #expect(index32.contains("at 32k tokens on gaussian inputs"), "\(index32)")
        // A recipe run for a minority of instances is listed as scoped, not as missing elsewhere.
        var scopedRecords = records
        for p in ["key_dim=8", "key_dim=4"] { scopedRecords += records.filter { $0.variant == "linear" }.map { var r = $0; r.preset = p; r.key += p; return r } }
        var layout = e4
        layout.recipeName = "fp8-layout"
        layout.key += "layout"
        let cov = StudyPages.coverage(scopedRecords + [layout])
        #expect(cov.contains("Recipes run for some variants only: fp8-layout (mha (d=16))"), "\(cov)")
        #expect(!cov.contains("Not run"), "\(cov)")
        // Two seeds of the same combination: the spread table names the worst one.
        var other = e4
        other.workload.seed = 7
        other.key += "-seed7"
        other.summary.errorAt[other.summary.errorAt.count - 1].outputRelErr = 1
        let spread = StudyPages.seedSpread([e4, other], legend: ParameterLegend([e4, other]))
        #expect(spread.contains("# Seed spread"))
        #expect(spread.split(separator: "\n").last { $0.hasPrefix("|") }!.hasSuffix("| 1.00e0 | 7 |"), "\(spread)")
        #expect(text["certification.md"]!.contains("# Reference certification"))
        #expect(text["reproduction.md"]!.contains("git revision"))
        // The OpenBLAS core in use is part of the provenance (Float32 gemm bits depend on it).
        let info = try #require(RunInfo.load(dir: out).first)
        #expect(info.blas?.isEmpty == false && text["reproduction.md"]!.contains("- OpenBLAS core: \(info.blas!)"), "\(info.blas ?? "nil")")
        let csv = try String(contentsOfFile: "\(out)/results.csv", encoding: .utf8)
        #expect(csv.split(separator: "\n").count == records.count + 1)

        // `attnprec report` regenerates the same report from the results alone.
        let before = try String(contentsOfFile: "\(out)/report.md", encoding: .utf8)
        let again = try CLI.run(["report", out])
        #expect(again.code == 0, "\(again.err)")
        #expect(try String(contentsOfFile: "\(out)/report.md", encoding: .utf8) == before)
    }

    @Test func shardsMergedByTheReportCommand() throws {
        let d = try Fixture.dir()
        try Data(Fixture.config.utf8).write(to: URL(fileURLWithPath: "\(d)/fixture.yaml"))
        for s in ["1/2", "2/2"] {
            let r = try CLI.run(["run", "\(d)/fixture.yaml", "--out", "\(d)/s\(s.prefix(1))", "--shard", s])
            #expect(r.code == 0, "\(r.err)")
        }
        let whole = try CLI.run(["run", "\(d)/fixture.yaml", "--out", "\(d)/whole", "--jobs", "1"])
        #expect(whole.code == 0)
        let merged = try CLI.run(["report", "\(d)/s1", "\(d)/s2", "--out", "\(d)/merged"])
        #expect(merged.code == 0, "\(merged.err)")
        #expect(FileManager.default.contents(atPath: "\(d)/merged/results.jsonl") == FileManager.default.contents(atPath: "\(d)/whole/results.jsonl"))
        // The merged folder keeps every shard's provenance, and a second merge reads it back.
        let infos = RunInfo.load(dir: "\(d)/merged")
        #expect(infos.map(\.shard) == ["1/2", "2/2"])
        let md = try String(contentsOfFile: "\(d)/merged/reproduction.md", encoding: .utf8)
        #expect(md.contains("(shard 1/2)") && md.contains("(shard 2/2)"))
        let again = try CLI.run(["report", "\(d)/merged", "--out", "\(d)/merged2"])
        #expect(again.code == 0, "\(again.err)")
        #expect(RunInfo.load(dir: "\(d)/merged2").count == 2)
    }

    @Test func badConfigThroughTheCLI() throws {
        let d = try Fixture.dir()
        try Data("variants: [linear]\nrecipes: [bfloat16]\nlenghts: [5]\n".utf8).write(to: URL(fileURLWithPath: "\(d)/bad.yaml"))
        let r = try CLI.run(["run", "\(d)/bad.yaml", "--out", "\(d)/out"])
        #expect(r.code == 2)
        #expect(r.err == "attnprec: \(d)/bad.yaml:3: the config: unknown key 'lenghts'; expected one of: name, title, tokens, seeds, inputs, reference, sampling, variants, recipes, workloads, exclude\n")
        #expect(!FileManager.default.fileExists(atPath: "\(d)/out"))
        let missing = try CLI.run(["run", "\(d)/none.yaml", "--out", "\(d)/out"])
        #expect(missing.code == 2)
        #expect(missing.err.contains("none.yaml: no such config file"))
        let shard = try CLI.run(["run", "\(d)/bad.yaml", "--shard", "0/2"])
        #expect(shard.code == 2)
    }

    @Test func paretoFrontier() {
        let f = StudyReport.paretoFrontier([("a", 1, 1), ("b", 2, 0.5), ("c", 2, 2), ("d", 0.5, .nan), ("e", 4, 0.5)])
        #expect(Set(f) == ["a", "b"])
    }
}
