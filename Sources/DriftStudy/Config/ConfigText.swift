import Foundation

/// The text of a YAML input file (study config, budgets, scenario config), or one line saying
/// why there is none: missing, a directory, not a regular file, unreadable, not UTF-8.
enum ConfigText {
    /// `what` names the file in the message ("config file", "budgets file").
    static func read(_ path: String, what: String) throws -> String {
        var isDirectory: ObjCBool = false
        guard FileManager.default.fileExists(atPath: path, isDirectory: &isDirectory) else {
            throw StudyInputError("\(path): no such \(what)")
        }
        if isDirectory.boolValue { throw StudyInputError("\(path): is a directory, expected a \(what)") }
        guard let data = FileManager.default.contents(atPath: path) else {
            throw StudyInputError("\(path): cannot read the \(what) (permission denied or not a regular file)")
        }
        guard let text = String(data: data, encoding: .utf8) else { throw StudyInputError("\(path): not UTF-8 text") }
        return text
    }
}

extension StudyConfig {
    /// The text of a YAML input file, or one line saying why there is none (for the other
    /// modules' configs).
    public static func readText(_ path: String, what: String = "config file") throws -> String {
        try ConfigText.read(path, what: what)
    }
}
