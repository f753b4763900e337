import ArgumentParser
import AttentionVariants

struct ProfilesCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "profiles",
        abstract: "Kernel profiles: what a real kernel rounds (compute and storage store points, blocks).",
        subcommands: [List.self, Show.self], defaultSubcommand: List.self)

    struct List: ParsableCommand {
        static let configuration = CommandConfiguration(abstract: "List the kernel profiles (usable as `kernel: NAME` in recipes, `--kernel NAME` in replay).")
        func run() {
            print("profile              form       checked     summary")
            for p in KernelProfile.all { print(p.listLine) }
        }
    }

    struct Show: ParsableCommand {
        static let configuration = CommandConfiguration(abstract: "Show one profile's store points, blocks, source and check.")
        @Argument(help: "Profile name.") var name: String
        func run() throws { print(try KernelProfile.named(name).details) }
    }
}
