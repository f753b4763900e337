import Dispatch
import Foundation

/// The one work queue of the package: items 0..<count taken in order by `jobs` threads (each
/// free thread takes the next item). Studies, budgets and scenarios run their groups or records
/// through it, the lockstep engine its block tasks, replay its runs. Results never depend on
/// `jobs`: an item's work must not depend on which thread runs it or on what ran before it.
public enum WorkQueue {
    /// Runs `body(item, left)` for every item, where `left` counts the items not yet taken when
    /// it was taken (itself included). After an item throws, no further item starts; the error
    /// of the lowest failed item is rethrown once the running ones have finished.
    public static func run(count: Int, jobs: Int, _ body: @escaping @Sendable (_ item: Int, _ left: Int) throws -> Void) throws {
        let state = State()
        let worker: @Sendable () -> Void = {
            while true {
                state.lock.lock()
                if state.failed != nil || state.next >= count { state.lock.unlock(); return }
                let i = state.next
                state.next += 1
                state.lock.unlock()
                do { try body(i, count - i) } catch {
                    state.lock.lock()
                    if state.failed.map({ i < $0.item }) ?? true { state.failed = (i, error) }
                    state.lock.unlock()
                }
            }
        }
        let n = max(1, min(jobs, count))
        if n == 1 { worker() } else { DispatchQueue.concurrentPerform(iterations: n) { _ in worker() } }
        if let f = state.failed { throw f.error }
    }

    /// Runs `tasks` on up to `jobs` threads, or in order on this one.
    public static func perform(_ tasks: [() -> Void], jobs: Int) {
        let box = Tasks(tasks)
        try? run(count: tasks.count, jobs: jobs) { i, _ in box.tasks[i]() }
    }

    /// The same for tasks that may fail (`run`'s rules: the lowest failed task's error).
    public static func perform(_ tasks: [() throws -> Void], jobs: Int) throws {
        let box = ThrowingTasks(tasks: tasks)
        try run(count: tasks.count, jobs: jobs) { i, _ in try box.tasks[i]() }
    }

    final class State: @unchecked Sendable {
        let lock = NSLock()
        var next = 0
        var failed: (item: Int, error: Error)?
    }

    /// Tasks shared with the threads (each touches only what its caller gave it).
    struct Tasks: @unchecked Sendable {
        let tasks: [() -> Void]
        init(_ tasks: [() -> Void]) { self.tasks = tasks }
    }

    struct ThrowingTasks: @unchecked Sendable {
        let tasks: [() throws -> Void]
    }
}
