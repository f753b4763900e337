extension ElementFormat {
    public static let float32 = ElementFormat.ieeeStyle(exponentBits: 8, mantissaBits: 23, name: "float32")
    public static let float16 = ElementFormat.ieeeStyle(exponentBits: 5, mantissaBits: 10, name: "float16")
    public static let bfloat16 = ElementFormat.ieeeStyle(exponentBits: 8, mantissaBits: 7, name: "bfloat16")
    public static let tf32 = ElementFormat.ieeeStyle(exponentBits: 8, mantissaBits: 10, name: "tf32")
    public static let float8_e4m3fn = ElementFormat(
        name: "float8_e4m3fn", exponentBits: 4, mantissaBits: 3, bias: 7,
        hasInfinity: false, nanEncoding: .allOnes, hasSubnormals: true, isSigned: true)
    public static let float8_e4m3fnuz = ElementFormat(
        name: "float8_e4m3fnuz", exponentBits: 4, mantissaBits: 3, bias: 8,
        hasInfinity: false, nanEncoding: .negativeZero, hasSubnormals: true, isSigned: true)
    public static let float8_e5m2 = ElementFormat.ieeeStyle(exponentBits: 5, mantissaBits: 2, name: "float8_e5m2")
    public static let float8_e5m2fnuz = ElementFormat(
        name: "float8_e5m2fnuz", exponentBits: 5, mantissaBits: 2, bias: 16,
        hasInfinity: false, nanEncoding: .negativeZero, hasSubnormals: true, isSigned: true)
    /// ml_dtypes' float8_e3m4: IEEE-style (Inf, NaN, subnormals), bias 3.
    public static let float8_e3m4 = ElementFormat.ieeeStyle(exponentBits: 3, mantissaBits: 4, name: "float8_e3m4")
    public static let float6_e2m3fn = ElementFormat(
        name: "float6_e2m3fn", exponentBits: 2, mantissaBits: 3, bias: 1,
        hasInfinity: false, nanEncoding: .none, hasSubnormals: true, isSigned: true)
    public static let float6_e3m2fn = ElementFormat(
        name: "float6_e3m2fn", exponentBits: 3, mantissaBits: 2, bias: 3,
        hasInfinity: false, nanEncoding: .none, hasSubnormals: true, isSigned: true)
    public static let float4_e2m1fn = ElementFormat(
        name: "float4_e2m1fn", exponentBits: 2, mantissaBits: 1, bias: 1,
        hasInfinity: false, nanEncoding: .none, hasSubnormals: true, isSigned: true)
    public static let float8_e8m0fnu = ElementFormat(
        name: "float8_e8m0fnu", exponentBits: 8, mantissaBits: 0, bias: 127,
        hasInfinity: false, nanEncoding: .allOnesUnsigned, hasSubnormals: false, isSigned: false)

    /// The named formats, in the order `formats list` prints them.
    public static let named: [ElementFormat] = [
        .float32, .float16, .bfloat16, .tf32, .float8_e4m3fn, .float8_e4m3fnuz, .float8_e5m2,
        .float8_e5m2fnuz, .float8_e3m4, .float6_e2m3fn, .float6_e3m2fn, .float4_e2m1fn,
        .float8_e8m0fnu,
    ]

    /// Aliases; names win over the `eXmY` pattern (`e4m3` is E4M3FN, not IEEE-style).
    public static let aliases: [String: String] = [
        "fp32": "float32", "f32": "float32", "e8m23": "float32",
        "fp16": "float16", "f16": "float16", "half": "float16", "e5m10": "float16",
        "bf16": "bfloat16", "e8m7": "bfloat16",
        "tf32": "tf32", "e8m10": "tf32",
        "e4m3": "float8_e4m3fn", "e4m3fn": "float8_e4m3fn", "fp8_e4m3": "float8_e4m3fn",
        "e4m3fnuz": "float8_e4m3fnuz",
        "e5m2": "float8_e5m2", "fp8_e5m2": "float8_e5m2",
        "e5m2fnuz": "float8_e5m2fnuz",
        "e3m4": "float8_e3m4",
        "e2m3": "float6_e2m3fn", "e2m3fn": "float6_e2m3fn", "fp6_e2m3": "float6_e2m3fn",
        "e3m2": "float6_e3m2fn", "e3m2fn": "float6_e3m2fn", "fp6_e3m2": "float6_e3m2fn",
        "e2m1": "float4_e2m1fn", "e2m1fn": "float4_e2m1fn", "fp4": "float4_e2m1fn",
        "e8m0": "float8_e8m0fnu", "e8m0fnu": "float8_e8m0fnu",
    ]

    /// Looks a format up by name or alias, else parses a custom IEEE-style `eXmY`.
    public static func named(_ name: String) -> ElementFormat? {
        let key = name.lowercased()
        let canonical = aliases[key] ?? key
        if let f = named.first(where: { $0.name == canonical }) { return f }
        return customIEEEStyle(key)
    }

    static func customIEEEStyle(_ s: String) -> ElementFormat? {
        guard s.first == "e", let mIndex = s.firstIndex(of: "m") else { return nil }
        let eText = s[s.index(after: s.startIndex)..<mIndex]
        let mText = s[s.index(after: mIndex)...]
        guard !eText.isEmpty, !mText.isEmpty, eText.allSatisfy(\.isASCII), mText.allSatisfy(\.isASCII),
            let e = Int(eText), let m = Int(mText), (2...8).contains(e), (0...23).contains(m)
        else { return nil }
        return .ieeeStyle(exponentBits: e, mantissaBits: m)
    }
}
