import CLITestSupport
import Foundation
import HybridStacks
import Testing
@testable import DriftReports

/// Synthetic hybrid records: 2 stacks × 2 recipes (fp32/bf16 state), each recipe's sources
/// alone (a recurrent type, an attention type, the residual), lengths 1k, 2k, 4k; the second
/// stack's all-rounded error 2.5× its quadrature sum (interacting errors), and a third recipe
/// of it that stored non-finite values.
enum HybridFixture {
    static let stacks: [(name: String, layers: [String], interact: Double)] = [
        ("alpha", ["gated_deltanet", "mlp", "gated_deltanet", "mlp", "gated_attention", "mlp"], 1.0),
        ("beta", ["mamba2", "mlp", "attention", "mlp", "mamba2", "mlp", "mamba2", "mlp"], 2.5),
    ]
    /// Per recipe: each source's final error alone, bytes at 32k.
    static let recipes: [(name: String, sources: [String: Double], bytes: Double)] = [
        ("fp32-state", ["state": 2e-3, "cache": 5e-4, "residual": 4e-3], 1.47e8),
        ("bf16-state", ["state": 9e-3, "cache": 5e-4, "residual": 4e-3], 1.41e8),
    ]

    static func line(stack: (name: String, layers: [String], interact: Double), recipe: String, only: String?, final: Double, bytes: Double, nonFinite: Int = 0) -> String {
        let lengths = [1024, 2048, 4096], L = stack.layers.count
        let hidden = lengths.map { final * (Double($0) / 4096).squareRoot() }
        let residual = (1...L).map { final * (Double($0) / Double(L)).squareRoot() }
        let kinds = Array(Set(stack.layers.filter { $0 != "mlp" })).sorted()
        var object: [String: Any] = [
            "key": "hybrid|\(stack.name)|w=1/16|recurrent|T=4096|seed=0|\(recipe)\(only.map { "|only=\($0)" } ?? "")",
            "variant": "hybrid", "stack": stack.name, "checkpoint": "org/\(stack.name.capitalized)-8B", "source": "https://example.org/\(stack.name)/config.json",
            "pattern": stack.layers.filter { $0 != "mlp" }.joined(separator: ", "), "layers": stack.layers, "width": "1/16", "d_model": 128,
            "form": "recurrent", "tokens": 4096, "seed": 0, "recipe_name": recipe,
            "recipe": Dictionary(uniqueKeysWithValues: kinds.map { ($0, "state=bfloat16") } + [("residual", "bfloat16")]),
            "lengths": lengths, "hidden_rel_err": hidden, "logits_kl": hidden.map { $0 * $0 * 5 }, "top1": hidden.map { 1 - 4 * $0 },
            "reference_entropy": 2.5, "lm_scale": 4.1875, "residual_rel_err": residual, "layer_output_rel_err": residual.map { $0 / 2 },
            "bytes_per_sequence": ["4096": bytes / 4, "32768": bytes, "131072": bytes * 3.8, "1048576": bytes * 30], "fixed_bytes": bytes / 20,
            "stored_nonfinite": nonFinite,
        ]
        if let only { object["only"] = only }
        return String(decoding: try! JSONSerialization.data(withJSONObject: object, options: [.sortedKeys]), as: UTF8.self)
    }

    /// The source names of a stack: its recurrent type, its attention type, the residual.
    static func sources(_ layers: [String]) -> [String: String] {
        ["state": layers.first { $0 != "mlp" && !$0.contains("attention") }!, "cache": layers.first { $0.contains("attention") }!, "residual": "residual"]
    }

    static var lines: [String] {
        var out: [String] = []
        for s in stacks {
            for r in recipes {
                let names = sources(s.layers)
                let quad = r.sources.values.reduce(0) { $0 + $1 * $1 }.squareRoot()
                out.append(line(stack: s, recipe: r.name, only: nil, final: quad * s.interact, bytes: r.bytes))
                for (k, e) in r.sources { out.append(line(stack: s, recipe: r.name, only: names[k]!, final: e, bytes: r.bytes)) }
            }
        }
        out.append(line(stack: stacks[1], recipe: "fp8-state", only: nil, final: 1e-3, bytes: 1.2e8, nonFinite: 3))
        return out
    }

    static var records: [HybridRecord] {
        lines.map { try! HybridRecord.decoder().decode(HybridRecord.self, from: Data($0.utf8)) }
    }

    static func rendered() throws -> String {
        let d = try Fixture.dir()
        try HybridReport.write(records: records, runInfo: nil, to: d, title: "Hybrid fixture")
        return d
    }
}

@Suite struct HybridReportTests {
    @Test func everyPageFitsAndEveryPlotTextIsInside() throws {
        let d = try HybridFixture.rendered()
        let index = try String(contentsOfFile: "\(d)/report.md", encoding: .utf8)
        let linked = Set(index.matches(of: #/\]\(([a-z-]+\.md)/#).map { String($0.output.1) })
        #expect(linked == Set(HybridReport.pages), "\(linked)")
        var rows = 0, plots: Set<String> = []
        for page in ["report.md"] + HybridReport.pages {
            let md = try String(contentsOfFile: "\(d)/\(page)", encoding: .utf8)
            rows += md.split(separator: "\n").filter { $0.hasPrefix("|") }.count
            for (row, width, limit) in MarkdownTable.overflowing(md) { Issue.record("\(page): \(width) > \(limit): \(row)") }
            plots.formUnion(md.matches(of: #/\]\(plots/([^)]+)\)/#).map { String($0.output.1) })
        }
        #expect(rows > 40)
        // Per stack a depth and a length plot, and the memory–error plot.
        #expect(plots == ["depth-alpha.svg", "depth-beta.svg", "length-alpha.svg", "length-beta.svg", "memory-error.svg"])
        for p in plots {
            let svg = try String(contentsOfFile: "\(d)/plots/\(p)", encoding: .utf8)
            #expect(svg.contains("font-family=\"\(SVGText.fontFamily)\""))
            let box = try #require(svg.firstMatch(of: #/viewBox="0 0 ([0-9.]+) ([0-9.]+)"/#))
            let (w, h) = (Double(box.output.1)!, Double(box.output.2)!)
            let texts = CommittedReportTests.textBoxes(svg)
            #expect(texts.count > 6)
            for (text, x0, x1, y0, y1) in texts where x0 < 0 || x1 > w || y0 < 0 || y1 > h {
                Issue.record("\(p): '\(text)' spans x \(x0)…\(x1), y \(y0)…\(y1) outside 0 0 \(w) \(h)")
            }
        }
        // The depth plot holds each recipe's prediction (dashed) and marks the layer types.
        let depth = try String(contentsOfFile: "\(d)/plots/depth-beta.svg", encoding: .utf8)
        #expect(depth.contains("bf16-state √Σ sources alone") && depth.contains("mamba2 layers") && depth.contains("attention layers"))
        #expect(try String(contentsOfFile: "\(d)/plots/memory-error.svg", encoding: .utf8).contains(">Pareto frontier</text>"))
    }

    @Test func theIndexAnswersFirst() throws {
        let d = try HybridFixture.rendered()
        let index = try String(contentsOfFile: "\(d)/report.md", encoding: .utf8)
        let answer = index.components(separatedBy: "## Findings")[0]
        #expect(answer.contains("| stack | recipe | T | err | KL | top-1 | bytes 32k | bytes 128k |"))
        #expect(answer.contains("Stacks: alpha and beta at width 1/16 (d_model 128), recurrent form, to 4k tokens."))
        // 2 stacks × 2 recipes + the NaN recipe, each a row.
        #expect(answer.split(separator: "\n").filter { $0.hasPrefix("| [") }.count == 5)
        let attribution = try String(contentsOfFile: "\(d)/attribution.md", encoding: .utf8)
        #expect(attribution.contains("| bf16-state | mamba2 | 9.00e-3 |"))
        #expect(attribution.contains("| bf16-state | 9.86e-3 | 2.47e-2 | 0.40 |"), "√Σ against 2.5× it")
    }

    @Test func nonFiniteStoresShowAsNaNAndNeverOnTheFrontier() throws {
        let d = try HybridFixture.rendered()
        let index = try String(contentsOfFile: "\(d)/report.md", encoding: .utf8)
        let row = try #require(index.split(separator: "\n").first { $0.contains("| fp8-state |") })
        #expect(MarkdownTable.cells(row).map { $0.trimmingCharacters(in: .whitespaces) }[3...5] == ["NaN", "NaN", "NaN"])
        let memory = try String(contentsOfFile: "\(d)/memory-error.md", encoding: .utf8)
        let point = try #require(memory.split(separator: "\n").first { $0.contains("| fp8-state |") })
        #expect(point.contains("NaN") && !point.contains("★"))
        let length = try String(contentsOfFile: "\(d)/length.md", encoding: .utf8)
        #expect(length.split(separator: "\n").filter { $0.contains("| fp8-state |") }.allSatisfy { $0.contains("| NaN | NaN | NaN |") })
        #expect(index.contains("stored non-finite values") && index.contains("beta fp8-state"))
    }

    /// Every number a findings sentence prints is one the records hold or one derived from
    /// them (shares, ratios, savings, slopes), computed here independently.
    @Test func findingsPrintOnlyNumbersFromTheRecords() throws {
        let set = HybridSet(HybridFixture.records)
        let findings = HybridFindings.sentences(set)
        #expect((4...5).contains(findings.count), "\(findings)")
        #expect(findings.allSatisfy { $0.contains("](") })
        var allowed: Set<String> = ["1.5", "32k", "√Σ", "top-1"]
        func add(_ x: Double) {
            allowed.formUnion([Compact.sci(x, digits: 1), Compact.sci(x), String(format: "%.2f", x), String(format: "%.0f%%", 100 * x), Compact.bytes(x)])
        }
        for r in set.records {
            (r.hiddenRelErr + r.logitsKL + r.top1 + r.residualRelErr + Array(r.bytesPerSequence.values)).forEach(add)
            allowed.formUnion(r.lengths.map(Compact.tokens))
        }
        for s in set.stacks {
            let full = set.full(s)
            for a in full {
                let parts = set.parts(a), q = parts.reduce(0) { $0 + $1.finalError * $1.finalError }
                add(q.squareRoot() / a.finalError)
                parts.forEach { add($0.finalError * $0.finalError / q) }
                let predicted = parts.reduce(0) { $0 + pow($1.residualRelErr.last!, 2) }.squareRoot()
                add(a.residualRelErr.last! / predicted)
                add(log(a.hiddenRelErr.last! / a.hiddenRelErr[0]) / log(4))
                for b in full {
                    let (ba, bb) = (a.bytesPerSequence["32768"]!, b.bytesPerSequence["32768"]!)
                    add(ba - bb); add((ba - bb) / ba); add(b.finalError / a.finalError)
                }
            }
        }
        allowed.formUnion((0...set.records.count).map(String.init))
        var names = Set(set.records.flatMap { [$0.stack, $0.recipeName, $0.width] + $0.layers + ($0.only.map { [$0] } ?? []) })
        names.formUnion(["KL(p‖p̂)", "e_source²"])
        for f in findings {
            var text = f.replacing(#/\]\([^)]*\)/#, with: "]")
            for n in names.sorted(by: { $0.count > $1.count }) { text = text.replacingOccurrences(of: n, with: " ") }
            for m in text.matches(of: #/[0-9][0-9.]*(e-?[0-9]+)?(%| [KMG]?B|k)?/#) {
                #expect(allowed.contains(String(m.output.0)), "'\(m.output.0)' in: \(f)")
            }
        }
        // The interacting stack is named with its ratio, the dominant source of each stack too.
        #expect(findings.contains { $0.contains("for 2 of 4 stack × recipe pairs") && $0.contains("beta fp32-state (0.40)") })
        #expect(findings.contains { $0.contains("mamba2 in [beta]") && $0.contains("gated_deltanet in [alpha]") })
    }

    @Test func theReportCommandRendersAHybridFolder() throws {
        let d = try Fixture.dir()
        try Data((HybridFixture.lines.joined(separator: "\n") + "\n").utf8).write(to: URL(fileURLWithPath: "\(d)/results.jsonl"))
        let r = try CLI.run(["report", d])
        #expect(r.code == 0, "\(r.err)")
        #expect(r.out.contains("report: \(d)/report.md"))
        let index = try String(contentsOfFile: "\(d)/report.md", encoding: .utf8)
        #expect(index.hasPrefix("# attnprec hybrid stacks: ") && index.contains("## Findings"))
        #expect(FileManager.default.fileExists(atPath: "\(d)/plots/memory-error.svg"))
        // A hybrid line that lacks a field: one line naming the record, exit 2, nothing written.
        let bad = try Fixture.dir()
        let broken = HybridFixture.lines[0].replacingOccurrences(of: "\"d_model\":128,", with: "")
        try Data((broken + "\n").utf8).write(to: URL(fileURLWithPath: "\(bad)/results.jsonl"))
        let b = try CLI.run(["report", bad])
        #expect(b.code == 2)
        #expect(b.err.hasPrefix("attnprec: record 'hybrid|alpha|") && b.err.contains("not a hybrid record") && b.err.split(separator: "\n").count == 1, "\(b.err)")
        #expect(!FileManager.default.fileExists(atPath: "\(bad)/report.md"))
    }
}
