import CLITestSupport
import Foundation
import Testing

/// `attnprec variants`: the softmax variants' cache bytes for a recipe, bad recipes exit 2.
@Suite struct VariantsCommandTests {
    @Test func variantsListShowsCacheBytesForTheRecipe() throws {
        let r = try CLI.run(["variants", "list", "--recipe", "k_cache=float8_e4m3fn/per-token,v_cache=float8_e4m3fn/per-token"])
        #expect(r.code == 0, "\(r.err)")
        #expect(Self.bytes(r.out, "mha") == "136")  // 2 × (64 e4m3 + 4-byte scale)
        #expect(Self.bytes(r.out, "mla") == "no k_cache")
        let mla = try CLI.run(["variants", "list", "--recipe", "latent=float8_e4m3fn/block:128,rope_cache=bfloat16"])
        #expect(Self.bytes(mla.out, "mla") == "656")
    }

    /// The last cell of the table row of `variant`.
    static func bytes(_ table: String, _ variant: String) -> String? {
        for line in table.split(separator: "\n") {
            let cells = line.split(separator: "|").map { $0.trimmingCharacters(in: .whitespaces) }
            if cells.first == variant { return cells.last }
        }
        return nil
    }

    @Test func badRecipeExits2() throws {
        let r = try CLI.run(["variants", "list", "--recipe", "kv=bfloat16"])
        #expect(r.code == 2)
        #expect(r.err.contains("unknown role 'kv'"))
        #expect(r.err.split(separator: "\n").count == 1)
    }
}
