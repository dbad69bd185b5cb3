import CCurl
import Foundation
import Logging
import Synchronization

/// A curl multi handle driven by one dedicated thread.
///
/// Why one thread with a multi handle rather than a pool of threads blocking in
/// `curl_easy_perform`: provider calls are long (seconds of model time, minutes of token
/// streaming) and mostly idle, so a pool would need a thread per concurrent call or make
/// calls queue behind each other. The multi interface waits on all sockets at once in
/// `curl_multi_poll`, shares connections (and TLS sessions) between calls, and lets another
/// thread interrupt the wait with `curl_multi_wakeup` to add, cancel or resume a transfer.
/// The work done on the thread is callbacks copying bytes, so one thread keeps up with far
/// more traffic than the providers produce. Nothing here ever blocks an event loop or a
/// Swift concurrency thread: callers only take a mutex and wake the curl thread.
///
/// Everything but ``submit(_:)``, ``cancel(_:)``, ``resume(_:)`` and ``shutdown()`` runs on
/// the curl thread; the properties marked as such are confined to it, which is why the class
/// is `@unchecked Sendable`.
final class CurlMultiLoop: @unchecked Sendable {
    private enum Command {
        case add(CurlTransfer)
        case cancel(CurlTransfer)
        case resume(CurlTransfer)
    }

    private struct Inbox {
        var commands: [Command] = []
        var shuttingDown = false
    }

    /// `CURLM *`. Valid until `deinit`: every caller of `curl_multi_wakeup` holds a reference
    /// to this object, so the handle cannot be cleaned up under it.
    private let multi: UnsafeMutableRawPointer
    private let inbox = Mutex(Inbox())
    private let logger: Logger

    /// Curl thread only: transfers whose handle is in the multi, by easy handle.
    private var active: [UnsafeMutableRawPointer: CurlTransfer] = [:]

    /// `curl_global_init` is not safe to run concurrently with other curl calls, and must run
    /// once per process; a `static let` initializer runs exactly once, under a lock.
    private static let globalInitResult: Int32 = Int32(bitPattern: curl_global_init(OVA_CURL_GLOBAL_DEFAULT).rawValue)

    init(logger: Logger) {
        _ = Self.globalInitResult
        guard let multi = curl_multi_init() else {
            // Only fails when malloc does: nothing sensible is left to do.
            fatalError("curl_multi_init failed")
        }
        self.multi = multi
        self.logger = logger
        let thread = Thread { [self] in
            self.run()
        }
        thread.name = "ova-curl"
        thread.start()
    }

    deinit {
        curl_multi_cleanup(self.multi)
    }

    // MARK: - Any thread

    /// Hands `transfer` to the curl thread. Returns false, without taking it, after
    /// ``shutdown()``.
    func submit(_ transfer: CurlTransfer) -> Bool {
        self.send(.add(transfer))
    }

    /// Aborts `transfer`: the curl thread removes its handle (closing its connection) and
    /// finishes it with ``ProviderError/cancelled``. Harmless if it already finished.
    func cancel(_ transfer: CurlTransfer) {
        // Set first: if the add is still queued, the loop sees the flag when it gets there.
        transfer.cancelRequested.store(true, ordering: .relaxed)
        _ = self.send(.cancel(transfer))
    }

    /// Resumes a transfer paused by its write callback.
    func resume(_ transfer: CurlTransfer) {
        _ = self.send(.resume(transfer))
    }

    /// Stops the thread: running and queued transfers finish with ``ProviderError/cancelled``.
    func shutdown() {
        self.inbox.withLock { inbox in
            inbox.shuttingDown = true
            _ = curl_multi_wakeup(self.multi)
        }
    }

    private func send(_ command: Command) -> Bool {
        self.inbox.withLock { inbox in
            guard !inbox.shuttingDown else { return false }
            inbox.commands.append(command)
            _ = curl_multi_wakeup(self.multi)
            return true
        }
    }

    // MARK: - Curl thread

    private func run() {
        while true {
            let (commands, shuttingDown) = self.inbox.withLock { inbox in
                defer { inbox.commands = [] }
                return (inbox.commands, inbox.shuttingDown)
            }
            for command in commands {
                self.handle(command)
            }
            if shuttingDown {
                for (easy, transfer) in self.active {
                    curl_multi_remove_handle(self.multi, easy)
                    transfer.finish(.failure(.cancelled))
                }
                self.active = [:]
                return
            }
            var running: Int32 = 0
            let performed = curl_multi_perform(self.multi, &running)
            if performed != CURLM_OK {
                self.logger.warning("curl_multi_perform failed", metadata: ["error": "\(Self.describe(performed))"])
            }
            self.collectFinished()
            // curl shortens the wait to its own next timeout (connect, total, retries), and
            // `curl_multi_wakeup` ends it early; the bound is only a safety net.
            let polled = curl_multi_poll(self.multi, nil, 0, self.active.isEmpty ? 10_000 : 1_000, nil)
            if polled != CURLM_OK {
                // Only out-of-memory or a broken wakeup pipe get here; back off rather than spin.
                self.logger.warning("curl_multi_poll failed", metadata: ["error": "\(Self.describe(polled))"])
                usleep(10_000)
            }
        }
    }

    private func handle(_ command: Command) {
        switch command {
        case .add(let transfer):
            guard !transfer.cancelRequested.load(ordering: .relaxed) else {
                transfer.finish(.failure(.cancelled))
                return
            }
            let code = curl_multi_add_handle(self.multi, transfer.easy)
            guard code == CURLM_OK else {
                transfer.finish(.failure(.connect(Self.describe(code))))
                return
            }
            self.active[transfer.easy] = transfer
        case .cancel(let transfer):
            // Removing a handle mid-transfer makes curl close its connection, which is how
            // the upstream learns the answer is no longer wanted.
            guard self.active.removeValue(forKey: transfer.easy) != nil else { return }
            curl_multi_remove_handle(self.multi, transfer.easy)
            transfer.finish(.failure(.cancelled))
        case .resume(let transfer):
            guard self.active[transfer.easy] != nil else { return }
            // May call the write callback right away, which may pause again: both fine here.
            _ = curl_easy_pause(transfer.easy, OVA_CURLPAUSE_CONT)
        }
    }

    private static func describe(_ code: CURLMcode) -> String {
        String(cString: curl_multi_strerror(code))
    }

    private func collectFinished() {
        var remaining: Int32 = 0
        while let message = curl_multi_info_read(self.multi, &remaining) {
            guard message.pointee.msg == CURLMSG_DONE, let easy = message.pointee.easy_handle else { continue }
            let code = ova_curl_msg_result(message)
            guard let transfer = self.active.removeValue(forKey: easy) else { continue }
            curl_multi_remove_handle(self.multi, easy)
            transfer.complete(code: code)
        }
    }
}
