import CLITestSupport
import DriftStudy
import Foundation
import Testing
@testable import DriftReports

/// A replay result built from errors.json text: two recipes (one labelled), a kernel that
/// errs 1.1× the bf16 recipe, a kernel with NaN outputs, 200 positions.
enum ReplayFixture {
    static let tokens = 200

    static func series(_ name: String, kind: String, recipe: String?, errors: [Double], state: Double?) -> String {
        let finite = errors.filter(\.isFinite)
        let nan = errors.count - finite.count
        let mean = nan > 0 ? Double.nan : errors.reduce(0, +) / Double(errors.count), max = nan > 0 ? Double.nan : errors.max()!
        func j(_ x: Double) -> String { x.isNaN ? "\"NaN\"" : "\(x)" }
        var s = "{\"name\": \"\(name)\", \"kind\": \"\(kind)\", \"file\": \"o_\(name).npy\", \"output_rel_err\": [\(errors.map(j).joined(separator: ","))], "
        s += "\"max_output_rel_err\": \(j(max)), \"mean_output_rel_err\": \(j(mean))"
        if let recipe { s += ", \"recipe\": {\(recipe)}" }
        if let state { s += ", \"final_state_rel_err\": \(state)" }
        if nan > 0 { s += ", \"first_non_finite\": \(errors.firstIndex { $0.isNaN }!), \"non_finite_positions\": \(nan)" }
        return s + "}"
    }

    /// Errors growing as (1 + t/50) from `base`.
    static func growing(_ base: Double) -> [Double] { (0..<tokens).map { base * (1 + Double($0) / 50) } }

    static var json: String {
        var nan = growing(2e-3)
        nan[127] = .nan; nan[128] = .nan
        let series = [
            series("bf16", kind: "recipe", recipe: "\"state\": \"bfloat16\"", errors: growing(1e-3), state: 4e-3),
            series("state-float16", kind: "recipe", recipe: "\"state\": \"float16\"", errors: growing(1e-4), state: 5e-4),
            series("kernel", kind: "compare", recipe: nil, errors: growing(1.1e-3), state: nil),
            series("broken", kind: "compare", recipe: nil, errors: nan, state: nil),
        ]
        return """
        {"variant": "gated_deltanet", "preset": "qwen3-next", "inputs": "dumps/layer-3.safetensors", "tokens": \(tokens),
         "output_shape": [\(tokens), 4, 8], "state_shape": [4, 8, 8],
         "reference": {"tier": "float64", "certified_tokens": 64, "bits": 128, "fast_vs_mpfr_output": 8.3e-16, "mpfr_p_vs_2p_output": 1.8e-38, "pass": true},
         "series": [\(series.joined(separator: ",\n"))]}
        """
    }

    static var result: Replay.Result { try! StudyJSON.decoder().decode(Replay.Result.self, from: Data(json.utf8)) }
}

@Suite struct ReplayReportTests {
    @Test func theIndexAnswersFirstAndEveryPageFits() throws {
        let d = try Fixture.dir()
        let path = try ReplayReport.write(ReplayFixture.result, to: d)
        let index = try String(contentsOfFile: path, encoding: .utf8)
        #expect(index.hasPrefix("# Replay: gated_deltanet (qwen3-next) on layer-3.safetensors\n\n## Answer\n\n200 positions of `dumps/layer-3.safetensors`"))
        // The answer table is the first table, one row per series, ratios to the first kernel.
        let rows = index.split(separator: "\n").filter { $0.hasPrefix("|") }
        #expect(rows.first == "| series | kind | mean | max | last | state | ×kernel |")
        #expect(rows.count == 6 && index.components(separatedBy: "## Findings")[0].split(separator: "\n").count < 20)
        #expect(rows.contains("| kernel | compare | 3.29e-3 | 5.48e-3 | 5.48e-3 | – | 1.00× |"), "\(rows)")
        #expect(rows.contains { $0.hasPrefix("| broken | compare | NaN | NaN | ") })
        // The labelled recipe's text in the legend; the unlabelled one spells itself.
        #expect(index.contains("Recipes: `bf16` = `state=bfloat16`.") && !index.contains("`state-float16` ="))
        #expect(index.contains("Float64 vs MPFR-128 8.30e-16, MPFR-128 vs MPFR-256 1.80e-38: pass."))
        for page in ["report.md", ReplayReport.positionsPage] {
            let md = try String(contentsOfFile: "\(d)/\(page)", encoding: .utf8)
            for (row, width, limit) in MarkdownTable.overflowing(md) { Issue.record("\(page): \(width) > \(limit): \(row)") }
            #expect(md.contains("](plots/\(ReplayReport.plotName))"))
        }
        let positions = try String(contentsOfFile: "\(d)/\(ReplayReport.positionsPage)", encoding: .utf8)
        #expect(positions.contains("| position | bf16 | state-float16 | kernel | broken |"))
        #expect(positions.contains("| 127 | 3.54e-3 | 3.54e-4 | 3.89e-3 | NaN |") && positions.contains("| 199 | "))
        let svg = try String(contentsOfFile: "\(d)/plots/\(ReplayReport.plotName)", encoding: .utf8)
        let box = try #require(svg.firstMatch(of: #/viewBox="0 0 ([0-9.]+) ([0-9.]+)"/#))
        let (w, h) = (Double(box.output.1)!, Double(box.output.2)!)
        for (text, x0, x1, y0, y1) in CommittedReportTests.textBoxes(svg) where x0 < 0 || x1 > w || y0 < 0 || y1 > h {
            Issue.record("'\(text)' spans x \(x0)…\(x1), y \(y0)…\(y1) outside 0 0 \(w) \(h)")
        }
        #expect(svg.contains(">broken (NaN at 2 positions)<") && svg.contains(">bf16<"))
    }

    /// Every number a finding prints is one errors.json holds or a ratio of two of them,
    /// computed here independently; every finding links what proves it; at most five.
    @Test func findingsPrintOnlyNumbersFromTheErrors() {
        let r = ReplayFixture.result
        let findings = ReplayReport.findings(r, linked: true)
        #expect((4...5).contains(findings.count), "\(findings)")
        #expect(findings.allSatisfy { $0.contains("](") })
        #expect(findings[0].hasPrefix("`broken` is not finite at 2 of 200 positions, the first at position 127"))
        #expect(findings.contains { $0.contains("`kernel` has a mean error of 3.29e-3") && $0.contains("nearest emulation is `bf16` (2.99e-3): the kernel errs 1.10× as much") })
        #expect(findings.contains { $0.contains("`bf16` errs most") && $0.contains("10.0× apart") })
        let means = r.series.map(\.meanOutputRelErr) + r.series.map(\.maxOutputRelErr)
        var allowed: Set<String> = ["64", "200", "2", "127", "12"]
        func add(_ x: Double) { allowed.formUnion([Compact.sci(x), ReplayReport.ratio(x, 1).dropLast().description]) }
        for a in means { add(a); for b in means where b > 0 { add(a / b) } }
        for e in r.series {
            let first = e.outputRelErr.prefix(12).reduce(0, +) / 12, last = e.outputRelErr.suffix(12).reduce(0, +) / 12
            add(first); add(last); add(last / first)
        }
        for f in findings {
            var text = f.replacing(#/\]\([^)]*\)/#, with: "]")
            for n in (r.series.map(\.name) + ["MPFR-128"]).sorted(by: { $0.count > $1.count }) { text = text.replacingOccurrences(of: n, with: " ") }
            for m in text.matches(of: #/[0-9][0-9.]*(e-?[0-9]+)?/#) {
                #expect(allowed.contains(String(m.output.0)), "'\(m.output.0)' in: \(f)")
            }
        }
        // The terminal's summary: the same findings without links, the certification first.
        let summary = ReplayReport.summary(r)
        #expect(summary.contains("Reference certified on its first 64 positions: Float64 vs MPFR-128 8.30e-16; pass.") && !summary.contains("]("))
    }

    @Test func aKernelFarFromEveryRecipeIsSaidToBe() {
        var r = ReplayFixture.result
        r.series[2].meanOutputRelErr = 1e-6
        let f = ReplayReport.closest(r.series[2], r.series.filter { $0.kind == "recipe" })
        #expect(f.contains("1.00e-6") && f.contains("below the nearest emulation, `state-float16`") && f.contains("no recipe given explains its error"), "\(f)")
    }

    /// `attnprec report DIR` on a replay folder redraws its report from errors.json, byte for
    /// byte; a broken errors.json is one line naming the file, exit 2, nothing written.
    @Test func theReportCommandRedrawsAReplayFolder() throws {
        let a = try Fixture.dir(), b = try Fixture.dir()
        try ReplayReport.write(ReplayFixture.result, to: a)
        try Data(ReplayFixture.json.utf8).write(to: URL(fileURLWithPath: "\(b)/errors.json"))
        let r = try CLI.run(["report", b])
        #expect(r.code == 0, "\(r.err)")
        for f in ["report.md", ReplayReport.positionsPage, "plots/\(ReplayReport.plotName)"] {
            #expect(FileManager.default.contents(atPath: "\(a)/\(f)") == FileManager.default.contents(atPath: "\(b)/\(f)"), "\(f)")
        }
        let bad = try Fixture.dir()
        try Data(ReplayFixture.json.replacingOccurrences(of: "\"tokens\": 200,", with: "").utf8).write(to: URL(fileURLWithPath: "\(bad)/errors.json"))
        let e = try CLI.run(["report", bad])
        #expect(e.code == 2 && e.err.contains("\(bad)/errors.json: not a replay's errors.json (missing field 'tokens')") && e.err.split(separator: "\n").count == 1, "\(e.err)")
        #expect(try FileManager.default.contentsOfDirectory(atPath: bad) == ["errors.json"])
    }
}
