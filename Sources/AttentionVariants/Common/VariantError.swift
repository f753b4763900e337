import NumberFormats

/// A variant's parameters or recipe that cannot be run: bad input (exit code 2).
public typealias VariantError = InputError
