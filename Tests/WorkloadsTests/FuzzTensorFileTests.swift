import CLITestSupport
import Foundation
import NumberFormats
import Testing
@testable import Workloads

/// The `.npy` and `.safetensors` readers against the reference readers' verdicts (the oracle
/// corpus that scripts/make-fuzz-oracle.py labelled once with NumPy 2.2.6 and safetensors
/// 0.7.0), then seeded mutation fuzzing: every input gives a value or a one-line InputError,
/// quickly.
@Suite struct FuzzTensorFileTests {
    struct Case {
        var kind: String, name: String, accepted: Bool, shape: [Int]?, names: [String]?, bytes: [UInt8]
    }

    static let cases: [Case] = {
        let path = URL(fileURLWithPath: #filePath).deletingLastPathComponent().appendingPathComponent("Fixtures/fuzz-oracle.jsonl").path
        let text = (try? String(contentsOfFile: path, encoding: .utf8)) ?? ""
        return text.split(separator: "\n").compactMap { line in
            guard let o = try? JSONSerialization.jsonObject(with: Data(line.utf8)) as? [String: Any],
                  let b = Data(base64Encoded: o["b64"] as? String ?? "") else { return nil }
            return Case(kind: o["kind"] as! String, name: o["case"] as! String, accepted: o["reference"] as? String == "accept",
                        shape: o["shape"] as? [Int], names: o["names"] as? [String], bytes: [UInt8](b))
        }
    }()

    /// Where attnprec refuses what the reference accepts, the message holds one of these (each
    /// a rule in the README's "Stricter than the references" list).
    static let stricter: [String: [String]] = [
        "npy": ["unsupported dtype", "is given twice", "bytes but shape", "non-negative decimal integers", "escapes and line breaks",
                "leading zero", "a parenthesised integer", "comments are not supported"],
        "safetensors": ["but not read here", "is given twice", "unknown key", "does not start with '{'", "expected an object {dtype"],
    ]

    /// nil when `bytes` read; else the one-line message. Anything but an InputError is a failure.
    static func verdict(_ kind: String, _ bytes: [UInt8]) -> (shape: [Int]?, names: [String]?, error: String?) {
        do {
            if kind == "npy" {
                let v = try NPY.view(TensorBytes(Data(bytes)), path: "case.npy")
                return (v.shape, nil, nil)
            }
            return (nil, try SafeTensors.parse(TensorBytes(Data(bytes)), path: "case.safetensors").names, nil)
        } catch let e as InputError {
            return (nil, nil, e.message)
        } catch {
            return (nil, nil, "NOT AN INPUTERROR: \(error)")
        }
    }

    @Test func oracleCorpusAgreesWithNumPyAndSafetensors() {
        #expect(Self.cases.count >= 400)
        var counts = (agree: 0, stricter: 0)
        for c in Self.cases {
            let ours = Self.verdict(c.kind, c.bytes)
            if let e = ours.error {
                #expect(!e.contains("\n") && !e.hasPrefix("NOT AN"), "\(c.name): \(e)")
                if c.accepted {
                    let listed = Self.stricter[c.kind]!.contains { e.contains($0) }
                    #expect(listed, "\(c.kind) \(c.name): the reference accepts; we refuse for an unlisted reason: \(e)")
                    counts.stricter += 1
                } else { counts.agree += 1 }
            } else {
                #expect(c.accepted, "\(c.kind) \(c.name): accepted here, refused by the reference")
                if c.kind == "npy" { #expect(ours.shape == c.shape, "\(c.name): shape \(ours.shape ?? []) vs NumPy's \(c.shape ?? [])") }
                else { #expect(ours.names == c.names, "\(c.name): names \(ours.names ?? []) vs \(c.names ?? [])") }
                counts.agree += 1
            }
        }
        print("oracle: \(Self.cases.count) cases, \(counts.agree) same verdict, \(counts.stricter) listed stricter refusals")
    }

    static func seeds(_ kind: String) -> [[UInt8]] { cases.filter { $0.kind == kind }.map(\.bytes) }

    @Test func fuzzNPY() {
        let tokens = ["'descr'", "'shape'", "'fortran_order'", "<f4", ">f8", "|O", "True", "False", "(", ")", ",", "{", "}", "'", "\"", "\n",
                      "L", "-1", "0", "99999999999999999999", "#", "\\", "'shape': (1,), ", "1.5", "0x10", "1_0", "\u{0}"].map { Array($0.utf8) }
        let report = Fuzz.run("npy", seed: 1, seeds: Self.seeds("npy"), tokens: tokens, ciSeconds: 3) { b in
            let v = Self.verdict("npy", b)
            if let e = v.error { return e.hasPrefix("NOT AN") || e.contains("\n") ? .problem(e) : .refused }
            // The whole-array reader agrees with the mapped view on what it reads.
            if let a = try? NPY.parse(Data(b), path: "case.npy"), a.shape != v.shape { return .problem("NPY.parse shape \(a.shape) vs view \(v.shape!)") }
            return .accepted
        }
        #expect(report.problems.isEmpty, "\(report.problems)")
    }

    @Test func fuzzSafeTensors() {
        let tokens = ["\"dtype\"", "\"shape\"", "\"data_offsets\"", "\"__metadata__\"", "\"F32\"", "\"U8\"", "\"I64\"", "[", "]", "{", "}", ",",
                      ":", "\"", "0", "1", "8", "-1", "1.0", "1e2", "null", "true", "\\u0071", "\\ud800", " ", "\u{0}", "18446744073709551616",
                      "\"q\":{\"dtype\":\"U8\",\"shape\":[1],\"data_offsets\":[0,1]},"].map { Array($0.utf8) } + [[0xFF], [0xC0, 0x80]]
        let report = Fuzz.run("safetensors", seed: 2, seeds: Self.seeds("safetensors"), tokens: tokens, ciSeconds: 3) { b in
            let v = Self.verdict("safetensors", b)
            if let e = v.error { return e.hasPrefix("NOT AN") || e.contains("\n") ? .problem(e) : .refused }
            return .accepted
        }
        #expect(report.problems.isEmpty, "\(report.problems)")
    }
}
