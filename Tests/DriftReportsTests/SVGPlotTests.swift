import Foundation
#if canImport(FoundationXML)
import FoundationXML
#endif
import Testing
@testable import DriftReports

/// `SVGPlot`: well-formed SVG, text escaped, gaps where points cannot be plotted.
@Suite struct SVGPlotTests {
    @Test func svgPlotIsWellFormedWithGaps() {
        var p = SVGPlot(title: "a <b> & c", xLabel: "t", yLabel: "err")
        p.series.append(SVGPlot.Series(label: "s", points: [(1, 1e-3), (10, .nan), (100, 1e-2), (1000, 0)], color: 0))
        let svg = p.render()
        #expect(XMLParser(data: Data(svg.utf8)).parse())
        #expect(svg.contains("a &lt;b&gt; &amp; c"))
    }
}
