import Foundation

/// Text extents for SVG layout. GitHub shows an SVG through `<img>`, so its text is set in the
/// viewer's fonts: every plot names `fontFamily`, and layout (and the tests) measure text with
/// the widest metrics of that family — DejaVu Sans Bold's advance widths (Verdana's are
/// within a few percent), one em for any character outside ASCII.
public enum SVGText {
    public static let fontFamily = "DejaVu Sans, Verdana, sans-serif"

    /// Advance widths in em of U+0020…U+007E (DejaVu Sans Bold, hmtx / unitsPerEm).
    static let ascii: [Double] = [0.348,0.456,0.521,0.838,0.696,1.002,0.872,0.306,0.457,0.457,0.523,0.838,0.380,0.415,0.380,0.365,0.696,0.696,0.696,0.696,0.696,0.696,0.696,0.696,0.696,0.696,0.400,0.400,0.838,0.838,0.838,0.580,1.000,0.774,0.762,0.734,0.830,0.683,0.683,0.821,0.837,0.372,0.372,0.775,0.637,0.995,0.837,0.850,0.733,0.850,0.770,0.720,0.682,0.812,0.774,1.103,0.771,0.724,0.725,0.457,0.365,0.457,0.838,0.500,0.500,0.675,0.716,0.593,0.716,0.678,0.435,0.716,0.712,0.343,0.343,0.665,0.343,1.042,0.712,0.687,0.716,0.716,0.493,0.595,0.478,0.712,0.652,0.924,0.645,0.652,0.582,0.712,0.365,0.712,0.838]

    /// The width of `s` set at `size` px.
    public static func width(_ s: String, size: Double) -> Double {
        s.unicodeScalars.reduce(0.0) { acc, u in
            let v = Int(u.value)
            return acc + ((32...126).contains(v) ? ascii[v - 32] : 1.0) * size
        }
    }
}
