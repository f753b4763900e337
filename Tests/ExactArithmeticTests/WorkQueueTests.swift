import Foundation
import Testing
import ExactArithmetic

/// The one work queue: every item once, in order on one thread, the lowest failure rethrown.
@Suite struct WorkQueueTests {
    final class Log: @unchecked Sendable {
        let lock = NSLock()
        var items: [Int] = [], left: [Int] = []
        func add(_ i: Int, _ l: Int) { lock.lock(); items.append(i); left.append(l); lock.unlock() }
    }

    struct Failure: Error, Equatable { let item: Int }

    @Test func everyItemOnceWithTheItemsLeft() throws {
        for jobs in [1, 3, 64] {
            let log = Log()
            try WorkQueue.run(count: 50, jobs: jobs) { i, left in log.add(i, left) }
            #expect(log.items.sorted() == Array(0..<50), "jobs \(jobs)")
            let pairs = zip(log.items, log.left).map { [$0, $1] }
            #expect(pairs.allSatisfy { $0[0] + $0[1] == 50 })
            if jobs == 1 { #expect(log.items == Array(0..<50)) }
        }
        try WorkQueue.run(count: 0, jobs: 4) { _, _ in Issue.record("no items") }
    }

    /// On one thread, nothing starts after a failure; on any, the lowest failed item's error.
    @Test func failuresStopTheQueue() {
        let log = Log()
        #expect(throws: Failure(item: 3)) {
            try WorkQueue.run(count: 10, jobs: 1) { i, l in log.add(i, l); if i >= 3 { throw Failure(item: i) } }
        }
        #expect(log.items == [0, 1, 2, 3])
        #expect(throws: Failure(item: 0)) {
            let tasks: [() throws -> Void] = [{ throw Failure(item: 0) }, { throw Failure(item: 1) }]
            try WorkQueue.perform(tasks, jobs: 2)
        }
    }
}
