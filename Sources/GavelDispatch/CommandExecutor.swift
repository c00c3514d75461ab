import Foundation
import GavelCore
import Glibc

/// Runs a command action: `posix_spawn(3)` of `argv[0]` with `argv` exactly as given, never
/// through a shell, so a target such as `$(touch x)` or `a; rm -rf /` stays one inert argument
/// (hardening checklist D2).
///
/// The child gets a process group of its own (`POSIX_SPAWN_SETPGROUP`, pgid = its pid), stdin
/// from `/dev/null`, stdout and stderr into two pipes, no other inherited descriptors, default
/// signal dispositions, an empty signal mask and exactly the environment of
/// `CommandDispatchRequest.childEnvironment`: `PATH` (the action's `path`, default
/// `/usr/bin:/bin`), the variables its `pass_env` names taken from gavel's environment when the
/// command runs, and `GAVEL_IDEMPOTENCY_KEY=<key>` — nothing else (no `HOME`, no credentials
/// unless passed). Output is read as it comes: the first 64 KiB of stdout are kept (4096 bytes
/// become the excerpt, the response a revert can read), and the last 2048 bytes of stderr
/// (`stderrTail`, shown with the attempt); the rest is read and dropped so the child never
/// blocks on a full pipe. At the deadline the whole process group is killed with `SIGKILL` and
/// the child reaped (checklist D4). When the child exits on its own, anything it left running in
/// its process group is killed as well, so no stray process outlives a dispatch.
public struct CommandExecutor: Sendable {
    /// Where passed variables are read from when a command runs (nil: this process's environment).
    let environment: [String: String]?

    /// Creates a command executor that passes variables from this process's environment.
    public init() { environment = nil }

    /// Creates a command executor that passes variables from `environment` instead (tests).
    public init(environment: [String: String]) { self.environment = environment }

    /// Runs the command and waits for it, at most `request.timeoutSeconds`.
    /// - Returns: `.success` (status 0) on exit 0; `.retryable` with the exit status and
    ///   `"exit N"` on a non-zero exit, `"killed by signal N"`, or `"timeout after N s"`
    ///   (the action's `maxRetries` decides whether it is retried); `.permanent` when `argv` is
    ///   empty, `argv[0]` is not an absolute path, an argument or the key contains NUL, the
    ///   timeout is not a positive number, or the program cannot be executed (`ENOENT`,
    ///   `EACCES`, `ENOEXEC`…).
    public func execute(_ request: CommandDispatchRequest, idempotencyKey: String) -> DispatchOutcome {
        let watch = Stopwatch()
        func refuse(_ reason: String) -> DispatchOutcome {
            DispatchOutcome(kind: .permanent, error: reason, durationMs: watch.elapsedMs)
        }
        guard let program = request.argv.first else { return refuse("empty argv") }
        guard program.hasPrefix("/") else { return refuse("program path is not absolute: \(program)") }
        guard !request.argv.contains(where: { $0.utf8.contains(0) }) else { return refuse("argument contains NUL") }
        guard !idempotencyKey.utf8.contains(0) else { return refuse("idempotency key contains NUL") }
        guard request.timeoutSeconds.isFinite, request.timeoutSeconds > 0 else {
            return refuse("timeout must be a positive number of seconds")
        }
        let environment = request.childEnvironment(from: self.environment ?? ProcessInfo.processInfo.environment, idempotencyKey: idempotencyKey)

        let child: SpawnedChild
        switch SpawnedChild.spawn(argv: request.argv, environment: environment) {
        case .success(let spawned): child = spawned
        case .failure(let failure):
            let kind: DispatchOutcome.Kind = failure.isPermanent ? .permanent : .retryable
            return DispatchOutcome(kind: kind, error: failure.description, durationMs: watch.elapsedMs)
        }
        let ended = child.wait(timeoutSeconds: request.timeoutSeconds)
        let excerpt = ended.output.stdout.excerpt
        let stderr = ended.output.stderr
        let ms = watch.elapsedMs
        /// A failure's error with the last line the command wrote to stderr: `exit 3 (stderr: …)`.
        func failed(_ error: String, status: Int? = nil) -> DispatchOutcome {
            DispatchOutcome(
                kind: .retryable, status: status, error: error + (stderr.lastLine.map { " (stderr: \($0))" } ?? ""),
                responseExcerpt: excerpt, durationMs: ms, stderrTail: stderr.text)
        }
        switch ended.termination {
        case .timedOut: return failed("timeout after \(formatSeconds(request.timeoutSeconds)) s")
        case .exited(0): return DispatchOutcome(kind: .success, status: 0, responseExcerpt: excerpt, durationMs: ms, stderrTail: stderr.text)
        case .exited(let code): return failed("exit \(code)", status: Int(code))
        case .signaled(let signal): return failed("killed by signal \(signal)")
        case .unknown: return failed("exit status unknown (the process was reaped elsewhere)")
        }
    }
}
