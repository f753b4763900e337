import Foundation
import Testing
@testable import DriftReports

/// The committed reports read well at GitHub's width: every table row fits the 948 px column,
/// every SVG text fits its viewBox with the widest metrics of the named font family, and the
/// README's excerpt is the default report's answer.
@Suite struct CommittedReportTests {
    static let root = URL(fileURLWithPath: #filePath).deletingLastPathComponent().deletingLastPathComponent().deletingLastPathComponent().path

    static func files(under dir: String, suffix: String) -> [String] {
        let e = FileManager.default.enumerator(atPath: "\(root)/\(dir)")
        return ((e?.allObjects as? [String]) ?? []).filter { $0.hasSuffix(suffix) }.sorted().map { "\(root)/\(dir)/\($0)" }
    }

    @Test func everyTableRowFitsGitHubsColumn() throws {
        let pages = Self.files(under: "reports", suffix: ".md")
        #expect(pages.count >= 30)
        var rows = 0
        for p in pages {
            let md = try String(contentsOfFile: p, encoding: .utf8)
            rows += md.split(separator: "\n").filter { $0.hasPrefix("|") }.count
            for (row, width, limit) in MarkdownTable.overflowing(md) {
                Issue.record("\(p): \(width) visible characters > \(limit): \(row)")
            }
        }
        #expect(rows > 300)
    }

    @Test func theWidthRuleCatchesAWideRow() {
        let wide = "| a | b |\n|---|---|\n| \(String(repeating: "x", count: 120)) | [y](z.md) |\n"
        #expect(MarkdownTable.overflowing(wide).count == 1)
        #expect(MarkdownTable.visible("**[mha¹](family-softmax.md)** `x`") == "mha¹ x")
        #expect(MarkdownTable.cells("| a \\| b | c |") == [" a \\| b ", " c "])
    }

    @Test func aWideTableIsSplitKeepingItsKeyColumns() {
        let heads = ["recipe", "format"] + (1...12).map { "column \($0)" }
        var t = MarkdownTable(heads, align: [.left, .left] + Array(repeating: .right, count: 12))
        // Rows told apart by recipe and format together: both columns repeat in each part.
        t.rows = ["bfloat16", "bfloat16/stochastic"].map { ["bf16", $0] + (1...12).map { "1.00e-0\($0 % 10)" } }
        let md = "intro\n\n" + t.render() + "\nafter\n"
        let fitted = MarkdownTable.fitting(md)
        #expect(!MarkdownTable.overflowing(md).isEmpty && MarkdownTable.overflowing(fitted).isEmpty)
        let tables = fitted.components(separatedBy: "| recipe | format |").count - 1
        #expect(tables >= 2, "\(fitted)")
        for h in heads { #expect(fitted.contains("| \(h) |") || fitted.contains(" \(h) |")) }
        #expect(fitted.hasPrefix("intro\n\n") && fitted.hasSuffix("\nafter\n"))
        #expect(MarkdownTable.fitting(fitted) == fitted)
        // Columns of one group ("8 pairs @…") stay in one table when they fit one.
        let grouped = ["recipe"] + [8, 32, 63].flatMap { p in [256, 1024, 4096, 16384, 65536].map { "\(p) pairs @\($0)" } }
        var g = MarkdownTable(grouped, align: [.left] + Array(repeating: .right, count: 15))
        g.rows = [["int8-token"] + Array(repeating: "100", count: 15)]
        let parts = MarkdownTable.fitting(g.render()).split(separator: "\n").filter { $0.hasPrefix("| recipe") }
        #expect(parts.count == 3 && parts.allSatisfy { Set($0.matches(of: #/ (\d+) pairs/#).map(\.output.1)).count == 1 }, "\(parts)")
        let piped = "| a | b |\n|---|---|\n| x \\| y | \(String(repeating: "z", count: 120)) |\n"
        #expect(MarkdownTable.fitting(piped).contains("| x \\| y |"), "\(MarkdownTable.fitting(piped))")
    }

    /// Each text element's box: (minX, maxX, minY, maxY) from its anchor, size and rotation.
    static func textBoxes(_ svg: String) -> [(String, Double, Double, Double, Double)] {
        svg.matches(of: #/<text([^>]*)>(.*?)</text>/#).map { m in
            let attrs = String(m.output.1)
            func attr(_ name: String) -> String? { attrs.firstMatch(of: try! Regex("\(name)=\"([^\"]*)\""))?.output[1].substring.map(String.init) }
            let text = String(m.output.2).replacing(#/<[^>]*>/#, with: "").replacingOccurrences(of: "&lt;", with: "<").replacingOccurrences(of: "&gt;", with: ">")
                .replacingOccurrences(of: "&quot;", with: "\"").replacingOccurrences(of: "&amp;", with: "&")
            let size = Double(attr("font-size") ?? "12")!, x = Double(attr("x")!)!, y = Double(attr("y")!)!
            let w = SVGText.width(text, size: size)
            let start = ["middle": x - w / 2, "end": x - w][attr("text-anchor") ?? ""] ?? x
            if attr("transform")?.hasPrefix("rotate(-90") == true { return (text, x - size, x + size / 4, y - (start - x + w), y - (start - x)) }
            return (text, start, start + w, y - size, y + size / 4)
        }
    }

    @Test func everySVGTextFitsItsViewBox() throws {
        let svgs = Self.files(under: "reports", suffix: ".svg")
        #expect(svgs.count >= 40)
        for p in svgs {
            let svg = try String(contentsOfFile: p, encoding: .utf8)
            #expect(svg.contains("font-family=\"\(SVGText.fontFamily)\""), "\(p)")
            let box = try #require(svg.firstMatch(of: #/viewBox="0 0 ([0-9.]+) ([0-9.]+)"/#), "\(p)")
            let (w, h) = (Double(box.output.1)!, Double(box.output.2)!)
            for (text, x0, x1, y0, y1) in Self.textBoxes(svg) where x0 < 0 || x1 > w || y0 < 0 || y1 > h {
                Issue.record("\(p): '\(text)' spans x \(x0)…\(x1), y \(y0)…\(y1) outside 0 0 \(w) \(h)")
            }
        }
    }

    @Test func aLongLegendWidensTheFigure() {
        var p = SVGPlot(title: "t", xLabel: "x", yLabel: "y")
        let label = "gated_deltanet (form=chunked,K=128,V=128) with a long name"
        p.series.append(SVGPlot.Series(label: label, points: [(1, 1e-3), (10, 1e-2)], color: 0))
        let svg = p.render()
        let w = Double(svg.firstMatch(of: #/viewBox="0 0 ([0-9.]+)/#)!.output.1)!
        let legend = Self.textBoxes(svg).first { $0.0 == label }!
        #expect(legend.2 <= w)
    }

    @Test func coincidentCurvesAreDrawnOnceWithACombinedLabel() {
        var p = SVGPlot(title: "t", xLabel: "x", yLabel: "y")
        let pts: [(Double, Double)] = [(1, 1e-3), (10, 2e-3), (100, 4e-3)]
        p.series.append(SVGPlot.Series(label: "fp32", points: pts, color: 0))
        p.series.append(SVGPlot.Series(label: "bf16", points: pts.map { ($0.0, $0.1 * 1.009) }, color: 1))
        p.series.append(SVGPlot.Series(label: "fp16", points: pts.map { ($0.0, $0.1 * 1.02) }, color: 2))
        var theory = SVGPlot.Series(label: "fp32", points: pts, color: 0, dashed: true)
        theory.suffix = " theory (flat)"
        p.series.append(theory)
        let svg = p.render()
        #expect(svg.contains(">fp32 = bf16<") && svg.contains(">fp16<") && svg.contains(">fp32 theory (flat)<"))
        #expect(svg.components(separatedBy: "<polyline").count - 1 == 3)
    }

    @Test func thePaletteIsDistinct() {
        func rgb(_ s: String) -> [Double] { stride(from: 1, to: 7, by: 2).map { Double(Int(s.dropFirst($0).prefix(2), radix: 16)!) } }
        let colors = SVGPlot.palette.map(rgb)
        for i in colors.indices { for j in colors.indices where i < j {
            let d = zip(colors[i], colors[j]).map { ($0 - $1) * ($0 - $1) }.reduce(0, +).squareRoot()
            #expect(d > 60, "\(SVGPlot.palette[i]) vs \(SVGPlot.palette[j]): \(d)")
        } }
        #expect(Set(SVGPlot.patterns).count == SVGPlot.patterns.count)
    }

    @Test func theREADMEExcerptIsTheDefaultReportsAnswer() throws {
        let readmePath = "\(Self.root)/README.md"
        let readme = try String(contentsOfFile: readmePath, encoding: .utf8)
        let index = try String(contentsOfFile: "\(Self.root)/reports/default/report.md", encoding: .utf8)
        let (begin, end) = StudyIndex.excerptMarkers("reports/default/report.md")
        let want = StudyIndex.excerpt(index, folder: "reports/default")
        let parts = readme.components(separatedBy: begin + "\n")
        #expect(parts.count == 2, "README has no '\(begin)'")
        guard parts.count == 2, let tail = parts[1].components(separatedBy: end).first else { return }
        if ProcessInfo.processInfo.environment["ATTNPREC_UPDATE_README"] == "1" && tail != want {
            try Data((parts[0] + begin + "\n" + want + end + parts[1].dropFirst(tail.count + end.count)).utf8).write(to: URL(fileURLWithPath: readmePath))
            return
        }
        #expect(tail == want, "regenerate with ATTNPREC_UPDATE_README=1 swift test --filter theREADMEExcerpt")
    }
}
