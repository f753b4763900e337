import Foundation

/// Text tables for `formats list` and `formats show`.
public enum FormatTables {
    static func g(_ x: Double) -> String {
        if x == 0 { return "0" }
        let e = Int(Foundation.log2(x))
        if Double(sign: .plus, exponent: e, significand: 1) == x && (e < -4 || e > 16) { return "2^\(e)" }
        return String(format: "%.8g", x)
    }

    static func specials(_ f: ElementFormat) -> String {
        switch f.nanEncoding {
        case .ieee: return "IEEE (Inf, NaN)"
        case .allOnes: return "no Inf; NaN = S.1…1 only"
        case .negativeZero: return "no Inf, no −0; NaN = 0x\(String(1 << (f.bitWidth - 1), radix: 16, uppercase: true))"
        case .none: return "no Inf, no NaN"
        case .allOnesUnsigned: return "unsigned, no zero; NaN = 0x\(String((1 << f.bitWidth) - 1, radix: 16, uppercase: true))"
        }
    }

    public static func elementTable() -> String {
        var rows = [["name", "aliases", "bits", "e/m", "bias", "max finite", "min normal", "min subnormal", "specials", "overflow"]]
        for f in ElementFormat.named {
            let aliases = ElementFormat.aliases.filter { $0.value == f.name }.map(\.key).sorted().joined(separator: " ")
            rows.append([
                f.name, aliases, "\(f.bitWidth)", "\(f.exponentBits)/\(f.mantissaBits)", "\(f.bias)",
                g(f.maxFinite), g(f.minNormal), f.minSubnormal.map(g) ?? "—", specials(f), f.defaultOverflow.rawValue,
            ])
        }
        return markdownTable(rows)
    }

    public static func familyTable() -> String {
        var rows = [["family", "element", "granularity", "scale", "bits/element (incl. scales)"]]
        for name in FormatSpec.familyNames {
            let s = try! FormatSpec.parse(name)
            let element: String
            switch s.element {
            case .float(let f): element = f.name
            case .integer(let b, let k): element = "int\(b) \(k == .symmetric ? "symmetric" : "asymmetric")"
            }
            let shape = [1, 128]
            rows.append([name, element, s.granularity?.description ?? "—", s.scaleRule?.description ?? "—",
                String(format: "%.4g (row of 128)", s.bitsPerElement(shape: shape))])
        }
        return markdownTable(rows)
            + "\nAny element format also takes a granularity (per-tensor, per-head, per-token, per-channel, block:N, group:N) and a scale rule (absmax, pow2, fixed:S), e.g. float8_e4m3fn/per-token, float8_e4m3fn/block:128/pow2."
    }

    public static func markdownTable(_ rows: [[String]]) -> String {
        let widths = (0..<rows[0].count).map { c in rows.map { $0[c].count }.max()! }
        func line(_ r: [String]) -> String {
            "| " + r.enumerated().map { $0.element.padding(toLength: widths[$0.offset], withPad: " ", startingAt: 0) }.joined(separator: " | ") + " |"
        }
        var out = [line(rows[0]), "|" + widths.map { String(repeating: "-", count: $0 + 2) }.joined(separator: "|") + "|"]
        out += rows.dropFirst().map(line)
        return out.joined(separator: "\n")
    }

    public static func show(_ s: FormatSpec) -> String {
        var lines: [String] = ["spec: \(s)"]
        switch s.element {
        case .float(let f):
            let r = ElementRounder(format: f, rounding: .nearestEven, overflow: s.overflow)
            let finite = (0..<min(f.codeCount, 1 << 16)).filter { r.decodeDouble(UInt32($0)).isFinite }.count
            lines += [
                "element: \(f.name)",
                "bits: \(f.bitWidth) (sign \(f.isSigned ? 1 : 0), exponent \(f.exponentBits), mantissa \(f.mantissaBits))",
                "bias: \(f.bias)",
                "max finite: \(g(f.maxFinite))  (code 0x\(String(r.encode(Float(f.maxFinite)), radix: 16, uppercase: true)))",
                "emax (largest power of two ≤ max): 2^\(f.maxExponent)",
                "min normal: \(String(format: "%.8g", f.minNormal)) = 2^\(f.minNormalExponent)",
                "min subnormal: \(f.minSubnormal.map { "\(String(format: "%.8g", $0)) = 2^\(f.minNormalExponent - f.mantissaBits)" } ?? "none")",
                "unit roundoff u: 2^-\(f.mantissaBits + 1) = \(String(format: "%.6g", f.unitRoundoff))",
                "specials: \(specials(f))",
                "infinity: \(f.hasInfinity ? "yes" : "no"); NaN: \(f.hasNaN ? "yes (code 0x\(String(r.nanCode(negative: false), radix: 16, uppercase: true)))" : "no"); subnormals: \(f.hasSubnormals ? "yes" : "no"); negative zero: \(f.hasNegativeZero ? "yes" : "no")",
                f.codeCount <= 1 << 16 ? "finite values: \(finite) of \(f.codeCount) codes" : "codes: 2^\(f.bitWidth)",
            ]
        case .integer(let b, let k):
            lines += ["element: int\(b) \(k == .symmetric ? "symmetric, codes ±\((1 << (b - 1)) - 1) (two's complement)" : "asymmetric, codes 0…\((1 << b) - 1) with a per-scale minimum")"]
        }
        lines.append("granularity: \(s.granularity?.description ?? "none (each element rounded directly)")")
        if let r = s.scaleRule { lines.append("scale rule: \(r)  (\(s.scaleStorageBits)-bit scales)") }
        lines.append("rounding: \(s.rounding)")
        lines.append("overflow: \(s.overflow.rawValue)\(s.flushSubnormals ? ", subnormals flushed" : "")")
        if s.granularity != nil {
            lines.append(String(format: "bits/element incl. scales: %.4g for a [1, 128] row, %.4g for [32, 128]",
                s.bitsPerElement(shape: [1, 128]), s.bitsPerElement(shape: [32, 128])))
        } else {
            lines.append("bits/element: \(s.bitsPerElement(shape: [1]))")
        }
        return lines.joined(separator: "\n")
    }
}
