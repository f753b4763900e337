import Foundation

extension SVGPlot {
    /// Line series drawn once where they coincide: a series whose points are those of an
    /// earlier one (same style, same positions) within 1% everywhere joins it, its label
    /// appended ("fp32 = bf16"). Marker series are never merged.
    static func merged(_ series: [Series]) -> [Series] {
        var out: [Series] = []
        for se in series {
            if !se.markers, se.endLabel == nil, let i = out.firstIndex(where: { !$0.markers && $0.endLabel == nil && $0.dashed == se.dashed && $0.suffix == se.suffix && coincide($0.points, se.points) }) {
                out[i].label += " = " + se.label
            } else {
                out.append(se)
            }
        }
        return out
    }

    /// Same positions and values less than 1% apart at every one (NaN only where the other is NaN).
    static func coincide(_ a: [(Double, Double)], _ b: [(Double, Double)]) -> Bool {
        guard a.count == b.count, !a.isEmpty else { return false }
        return zip(a, b).allSatisfy { p, q in
            guard p.0 == q.0 else { return false }
            if p.1.isNaN || q.1.isNaN { return p.1.isNaN && q.1.isNaN }
            return abs(p.1 - q.1) <= 0.01 * max(abs(p.1), abs(q.1))
        }
    }

    /// One marker: circle, square, triangle or diamond by the palette cycle.
    func marker(_ x: Double, _ y: Double, _ se: Series, r: Double = 4) -> String {
        let c = Self.color(se.color)
        switch se.color < 0 ? 0 : (se.color / Self.palette.count) % 4 {
        case 1: return "<rect x=\"\(f(x - r))\" y=\"\(f(y - r))\" width=\"\(f(2 * r))\" height=\"\(f(2 * r))\" fill=\"\(c)\"/>\n"
        case 2: return "<polygon points=\"\(f(x)),\(f(y - r - 1)) \(f(x + r + 1)),\(f(y + r)) \(f(x - r - 1)),\(f(y + r))\" fill=\"\(c)\"/>\n"
        case 3: return "<polygon points=\"\(f(x)),\(f(y - r - 1)) \(f(x + r + 1)),\(f(y)) \(f(x)),\(f(y + r + 1)) \(f(x - r - 1)),\(f(y))\" fill=\"\(c)\"/>\n"
        default: return "<circle cx=\"\(f(x))\" cy=\"\(f(y))\" r=\"\(f(r))\" fill=\"\(c)\"/>\n"
        }
    }

    /// Where a point lands; nil for what cannot be drawn on log axes. Values past the frame's
    /// decades land at its edge.
    func position(_ p: (Double, Double), _ fr: Frame) -> (Double, Double)? {
        guard p.0 > 0, p.1 > 0, p.0.isFinite, p.1.isFinite else { return nil }
        return (fr.px(p.0), fr.py(min(max(p.1, pow(10, fr.y0)), pow(10, fr.y1))))
    }

    /// One series: polylines between gaps in its pattern, or markers.
    func curve(_ se: Series, _ fr: Frame) -> String {
        var s = ""
        let color = Self.color(se.color), dash = Self.pattern(se)
        var segment: [String] = []
        func flush() {
            if segment.count > 1 {
                s += "<polyline fill=\"none\" stroke=\"\(color)\" stroke-width=\"\(se.dashed ? "1.5" : "1.8")\"\(dash.isEmpty ? "" : " stroke-dasharray=\"\(dash)\"") points=\"\(segment.joined(separator: " "))\"/>\n"
            }
            segment = []
        }
        for p in se.points {
            guard let (x, y) = position(p, fr) else { flush(); continue }
            if se.markers { s += marker(x, y, se) } else { segment.append("\(f(x)),\(f(y))") }
        }
        if !se.markers { flush() }
        return s
    }

    /// The labels of marker points and series ends, kept 12 px apart (pushed down in order of
    /// height) and inside the plot area: right of the point, or left where it would cross the edge.
    func pointLabels(_ shown: [Series], _ fr: Frame) -> String {
        var items: [(x: Double, y: Double, text: String)] = []
        for se in shown {
            for (i, p) in se.points.enumerated() where i < se.labels.count && !se.labels[i].isEmpty {
                if let (x, y) = position(p, fr) { items.append((x, y, se.labels[i])) }
            }
            if let end = se.endLabel, let last = se.points.last(where: { position($0, fr) != nil }), let (x, y) = position(last, fr) {
                items.append((x, y + 14, end))
            }
        }
        items += endLabels(shown, fr)
        items.sort { ($0.y, $0.x) < ($1.y, $1.x) }
        // Down from the top, then up from the bottom edge: 12 px apart and inside the area.
        var ys: [Double] = []
        for it in items { ys.append(max(it.y - 5, (ys.last ?? -.infinity) + 12, fr.top + 10)) }
        for i in ys.indices.reversed() { ys[i] = min(ys[i], i + 1 < ys.count ? ys[i + 1] - 12 : fr.top + fr.ph - 3) }
        var s = ""
        for (it, y) in zip(items, ys) {
            let w = SVGText.width(it.text, size: 10)
            let anchorEnd = it.x + 6 + w > fr.left + fr.pw
            let x = anchorEnd ? max(it.x - 6, fr.left + w + 2) : it.x + 6
            s += "<text x=\"\(f(x))\" y=\"\(f(y))\" font-size=\"10\" fill=\"#222222\"\(anchorEnd ? " text-anchor=\"end\"" : "")>\(Self.escape(it.text))</text>\n"
        }
        return s
    }

    /// Direct labels for solid lines whose ends lie within 12 px of another's (where the
    /// legend's colours alone would not tell them apart), at their last point.
    func endLabels(_ shown: [Series], _ fr: Frame) -> [(x: Double, y: Double, text: String)] {
        let ends = shown.filter { !$0.markers && !$0.dashed && $0.endLabel == nil }.compactMap { se -> (Double, Double, String)? in
            guard let last = se.points.last(where: { position($0, fr) != nil }), let (x, y) = position(last, fr) else { return nil }
            return (x, y, se.label)
        }
        return ends.filter { e in ends.contains { o in o.2 != e.2 && abs(o.1 - e.1) < 12 && abs(o.0 - e.0) < 40 } }.map { ($0.0, $0.1, $0.2) }
    }

    /// The legend right of the plot, one line per series (the figure is as tall as it needs).
    func legend(_ shown: [Series], _ fr: Frame) -> String {
        var s = ""
        var ly = fr.top + 6
        let lx = fr.left + fr.pw + 14
        for se in shown {
            let color = Self.color(se.color), dash = Self.pattern(se)
            if se.markers {
                s += marker(lx + 12, ly + 6, se)
            } else {
                s += "<line x1=\"\(f(lx))\" y1=\"\(f(ly + 6))\" x2=\"\(f(lx + 24))\" y2=\"\(f(ly + 6))\" stroke=\"\(color)\" stroke-width=\"2\"\(dash.isEmpty ? "" : " stroke-dasharray=\"\(dash)\"")/>\n"
            }
            s += "<text x=\"\(f(lx + 30))\" y=\"\(f(ly + 10))\" font-size=\"\(Int(Self.legendSize))\">\(Self.escape(se.label + se.suffix))</text>\n"
            ly += Self.legendRow
        }
        return s
    }
}
