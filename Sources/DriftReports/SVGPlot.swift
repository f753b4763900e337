import Foundation

/// A log–log line/scatter plot written as plain SVG (no plotting library exists for Swift on
/// Linux): decade ticks with 2…9 minor ticks, grid, legend, dashed theory lines.
public struct SVGPlot {
    public struct Series {
        public var label: String
        public var points: [(Double, Double)]
        public var dashed = false
        public var markers = false
        /// Index into the palette (series sharing a color: a measurement and its theory).
        public var color: Int
        public var labels: [String] = []

        public init(label: String, points: [(Double, Double)], color: Int, dashed: Bool = false, markers: Bool = false, labels: [String] = []) {
            self.label = label; self.points = points; self.color = color; self.dashed = dashed; self.markers = markers; self.labels = labels
        }
    }

    public var title: String
    public var xLabel: String
    public var yLabel: String
    public var series: [Series] = []
    public var width = 760.0
    public var height = 440.0

    public init(title: String, xLabel: String, yLabel: String) {
        self.title = title; self.xLabel = xLabel; self.yLabel = yLabel
    }

    public static let palette = [
        "#1f77b4", "#d62728", "#2ca02c", "#ff7f0e", "#9467bd", "#8c564b", "#e377c2", "#17becf", "#7f7f7f", "#bcbd22",
        "#000080", "#aa6e28", "#008080", "#f032e6", "#3cb44b", "#800000", "#808000", "#469990", "#911eb4", "#e6194b",
    ]

    static func escape(_ s: String) -> String {
        s.replacingOccurrences(of: "&", with: "&amp;").replacingOccurrences(of: "<", with: "&lt;")
            .replacingOccurrences(of: ">", with: "&gt;").replacingOccurrences(of: "\"", with: "&quot;")
    }

    func f(_ x: Double) -> String { String(format: "%.1f", x) }

    /// The plot area and the decades it spans: where a value lands.
    struct Frame {
        let left = 78.0, right = 210.0, top = 40.0, bottom = 56.0
        var pw: Double, ph: Double
        var x0: Double, x1: Double, y0: Double, y1: Double
        func px(_ x: Double) -> Double { left + (log10(x) - x0) / (x1 - x0) * pw }
        func py(_ y: Double) -> Double { top + (1 - (log10(y) - y0) / (y1 - y0)) * ph }
    }

    /// The frame holding every plottable point: whole decades, at most 12 across and 18 up.
    func frame() -> Frame {
        let all = series.flatMap(\.points).filter { $0.0 > 0 && $0.1 > 0 && $0.0.isFinite && $0.1.isFinite }
        var x0 = floor(log10(all.map(\.0).min() ?? 1)), x1 = ceil(log10(all.map(\.0).max() ?? 10))
        var y0 = floor(log10(all.map(\.1).min() ?? 1e-8)), y1 = ceil(log10(all.map(\.1).max() ?? 1))
        if x1 <= x0 { x1 = x0 + 1 }
        if y1 <= y0 { y1 = y0 + 1 }
        y0 = max(y0, y1 - 18); x0 = max(x0, x1 - 12)
        var fr = Frame(pw: 0, ph: 0, x0: x0, x1: x1, y0: y0, y1: y1)
        fr.pw = width - fr.left - fr.right
        fr.ph = height - fr.top - fr.bottom
        return fr
    }

    /// The SVG text. Points with non-positive or non-finite coordinates are left out (a gap).
    public func render() -> String {
        let fr = frame()
        let left = fr.left, top = fr.top, pw = fr.pw, ph = fr.ph
        var s = """
        <svg xmlns="http://www.w3.org/2000/svg" width="\(Int(width))" height="\(Int(height))" viewBox="0 0 \(Int(width)) \(Int(height))" font-family="Helvetica, Arial, sans-serif" font-size="12">
        <rect x="0" y="0" width="\(Int(width))" height="\(Int(height))" fill="#ffffff"/>
        <text x="\(f(left + pw / 2))" y="22" text-anchor="middle" font-size="15" font-weight="bold">\(Self.escape(title))</text>

        """
        s += grid(fr)
        s += "<rect x=\"\(f(left))\" y=\"\(f(top))\" width=\"\(f(pw))\" height=\"\(f(ph))\" fill=\"none\" stroke=\"#222222\"/>\n"
        s += "<text x=\"\(f(left + pw / 2))\" y=\"\(f(height - 14))\" text-anchor=\"middle\">\(Self.escape(xLabel))</text>\n"
        s += "<text x=\"18\" y=\"\(f(top + ph / 2))\" text-anchor=\"middle\" transform=\"rotate(-90 18 \(f(top + ph / 2)))\">\(Self.escape(yLabel))</text>\n"
        s += "<g clip-path=\"url(#plot)\">\n<clipPath id=\"plot\"><rect x=\"\(f(left))\" y=\"\(f(top))\" width=\"\(f(pw))\" height=\"\(f(ph))\"/></clipPath>\n"
        for se in series { s += curve(se, fr) }
        s += "</g>\n"
        s += legend(fr)
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

    /// One series: polylines between gaps, or markers with their labels; values past the
    /// frame's decades drawn at its edge.
    func curve(_ se: Series, _ fr: Frame) -> String {
        var s = ""
        let color = Self.palette[se.color % Self.palette.count]
        var segment: [String] = []
        func flush() {
            if segment.count > 1 {
                s += "<polyline fill=\"none\" stroke=\"\(color)\" stroke-width=\"\(se.dashed ? "1.5" : "1.8")\"\(se.dashed ? " stroke-dasharray=\"6 4\"" : "") points=\"\(segment.joined(separator: " "))\"/>\n"
            }
            segment = []
        }
        for (i, p) in se.points.enumerated() {
            guard p.0 > 0, p.1 > 0, p.0.isFinite, p.1.isFinite else { flush(); continue }
            let x = fr.px(p.0), y = fr.py(min(max(p.1, pow(10, fr.y0)), pow(10, fr.y1)))
            if se.markers {
                s += "<circle cx=\"\(f(x))\" cy=\"\(f(y))\" r=\"4\" fill=\"\(color)\"/>\n"
                if i < se.labels.count && !se.labels[i].isEmpty {
                    s += "<text x=\"\(f(x + 6))\" y=\"\(f(y - 5))\" font-size=\"10\" fill=\"#333333\">\(Self.escape(se.labels[i]))</text>\n"
                }
            } else {
                segment.append("\(f(x)),\(f(y))")
            }
        }
        if !se.markers { flush() }
        return s
    }

    /// The legend right of the plot, one line per series while there is room.
    func legend(_ fr: Frame) -> String {
        var s = ""
        var ly = fr.top + 6
        for se in series {
            let color = Self.palette[se.color % Self.palette.count]
            let lx = fr.left + fr.pw + 14
            if se.markers {
                s += "<circle cx=\"\(f(lx + 12))\" cy=\"\(f(ly + 6))\" r=\"4\" fill=\"\(color)\"/>\n"
            } else {
                s += "<line x1=\"\(f(lx))\" y1=\"\(f(ly + 6))\" x2=\"\(f(lx + 24))\" y2=\"\(f(ly + 6))\" stroke=\"\(color)\" stroke-width=\"2\"\(se.dashed ? " stroke-dasharray=\"6 4\"" : "")/>\n"
            }
            s += "<text x=\"\(f(lx + 30))\" y=\"\(f(ly + 10))\" font-size=\"11\">\(Self.escape(se.label))</text>\n"
            ly += 17
            if ly > height - fr.bottom { break }
        }
        return s
    }
}
