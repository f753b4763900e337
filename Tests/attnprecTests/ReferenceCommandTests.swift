import CLITestSupport
import Foundation
import Testing

/// `attnprec reference certify`: softmax variants and forms certified, a form a variant lacks refused.
@Suite struct ReferenceCommandTests {
    @Test func certifySoftmaxVariants() throws {
        for v in ["mqa", "swa", "moba"] {
            let r = try CLI.run(["reference", "certify", "--variant", v, "--tokens", "256"])
            #expect(r.code == 0, "\(v): \(r.err)")
            #expect(r.out.contains("\"pass\" : true"))
        }
        let chunked = try CLI.run(["reference", "certify", "--variant", "gqa", "--form", "chunked", "--tokens", "128"])
        #expect(chunked.code == 0, "\(chunked.err)")
        let mla = try CLI.run(["reference", "certify", "--variant", "mla", "--form", "chunked", "--tokens", "128"])
        #expect(mla.code == 0, "\(mla.err)")
        #expect(mla.out.contains("\"pass\" : true"))
        let bad = try CLI.run(["reference", "certify", "--variant", "dsa", "--form", "chunked"])
        #expect(bad.code == 2)
    }
}
