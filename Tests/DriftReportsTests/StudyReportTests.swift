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
        // Every SVG the report references exists and parses as XML.
        let refs = md.components(separatedBy: "](plots/").dropFirst().map { String($0.prefix { $0 != ")" }) }
        #expect(refs.count >= 3)
        for r in refs {
            let data = try #require(FileManager.default.contents(atPath: "\(out)/plots/\(r)"), "\(r)")
            let parser = XMLParser(data: data)
            #expect(parser.parse(), "\(r): \(String(describing: parser.parserError))")
        }
        // Every number in the sensitivity table is traceable to a record.
        let records = try ResultsStore.readRecords("\(out)/results.jsonl")
        let sensitivity = md.components(separatedBy: "## Sensitivity")[1].components(separatedBy: "\n## ")[0]
        let rows = sensitivity.split(separator: "\n").filter { $0.hasPrefix("| linear") || $0.hasPrefix("| mha") }
        #expect(rows.count >= 6)
        for row in rows where row.split(separator: "|").count == 9 {
            let cells = row.split(separator: "|").map { $0.trimmingCharacters(in: .whitespaces) }
            let recipe = cells[1].replacingOccurrences(of: " ★", with: "")
            let variant = cells[0].split(separator: " ")[0]
            let r = try #require(records.first { $0.variant == variant && $0.recipeName == recipe }, "\(row)")
            let e1k: Double? = r.summary.error(at: 1024)
            let shown: String = StudyReport.sci(e1k)
            #expect(cells[3] == shown)
            #expect(cells[5] == "–")  // 64k > 512 tokens
            #expect(cells[8] == r.summary.verdict)
            if let s = r.summary.slope {
                let text = String(format: "%.2f", s.slope)
                #expect(cells[6].hasPrefix(text))
            }
        }
        // The answer paragraph comes first and is computed (it names the record count).
        let firstParagraph = md.split(separator: "\n\n")[1]
        #expect(firstParagraph.contains("Over \(records.count) measured combinations"))
        // The KV cache diagnostics table shows each cache record's own numbers.
        #expect(md.contains("## KV cache diagnostics"))
        let e4 = try #require(records.first { $0.variant == "mha" && $0.recipeName == "e4m3-token" })
        let diag = try #require(md.split(separator: "\n").first { $0.hasPrefix("| mha") && $0.split(separator: "|").count == 10 && $0.contains("e4m3-token") })
        let dc = diag.split(separator: "|").map { $0.trimmingCharacters(in: .whitespaces) }
        #expect(dc[4] == StudyReport.sci(e4.summary.cacheRelErr))
        #expect(dc[5] == StudyReport.sci(e4.summary.attentionKL))
        #expect(!md.contains("## Seed spread"))
        #expect(!md.contains("err @1M"))
        // A record that reaches 1M tokens adds the 1M column, filled from its error at 1M.
        var long = e4
        long.tokens = 1 << 20
        long.key += "-1m"
        long.summary.errorAt.append(StudyRecord.ErrorAt(tokens: 1 << 20, outputRelErr: 0.5, stateRelErr: nil))
        let md1m = StudyReport.markdown(records: [long], runInfo: [], plots: [], pareto: [:], title: nil, dir: "x")
        #expect(md1m.contains("| err @1M |"))
        #expect(md1m.contains("| 1048576 |") && md1m.contains("| 5.00e-01 |"))
        // Records reaching 32k: the frontier table at 32k (bytes there, ★ on the Pareto frontier,
        // NaN never on it) and the combinations that stop short, by name.
        #expect(!md.contains("### Memory versus error at 32768 tokens"))
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
        let section = StudyReport.frontierSection([cache32, state64, nan32, shortMHA])
        let bpt = try #require(e4.summary.bytesPerToken), sb = try #require(lin.summary.stateBytes)
        #expect(section.contains("| \(StudyReport.instance(e4)) | e4m3-token | \(Int((bpt * 32768).rounded())) | 3.00e-02 | ★ |"), "\(section)")
        #expect(section.contains("| \(StudyReport.instance(lin)) | bfloat16 | \(Int(sb.rounded())) | 2.00e-01 | ★ |"), "\(section)")
        #expect(section.contains("| \(StudyReport.instance(lin)) | float32 | \(Int(nan32.summary.stateBytes!.rounded())) | NaN |  |"), "\(section)")
        #expect(section.contains("Not at 32768 tokens (their longest run is shorter): \(StudyReport.instance(shortMHA)) (float32; 512 tokens)."), "\(section)")
        let md32 = StudyReport.markdown(records: [cache32, state64], runInfo: [], plots: [], pareto: [:], title: nil, dir: "x")
        #expect(md32.contains("| err @32k |") && md32.contains("### Memory versus error at 32768 tokens"))
        // A recipe run for a minority of instances is listed as scoped, not as missing elsewhere.
        var scopedRecords = records
        for p in ["key_dim=8", "key_dim=4"] { scopedRecords += records.filter { $0.variant == "linear" }.map { var r = $0; r.preset = p; r.key += p; return r } }
        var layout = e4
        layout.recipeName = "fp8-layout"
        layout.key += "layout"
        let cov = StudyReport.coverage(scopedRecords + [layout])
        #expect(cov.contains("Recipes run for some variants only: fp8-layout (mha (d=16))"), "\(cov)")
        #expect(!cov.contains("Not run"), "\(cov)")
        // Two seeds of the same combination: the spread table names the worst one.
        var other = e4
        other.workload.seed = 7
        other.key += "-seed7"
        other.summary.errorAt[other.summary.errorAt.count - 1].outputRelErr = 1
        let spread = StudyReport.seedSpread([e4, other])
        #expect(spread.contains("## Seed spread"))
        #expect(spread.split(separator: "\n").last!.hasSuffix("| 1.00e+00 | 7 |"))
        #expect(md.contains("## Reference certification"))
        #expect(md.contains("git revision"))
        // The OpenBLAS core in use is part of the provenance (Float32 gemm bits depend on it).
        let info = try #require(RunInfo.load(dir: out).first)
        #expect(info.blas?.isEmpty == false && md.contains("- OpenBLAS core: \(info.blas!)"), "\(info.blas ?? "nil")")
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
        let md = try String(contentsOfFile: "\(d)/merged/report.md", encoding: .utf8)
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
