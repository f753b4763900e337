import DriftStudy

/// One kind of results rendered into a report folder from the results alone (the shape of
/// google/swift-benchmark's reporters): `report.md` and the plots and tables it links. Each
/// reporter is a caseless enum over its record type; the CLI's `run` and `report` commands go
/// through it, and a new kind of results is one more conforming type.
public protocol Reporter {
    /// One line of the results file the report is made from.
    associatedtype Record
    /// The provenance printed beside the records (`run.json`'s contents).
    associatedtype Provenance
    /// Writes the report of `records` into `dir`; returns the path of its `report.md`.
    @discardableResult
    static func write(records: [Record], runInfo: Provenance, to dir: String, title: String) throws -> String
}

extension StudyReport: Reporter {}
