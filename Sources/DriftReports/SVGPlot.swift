import Foundation

/// A log–log line/scatter plot written as plain SVG (no plotting library exists for Swift on
/// Linux): decade ticks with 2…9 minor ticks, grid, a legend sized to its longest label,
/// dashed theory lines, marker shapes, point labels kept apart.
///
/// Series are told apart without relying on colour alone: a qualitative palette of eight
/// (Okabe–Ito's, yellow replaced by Tol's wine) cycles with line patterns and marker shapes.
/// Line series less than 1% apart at every point are drawn once under a combined label
/// ("fp32 = bf16 = fp16"), so a curve hidden under another is named.
public struct SVGPlot {
    public struct Series {
        public var label: String
        /// Appended to the label after merging: "fp32 = bf16" + " theory (flat)".
        public var suffix = ""
        public var points: [(Double, Double)]
        public var dashed = false
        public var markers = false
        /// Index into the palette (series sharing a color: a measurement and its theory);
        /// negative: the neutral dark grey of reference lines.
        public var color: Int
        public var labels: [String] = []
        /// A label written on the plot at the series' last point (a frontier's name).
        public var endLabel: String?

        public init(label: String, points: [(Double, Double)], color: Int, dashed: Bool = false, markers: Bool = false, labels: [String] = []) {
            self.label = label; self.points = points; self.color = color; self.dashed = dashed; self.markers = markers; self.labels = labels
        }
    }

    public var title: String
    public var xLabel: String
    public var yLabel: String
    public var series: [Series] = []
    /// The width of the plot area (the figure adds its margins and legend).
    public var plotWidth = 472.0
    public var plotHeight = 344.0

    public init(title: String, xLabel: String, yLabel: String) {
        self.title = title; self.xLabel = xLabel; self.yLabel = yLabel
    }

    public static let palette = ["#0072B2", "#D55E00", "#009E73", "#CC79A7", "#E69F00", "#56B4E9", "#000000", "#882255"]
    /// Line patterns of the palette's later cycles (solid first), and of dashed series.
    static let patterns = ["", "1.5 3", "8 3 1.5 3"]
    static let dashedPatterns = ["6 4", "6 2 1.5 2", "3 3"]

    static func color(_ i: Int) -> String { i < 0 ? "#444444" : palette[i % palette.count] }
    static func pattern(_ se: Series) -> String {
        let cycle = se.color < 0 ? 0 : (se.color / palette.count) % patterns.count
        return se.dashed ? dashedPatterns[cycle] : patterns[cycle]
    }

    static func escape(_ s: String) -> String {
        s.replacingOccurrences(of: "&", with: "&amp;").replacingOccurrences(of: "<", with: "&lt;")
            .replacingOccurrences(of: ">", with: "&gt;").replacingOccurrences(of: "\"", with: "&quot;")
    }

    func f(_ x: Double) -> String { String(format: "%.1f", x) }

    /// The plot area and the decades it spans: where a value lands.
    struct Frame {
        let left = 78.0, top = 40.0, bottom = 56.0
        var right = 210.0
        var pw: Double, ph: Double
        var x0: Double, x1: Double, y0: Double, y1: Double
        var width: Double { left + pw + right }
        var height: Double
        func px(_ x: Double) -> Double { left + (log10(x) - x0) / (x1 - x0) * pw }
        func py(_ y: Double) -> Double { top + (1 - (log10(y) - y0) / (y1 - y0)) * ph }
    }

    static let legendRow = 17.0, legendSize = 11.0, titleSize = 15.0

    /// The frame holding every plottable point: whole decades, at most 12 across and 18 up;
    /// the legend's column as wide as its longest label, the figure as tall as the legend.
    func frame(_ shown: [Series]) -> Frame {
        let all = shown.flatMap(\.points).filter { $0.0 > 0 && $0.1 > 0 && $0.0.isFinite && $0.1.isFinite }
        var x0 = floor(log10(all.map(\.0).min() ?? 1)), x1 = ceil(log10(all.map(\.0).max() ?? 10))
        var y0 = floor(log10(all.map(\.1).min() ?? 1e-8)), y1 = ceil(log10(all.map(\.1).max() ?? 1))
        if x1 <= x0 { x1 = x0 + 1 }
        if y1 <= y0 { y1 = y0 + 1 }
        y0 = max(y0, y1 - 18); x0 = max(x0, x1 - 12)
        var fr = Frame(pw: plotWidth, ph: plotHeight, x0: x0, x1: x1, y0: y0, y1: y1, height: 0)
        let widest = shown.map { SVGText.width($0.label + $0.suffix, size: Self.legendSize) }.max() ?? 0
        fr.right = max(40, 14 + 30 + widest + 10)
        let legendBottom = fr.top + 6 + Double(shown.count) * Self.legendRow + 8
        fr.ph = max(plotHeight, legendBottom - fr.top - 12)
        fr.height = fr.top + fr.ph + fr.bottom
        // The title and axis labels fit across.
        let need = max(SVGText.width(title, size: Self.titleSize), SVGText.width(xLabel, size: 12)) + 20
        if fr.width < need { fr.right += need - fr.width }
        return fr
    }

    /// The SVG text. Points with non-positive or non-finite coordinates are left out (a gap).
    public func render() -> String {
        let shown = Self.merged(series)
        let fr = frame(shown)
        let left = fr.left, top = fr.top, pw = fr.pw, ph = fr.ph, w = Int(fr.width.rounded(.up)), h = Int(fr.height.rounded(.up))
        let titleX = max(left + pw / 2, SVGText.width(title, size: Self.titleSize) / 2 + 10)
        var s = """
        <svg xmlns="http://www.w3.org/2000/svg" width="\(w)" height="\(h)" viewBox="0 0 \(w) \(h)" font-family="\(SVGText.fontFamily)" font-size="12">
        <rect x="0" y="0" width="\(w)" height="\(h)" fill="#ffffff"/>
        <text x="\(f(titleX))" y="22" text-anchor="middle" font-size="\(Int(Self.titleSize))" font-weight="bold">\(Self.escape(title))</text>

        """
        s += grid(fr)
        s += "<rect x=\"\(f(left))\" y=\"\(f(top))\" width=\"\(f(pw))\" height=\"\(f(ph))\" fill=\"none\" stroke=\"#222222\"/>\n"
        s += "<text x=\"\(f(max(left + pw / 2, SVGText.width(xLabel, size: 12) / 2 + 10)))\" y=\"\(f(fr.height - 14))\" text-anchor=\"middle\">\(Self.escape(xLabel))</text>\n"
        s += "<text x=\"18\" y=\"\(f(top + ph / 2))\" text-anchor=\"middle\" transform=\"rotate(-90 18 \(f(top + ph / 2)))\">\(Self.escape(yLabel))</text>\n"
        s += "<g clip-path=\"url(#plot)\">\n<clipPath id=\"plot\"><rect x=\"\(f(left))\" y=\"\(f(top))\" width=\"\(f(pw))\" height=\"\(f(ph))\"/></clipPath>\n"
        for se in shown { s += curve(se, fr) }
        s += "</g>\n"
        s += pointLabels(shown, fr)
        s += legend(shown, fr)
        s += "</svg>\n"
        return s
    }

    /// Grid lines and ticks: every decade across with 2…9 minor ticks; decades up, labelled
    /// every `yStep`, with minor ticks when every decade is labelled.
    func grid(_ fr: Frame) -> String {
        let left = fr.left, top = fr.top, pw = fr.pw, ph = fr.ph, x1 = fr.x1, y0 = fr.y0, y1 = fr.y1
        var s = ""
        let yStep = max(1.0, ((y1 - y0) / 9).rounded(.up))
        for e in stride(from: Int(fr.x0), through: Int(x1), by: 1) {
            let x = fr.px(pow(10, Double(e)))
            s += "<line x1=\"\(f(x))\" y1=\"\(f(top))\" x2=\"\(f(x))\" y2=\"\(f(top + ph))\" stroke=\"#dddddd\"/>\n"
            s += "<text x=\"\(f(x))\" y=\"\(f(top + ph + 18))\" text-anchor=\"middle\">10<tspan dy=\"-6\" font-size=\"9\">\(e)</tspan></text>\n"
            if e < Int(x1) {
                for m in 2...9 {
                    let xm = fr.px(Double(m) * pow(10, Double(e)))
                    s += "<line x1=\"\(f(xm))\" y1=\"\(f(top + ph))\" x2=\"\(f(xm))\" y2=\"\(f(top + ph - 4))\" stroke=\"#444444\"/>\n"
                }
            }
        }
        for e in stride(from: Int(y0), through: Int(y1), by: 1) {
            let y = fr.py(pow(10, Double(e)))
            let major = (e - Int(y0)) % Int(yStep) == 0
            s += "<line x1=\"\(f(left))\" y1=\"\(f(y))\" x2=\"\(f(left + pw))\" y2=\"\(f(y))\" stroke=\"\(major ? "#dddddd" : "#f0f0f0")\"/>\n"
            if major {
                s += "<text x=\"\(f(left - 8))\" y=\"\(f(y + 4))\" text-anchor=\"end\">10<tspan dy=\"-6\" font-size=\"9\">\(e)</tspan></text>\n"
            }
            if yStep == 1 && e < Int(y1) {
                for m in 2...9 {
                    let ym = fr.py(Double(m) * pow(10, Double(e)))
                    s += "<line x1=\"\(f(left))\" y1=\"\(f(ym))\" x2=\"\(f(left + 4))\" y2=\"\(f(ym))\" stroke=\"#444444\"/>\n"
                }
            }
        }
        return s
    }
}
