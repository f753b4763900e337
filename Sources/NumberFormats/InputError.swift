/// Bad input: a format spec, a config, a tensor file, a flag or a variant's parameters that
/// cannot be used, said in one line that names where it is and what was expected.
///
/// Every module throws this one type for input the user can fix (the names `FormatSpecError`,
/// `TensorFileError`, `VariantError` and `StudyInputError` stand for it); the command line
/// prints its message and exits with code 2, in one place (`AttnPrec.main`).
public struct InputError: Error, CustomStringConvertible, Equatable, Sendable {
    public let message: String
    public init(_ message: String) { self.message = message }
    public var description: String { message }
}
