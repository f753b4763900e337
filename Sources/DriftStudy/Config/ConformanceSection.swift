import Foundation
import NumberFormats
import Workloads
import Yams

/// One entry of a budgets file's `conformance:` section: a kernel's encoding of a tensor,
/// checked bit for bit against a format spec by `attnprec validate` (as `formats conform`).
///
/// ```yaml
/// conformance:
///   - name: kv-writer-e4m3            # the JUnit test case
///     format: float8_e4m3fn/per-token
///     input: ci/kv.npy                # what the kernel encoded (paths: relative to this file)
///     codes: ci/kv.codes.npy          # what the CI step's kernel wrote
///     scales: ci/kv.scales.npy        # optional: zeros, tensor_scale likewise
/// ```
public struct ConformanceEntry: Sendable, Equatable {
    public var name: String
    public var line: Int
    public var format: String
    public var input: String
    public var codes: String
    public var scales: String?
    public var zeros: String?
    public var tensorScale: String?

    /// Reads and checks the entry's files (errors name the budgets file, line and entry).
    public func load(file: String) throws -> ConformJob {
        let spec = try FormatSpec.parse(format)
        do {
            return try ConformJob.load(spec: spec, input: input, codes: codes, scales: scales, zeros: zeros, tensorScale: tensorScale)
        } catch let e as InputError {
            throw InputError("\(file):\(line): conformance '\(name)': \(e.message)")
        }
    }
}

extension BudgetsFile {
    public static let conformanceKeys = ["name", "format", "input", "codes", "scales", "zeros", "tensor_scale"]
}

extension YAMLReader {
    /// The `conformance:` list; paths are resolved against the budgets file's folder.
    func conformanceSection(_ n: Node) throws -> [ConformanceEntry] {
        let items = try list(n, key: "conformance")
        if items.isEmpty { throw error(n, "conformance", "at least one entry (name, format, input, codes)") }
        let base = URL(fileURLWithPath: file).deletingLastPathComponent()
        func path(_ p: String) -> String { p.hasPrefix("/") ? p : base.appendingPathComponent(p).path }
        var out: [ConformanceEntry] = []
        for (i, item) in items.enumerated() {
            let m = try mapping(item, context: "conformance[\(i + 1)]", allowed: BudgetsFile.conformanceKeys)
            func required(_ key: String, _ what: String) throws -> String {
                guard let v = m[key] else { throw error(item, "conformance[\(i + 1)].\(key)", what) }
                return try string(v, key: "conformance[\(i + 1)].\(key)")
            }
            let name = try required("name", "a name (it names the JUnit test case)")
            if out.contains(where: { $0.name == name }) { throw error(item, "conformance[\(i + 1)].name", "unique names, '\(name)' repeats") }
            let format = try required("format", "a format spec (e.g. float8_e4m3fn/per-token)")
            do { _ = try FormatSpec.parse(format) } catch { throw StudyInputError("\(file):\(line(m["format"]!)): conformance '\(name)': format: \(error)") }
            let optional = { (key: String) throws -> String? in try m[key].map { path(try self.string($0, key: "conformance[\(i + 1)].\(key)")) } }
            out.append(ConformanceEntry(
                name: name, line: line(item), format: format, input: path(try required("input", "the .npy the kernel encoded")),
                codes: path(try required("codes", "the kernel's codes (.npy)")), scales: try optional("scales"), zeros: try optional("zeros"),
                tensorScale: try optional("tensor_scale")))
        }
        return out
    }
}
